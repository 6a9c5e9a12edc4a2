/**
 * Event delivery states waiting to be shown in Odoo (logistics.bridge.api.apply_event_states): one
 * row per event, replaced by the event's next state while unsent, kept durably like milestones until
 * Odoo answered it; a state Odoo refuses is a write-back dead letter (`writeback:state:<event id>`).
 */
import type { QueueRow } from './row-queue.ts';

/** An event's delivery state as the bridge shows it to Odoo. */
export interface EventState {
  /** The event id. */
  id: string;
  state: string;
  /** Partner calls made for the event. */
  attempts: number;
  last_error?: string;
  error_class?: string;
  blocked_by?: string;
  /** When the bridge recorded this state (RFC 3339): Odoo never moves a state backwards by it. */
  at: string;
}

/** A queued state: the item and its queue fields (the aggregate is the event). */
export interface StateRow extends QueueRow {
  item: EventState;
}

/** The dead-letter id prefix of states (after `writeback:`), kept apart from milestone ids. */
export const STATE_PREFIX = 'state:';

/** Reads a row as stored, also by a version that kept the bare state as the row. */
export function upgradeStateRow(stored: any): StateRow {
  if (stored && typeof stored.item === 'object') return stored as StateRow;
  const at = typeof stored?.at === 'string' ? stored.at : new Date(0).toISOString();
  return { id: stored.id, item: stored as EventState, aggregate: stored.id, seq: 0, attempts: 0, run_at: at, state: 'pending', created_at: at, updated_at: at };
}

/** Odoo's answer per item: `rejected` (malformed) is a dead letter; applied, duplicate, stale and unknown are answers. */
export interface StateResult {
  id?: string | null;
  status?: string;
  message?: string;
}
