/** Dead-letter entries as operators see them: the engine's failed jobs and Odoo-refused milestones and event states, filtered and paged. */
import type { OutboxRow } from '../odoo/outbox.ts';
import { STATE_PREFIX, type StateRow } from '../odoo/state-queue.ts';

/** Filter for dead-letter lists and bulk replays. */
export interface DeadLetterFilter {
  kind?: 'event' | 'publish' | 'writeback' | 'void';
  state?: 'dead' | 'manual';
  partner?: string;
  type?: string;
  aggregate?: string;
  error_class?: 'technical' | 'business';
  reason?: string;
  /** Only entries that went dead at or after / before these times (RFC 3339). */
  since?: string;
  until?: string;
}

/** One entry of the dead-letter queue as operators see it. */
export interface DeadLetter {
  /** Event id, `<milestone id>~<partner>` (publish), `<event id>~void:<partner>` (void check), `writeback:<milestone id>` or `writeback:state:<event id>`. */
  id: string;
  kind: 'event' | 'publish' | 'writeback' | 'void';
  /** dead: failed; manual: no partner could take it, a person decides. */
  state: 'dead' | 'manual';
  type: string;
  aggregate: string;
  event_id?: string;
  error_class: 'technical' | 'business';
  reason?: string;
  last_error: string;
  partners: string[];
  attempts: number;
  keys: string[];
  dead_at: string;
  replays: number;
  /** Later events of the same aggregate it holds back. */
  blocking: string[];
  /** The event or milestone (with an operator's edited payload, if any). */
  body?: unknown;
}

/** What a dead-letter id names: the failed jobs of a subject (event, publish, void check) or an Odoo-refused milestone. */
export type DeadLetterRef = { kind: 'jobs'; subject: string } | { kind: 'writeback'; milestoneId: string };

const WRITEBACK_PREFIX = 'writeback:';

/** The dead-letter id of a milestone Odoo refused. */
export const writebackDeadLetterId = (milestoneId: string) => `${WRITEBACK_PREFIX}${milestoneId}`;

/** Reads a dead-letter id (as the API and the dashboard pass it). */
export function parseDeadLetterId(id: string): DeadLetterRef {
  return id.startsWith(WRITEBACK_PREFIX) ? { kind: 'writeback', milestoneId: id.slice(WRITEBACK_PREFIX.length) } : { kind: 'jobs', subject: id };
}

/** A milestone Odoo refused, as a dead letter. */
export function writebackView(row: OutboxRow): DeadLetter {
  return {
    id: writebackDeadLetterId(row.id), kind: 'writeback', state: 'dead', type: row.milestone.type, aggregate: row.milestone.aggregate,
    event_id: row.milestone.event_id, error_class: 'business', reason: 'refused_by_partner', last_error: row.last_error ?? '', partners: ['odoo'],
    attempts: row.attempts, keys: [row.id], dead_at: row.dead_at ?? row.updated_at, replays: row.replays ?? 0, blocking: [], body: row.milestone,
  };
}

/** An event delivery state Odoo refused, as a dead letter (replay sends that state again). */
export function stateWritebackView(row: StateRow): DeadLetter {
  return {
    id: `writeback:${STATE_PREFIX}${row.id}`, kind: 'writeback', state: 'dead', type: `event_state.${row.item.state}`, aggregate: row.aggregate,
    event_id: row.id, error_class: 'business', reason: 'refused_by_partner', last_error: row.last_error ?? '', partners: ['odoo'],
    attempts: row.attempts, keys: [row.id], dead_at: row.dead_at ?? row.updated_at, replays: row.replays ?? 0, blocking: [], body: row.item,
  };
}

export function matches(d: DeadLetter, f: DeadLetterFilter): boolean {
  return (!f.kind || d.kind === f.kind) && (!f.state || d.state === f.state) && (!f.partner || d.partners.includes(f.partner))
    && (!f.type || d.type === f.type) && (!f.aggregate || d.aggregate === f.aggregate) && (!f.error_class || d.error_class === f.error_class)
    && (!f.reason || d.reason === f.reason) && (!f.since || d.dead_at >= f.since) && (!f.until || d.dead_at < f.until);
}

/** Oldest first, by id within the same time. */
export const byDeadAt = (a: DeadLetter, b: DeadLetter) => (a.dead_at < b.dead_at ? -1 : a.dead_at > b.dead_at ? 1 : a.id < b.id ? -1 : 1);

/** One page of a list; the cursor is the position, opaque to callers. */
export function page<T>(all: T[], p: { limit?: number; cursor?: string }): { items: T[]; next_cursor?: string } {
  const limit = Math.max(1, Math.min(500, p.limit ?? 100));
  const start = p.cursor ? Number(Buffer.from(p.cursor, 'base64url').toString()) || 0 : 0;
  const items = all.slice(start, start + limit);
  const next = start + limit < all.length ? Buffer.from(String(start + limit)).toString('base64url') : undefined;
  return { items, ...(next && { next_cursor: next }) };
}
