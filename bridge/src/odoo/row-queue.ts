/**
 * A durable write-back queue (milestones, event states): rows are stored before anything else, picked
 * when due and in order per aggregate (never overtaking an earlier row of the same aggregate), and
 * after a failed call settled by the one failure rule (refusal.ts). This module alone changes a
 * row's queue state; a row leaves only when Odoo answered it or an operator discarded it.
 */
import type { Collection } from '../store/types.ts';
import type { Step } from './refusal.ts';

/** What every write-back row carries besides its item. */
export interface QueueRow {
  id: string;
  /** Rows of one aggregate are written in `seq` order, one call at a time. */
  aggregate: string;
  /** Enqueue order; within an aggregate, lower is written first. */
  seq: number;
  /** Calls in which Odoo failed this row alone (conflicts); outages and auth pauses are not counted. */
  attempts: number;
  /** Earliest next write (RFC 3339). */
  run_at: string;
  /** pending: to write; rejected: Odoo refused it (a dead letter until replayed or discarded). */
  state: 'pending' | 'rejected';
  /** Send alone, not in a batch (a batch with it failed as a whole). */
  solo?: boolean;
  last_error?: string;
  dead_at?: string;
  replays?: number;
  created_at: string;
  updated_at: string;
}

/** How many rows wait and how many are dead letters. */
export interface QueueFigures {
  pending: number;
  rejected: number;
  /** `created_at` of the oldest pending row (the write-back lag); absent when none waits. */
  oldest_pending_at?: string;
}

/** Counts rows of a write-back queue. */
export function queueFigures(rows: Iterable<QueueRow>): QueueFigures {
  let pending = 0;
  let rejected = 0;
  let oldest: QueueRow | undefined;
  for (const r of rows) {
    if (r.state === 'rejected') { rejected++; continue; }
    pending++;
    if (!oldest || Date.parse(r.created_at) < Date.parse(oldest.created_at)) oldest = r;
  }
  return { pending, rejected, ...(oldest && { oldest_pending_at: oldest.created_at }) };
}

export type RowQueue<R extends QueueRow> = ReturnType<typeof createRowQueue<R>>;

/** The queue over one store collection; `upgrade` reads rows stored by an older version. */
export function createRowQueue<R extends QueueRow>(col: Collection<R>, now: () => number, upgrade: (stored: any) => R = (r) => r) {
  let rows: Map<string, R> | undefined;
  let seq = 0;
  const iso = (ms = now()) => new Date(ms).toISOString();
  function table(): Map<string, R> {
    if (!rows) {
      rows = new Map(col.all().map((r) => structuredClone(upgrade(r))).map((r) => [r.id, r]));
      for (const r of rows.values()) seq = Math.max(seq, r.seq);
    }
    return rows;
  }
  async function save(list: R[]) {
    for (const r of list) r.updated_at = iso();
    if (list.length) await col.put(list.map((r) => structuredClone(r)));
  }
  /** Rows still current (not replaced by a newer one, not discarded while in flight). */
  const current = (list: R[]) => list.filter((r) => table().get(r.id) === r);

  return {
    get: (id: string) => table().get(id),
    /** Every row, pending and rejected. */
    rows: () => [...table().values()],
    has: (id: string) => table().has(id),
    /** A fresh row's queue fields, due at `runAt`. */
    fresh(aggregate: string, runAt = now()): QueueRow {
      return { id: '', aggregate, seq: ++seq, attempts: 0, run_at: iso(runAt), state: 'pending', created_at: iso(), updated_at: iso() };
    },
    /** Stores rows (inserted, or replacing the row of the same id). */
    async put(list: R[]) {
      for (const r of list) table().set(r.id, r);
      await save(list);
    },
    /** Odoo answered these rows: they leave the queue (unless replaced meanwhile). */
    async done(list: R[]) {
      const ids = current(list).map((r) => r.id);
      for (const id of ids) table().delete(id);
      if (ids.length) await col.delete(ids);
    },
    /**
     * The next batch of at most `max` due rows in enqueue order, skipping `busy` aggregates and
     * never overtaking an earlier row of the same aggregate; `next` is when the earliest waiting row is due.
     */
    pick(at: number, max: number, busy: ReadonlySet<string> = new Set()): { batch: R[]; next: number } {
      const held = new Set(busy);
      const batch: R[] = [];
      let next = Number.POSITIVE_INFINITY;
      const ordered = [...table().values()].filter((r) => r.state === 'pending').sort((a, b) => a.seq - b.seq);
      for (const r of ordered) {
        if (held.has(r.aggregate)) continue;
        const due = Date.parse(r.run_at);
        if (due > at) {
          held.add(r.aggregate);
          next = Math.min(next, due);
          continue;
        }
        if (r.solo) {
          if (batch.length === 0) return { batch: [r], next };
          held.add(r.aggregate);
          continue;
        }
        batch.push(r);
        if (batch.length >= max) break;
      }
      return { batch, next };
    },
    /** Applies a step of the failure rule to rows a call failed (pause and wait leave them as they are). */
    async settle(list: R[], step: Step, message: string) {
      const rs = current(list);
      for (const r of rs) {
        r.last_error = message;
        if (step.do === 'split') {
          r.solo = true;
          r.run_at = iso(now() + step.delay_ms);
        } else if (step.do === 'retry') {
          r.attempts += 1;
          r.run_at = iso(now() + step.delay_ms);
        } else if (step.do === 'dead') {
          r.attempts += 1;
          r.state = 'rejected';
          r.dead_at = iso();
        }
      }
      if (step.do === 'split' || step.do === 'retry' || step.do === 'dead') await save(rs);
    },
    figures: () => queueFigures(table().values()),
    rejected: () => [...table().values()].filter((r) => r.state === 'rejected').map((r) => structuredClone(r)),
    /** Queues a dead letter again (after `edit`, if given); undefined for an unknown id. */
    async replay(id: string, edit?: (r: R) => void): Promise<R | undefined> {
      const r = table().get(id);
      if (!r || r.state !== 'rejected') return undefined;
      const before = structuredClone(r);
      edit?.(r);
      Object.assign(r, { state: 'pending', attempts: 0, solo: undefined, last_error: undefined, dead_at: undefined, replays: (r.replays ?? 0) + 1, run_at: iso() });
      await save([r]);
      return before;
    },
    /** Drops a dead letter for good (an operator's decision); undefined for an unknown id. */
    async discard(id: string): Promise<R | undefined> {
      const r = table().get(id);
      if (!r || r.state !== 'rejected') return undefined;
      table().delete(id);
      await col.delete([id]);
      return r;
    },
  };
}
