/**
 * What the dashboard does to dead letters, behind one narrow interface: the engine's dead-letter
 * functions when an engine runs (`engineActions`), or the store alone (`storeActions`: replay puts
 * the event back to `queued` for whoever delivers it, with an audit entry).
 */
import { AUDIT, type AuditEntry, type Job } from '../core/jobs.ts';
import type { DeadLetter } from '../core/engine.ts';
import type { StoredEvent, Store } from '../store/types.ts';

/** One dead letter as the dashboard lists it: the engine's entry without keys, body and replay count. */
export type DeadLetterRow = Pick<DeadLetter, 'id' | 'kind' | 'state' | 'type' | 'aggregate' | 'event_id' | 'error_class' | 'reason' | 'last_error' | 'partners' | 'attempts' | 'dead_at'> &
  Partial<Pick<DeadLetter, 'blocking'>>;

export interface DashboardActions {
  deadLetters(): Promise<DeadLetterRow[]>;
  get(id: string): Promise<DeadLetterRow | undefined>;
  replay(id: string, actor: string): Promise<{ id: string; state: string }>;
  discard(id: string, actor: string, note?: string): Promise<{ id: string; state: string }>;
  /** Operator actions (and anything else audited) concerning an event, oldest first. */
  audit(eventId: string): Promise<AuditEntry[]>;
}

/** The part of the engine the dashboard uses (structurally `Engine`, so no import of the engine). */
export interface EngineDeadLetters {
  deadLetters: {
    list(filter?: object, page?: { limit?: number; cursor?: string }): { items: DeadLetterRow[]; next_cursor?: string } | Promise<{ items: DeadLetterRow[]; next_cursor?: string }>;
    get(id: string): DeadLetterRow | undefined | Promise<DeadLetterRow | undefined>;
    replay(id: string, options: { actor: string }): Promise<unknown>;
    discard(id: string, options: { actor: string; note?: string }): Promise<{ id: string; state: string }>;
  };
  audit(filter: { event_id?: string; limit?: number }): Promise<AuditEntry[]>;
  /** The open partner steps of an event (finished ones are forgotten with it). */
  steps?(eventId: string): Job[];
}

const MAX_LISTED = 1000;

/** Dead-letter actions through the engine (ordering, keys, blocking and audit are the engine's). */
export function engineActions(engine: EngineDeadLetters): DashboardActions {
  return {
    async deadLetters() {
      const out: DeadLetterRow[] = [];
      let cursor: string | undefined;
      do {
        const page = await engine.deadLetters.list({}, { limit: 500, cursor });
        out.push(...page.items);
        cursor = page.next_cursor;
      } while (cursor && out.length < MAX_LISTED);
      return out;
    },
    async get(id) {
      return engine.deadLetters.get(id);
    },
    async replay(id, actor) {
      const r = (await engine.deadLetters.replay(id, { actor })) as { id: string; state: string };
      return { id, state: r.state };
    },
    discard: (id, actor, note) => engine.deadLetters.discard(id, { actor, note }),
    audit: (eventId) => engine.audit({ event_id: eventId, limit: 500 }),
  };
}

function rowOf(s: StoredEvent): DeadLetterRow {
  return {
    id: s.event.id, kind: 'event', state: s.state === 'manual' ? 'manual' : 'dead', type: s.event.type, aggregate: s.event.aggregate, event_id: s.event.id,
    error_class: s.error_class ?? 'technical', last_error: s.last_error ?? '', partners: [], attempts: s.attempts, dead_at: s.updated_at,
  };
}

/**
 * Dead-letter actions on the store alone, for a bridge without an engine: replay sets the event
 * back to `queued` (the engine routes unfinished events on its next start), discard sets
 * `discarded`; both append an audit entry in the engine's audit log format.
 */
export function storeActions(store: Store, now: () => Date = () => new Date()): DashboardActions {
  const audit = store.log<AuditEntry>(AUDIT);
  async function dead(id: string) {
    const s = await store.get(id);
    if (!s || (s.state !== 'dead' && s.state !== 'manual')) throw Object.assign(new Error(s ? `${id} is not in the dead-letter queue (state ${s.state})` : `no dead letter ${id}`), { status: s ? 409 : 404 });
    return s;
  }
  return {
    async deadLetters() {
      const out: DeadLetterRow[] = [];
      for (const state of ['dead', 'manual'] as const) {
        let cursor: string | undefined;
        do {
          const page = await store.list({ state, limit: 500, cursor });
          out.push(...page.items.map(rowOf));
          cursor = page.next_cursor;
        } while (cursor && out.length < MAX_LISTED);
      }
      return out.sort((a, b) => (a.dead_at < b.dead_at ? -1 : 1));
    },
    async get(id) {
      const s = await store.get(id);
      return s && (s.state === 'dead' || s.state === 'manual') ? rowOf(s) : undefined;
    },
    async replay(id, actor) {
      await dead(id);
      const s = await store.setStatus(id, { state: 'queued', last_error: undefined, error_class: undefined });
      await audit.append([{ id: crypto.randomUUID(), at: now().toISOString(), actor, action: 'replay', target: id, event_id: id, new_key: false }]);
      return { id, state: s.state };
    },
    async discard(id, actor, note) {
      await dead(id);
      const s = await store.setStatus(id, { state: 'discarded' });
      await audit.append([{ id: crypto.randomUUID(), at: now().toISOString(), actor, action: 'discard', target: id, event_id: id, note }]);
      return { id, state: s.state };
    },
    audit: (eventId) => audit.query((e) => e.event_id === eventId || e.target === eventId, 500),
  };
}
