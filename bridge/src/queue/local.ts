/**
 * The queue role (queue.ts) for one process: rows in a keyed log (files for the embedded store,
 * a table for PostgreSQL, memory in tests), indexed in memory per partner and key. Only one
 * process may open a log (store/data-dir-lock.ts guards the embedded data dir), so a "dead worker"
 * is a dead process: the next open finds its taken rows and offers them again, in doubt.
 *
 * Row life: queued ──take──▶ taken ──complete──▶ (deleted)
 *                               ├──retryAt──▶ queued (later)     held ──replay──▶ queued
 *                               ├──moveTo───▶ queued (another partner's)
 *                               └──hold────▶ held ──discard──▶ (deleted)
 * A key's rows run in `seq` order: only its first row may be taken, whatever its state, so a
 * taken, retrying or held row holds back the rest of its key.
 */
import type { KeyedLog } from '../store/keyed-log.ts';
import type { ConcurrencyOf, HeldJob, JobQueue, NewQueueJob, TakenJob } from '../core/queue.ts';

/** One stored queue row. */
export interface QueueRow<P> {
  id: string;
  partner: string;
  key: string;
  /** Enqueue order across the queue; lower runs first within a key. */
  seq: number;
  payload: P;
  state: 'queued' | 'taken' | 'held';
  /** Earliest time it may be taken (epoch ms). */
  run_at: number;
  /** A taker stopped without settling it. */
  in_doubt: boolean;
  /** Times taken: the claim of the current taker. */
  takes: number;
}

/** The keyed log's key of a row: its id, unique across partners, so a move to another partner is one write. */
export const queueRowKey = (r: { id: string }) => r.id;

export interface LocalQueueOptions<P> {
  /** Opened with `key: queueRowKey`; the queue is its only writer. */
  log: KeyedLog<QueueRow<P>>;
  concurrency?: ConcurrencyOf;
  now?: () => number;
}

/** Opens the queue on its log; rows a dead process had taken are queued again, in doubt. */
export async function openLocalQueue<P>({ log, concurrency = () => 1, now = Date.now }: LocalQueueOptions<P>): Promise<JobQueue<P>> {
  /** partner → key → rows in seq order. */
  const keys = new Map<string, Map<string, QueueRow<P>[]>>();
  const inHand = new Map<string, number>();
  let seq = 0;

  const rowsOf = (partner: string, key: string, create = false): QueueRow<P>[] | undefined => {
    let byKey = keys.get(partner);
    if (!byKey) {
      if (!create) return undefined;
      keys.set(partner, (byKey = new Map()));
    }
    let rows = byKey.get(key);
    if (!rows && create) byKey.set(key, (rows = []));
    return rows;
  };
  const byId = new Map<string, QueueRow<P>>();
  const find = (partner: string, id: string) => {
    const r = byId.get(id);
    return r?.partner === partner ? r : undefined;
  };
  const drop = async (row: QueueRow<P>) => {
    const rows = rowsOf(row.partner, row.key)!;
    rows.splice(rows.indexOf(row), 1);
    if (rows.length === 0) keys.get(row.partner)!.delete(row.key);
    byId.delete(queueRowKey(row));
    await log.delete([queueRowKey(row)]);
  };
  /** The row this claim still holds, if it does. */
  const claimed = (job: TakenJob<P>): QueueRow<P> | undefined => {
    const row = find(job.partner, job.id);
    return row && row.state === 'taken' && row.takes === job.claim ? row : undefined;
  };
  const release = (partner: string) => inHand.set(partner, Math.max(0, (inHand.get(partner) ?? 0) - 1));

  const loaded: QueueRow<P>[] = [];
  for await (const r of log.values()) loaded.push(r);
  loaded.sort((a, b) => a.seq - b.seq);
  const orphans: QueueRow<P>[] = [];
  for (const r of loaded) {
    seq = Math.max(seq, r.seq);
    if (r.state === 'taken') {
      r.state = 'queued';
      r.in_doubt = true;
      orphans.push(r);
    }
    rowsOf(r.partner, r.key, true)!.push(r);
    byId.set(queueRowKey(r), r);
  }
  if (orphans.length) await log.put(orphans);

  return {
    recoveryBoundMs: 0,
    async enqueue(jobs: NewQueueJob<P>[]) {
      const fresh: QueueRow<P>[] = [];
      const at = now();
      for (const j of jobs) {
        if (byId.has(queueRowKey(j)) || fresh.some((f) => f.id === j.id)) continue;
        fresh.push({ id: j.id, partner: j.partner, key: j.key, seq: ++seq, payload: j.payload, state: 'queued', run_at: at, in_doubt: false, takes: 0 });
      }
      if (!fresh.length) return;
      await log.put(fresh);
      for (const r of fresh) {
        rowsOf(r.partner, r.key, true)!.push(r);
        byId.set(queueRowKey(r), r);
      }
    },
    async take(partner, max = Number.POSITIVE_INFINITY) {
      const room = Math.min(max, concurrency(partner) - (inHand.get(partner) ?? 0));
      const byKey = keys.get(partner);
      if (room <= 0 || !byKey) return [];
      const at = now();
      const taken: QueueRow<P>[] = [];
      for (const rows of byKey.values()) {
        if (taken.length >= room) break;
        const head = rows[0];
        if (head.state !== 'queued' || head.run_at > at) continue;
        head.state = 'taken';
        head.takes += 1;
        taken.push(head);
      }
      if (!taken.length) return [];
      inHand.set(partner, (inHand.get(partner) ?? 0) + taken.length);
      // Durably taken before anyone acts on it: a crash from here on leaves it in doubt.
      try {
        await log.put(taken);
      } catch (e) {
        // Not taken after all: queued again as before, for the next take.
        for (const r of taken) {
          r.state = 'queued';
          r.takes -= 1;
        }
        inHand.set(partner, (inHand.get(partner) ?? 0) - taken.length);
        throw e;
      }
      return taken.map((r) => ({ id: r.id, partner: r.partner, key: r.key, payload: r.payload, inDoubt: r.in_doubt, claim: r.takes }));
    },
    async complete(job) {
      const row = claimed(job);
      if (!row) return false;
      release(row.partner);
      await drop(row);
      return true;
    },
    async retryAt(job, at, payload) {
      const row = claimed(job);
      if (!row) return false;
      release(row.partner);
      Object.assign(row, { state: 'queued', run_at: at, in_doubt: false }, payload !== undefined && { payload });
      await log.put([row]);
      return true;
    },
    async hold(job, payload) {
      const row = claimed(job);
      if (!row) return false;
      release(row.partner);
      Object.assign(row, { state: 'held', in_doubt: false }, payload !== undefined && { payload });
      await log.put([row]);
      return true;
    },
    async moveTo(job, partner, payload) {
      const row = claimed(job);
      if (!row) return false;
      release(row.partner);
      const from = rowsOf(row.partner, row.key)!;
      from.splice(from.indexOf(row), 1);
      if (from.length === 0) keys.get(row.partner)!.delete(row.key);
      Object.assign(row, { partner, seq: ++seq, state: 'queued', run_at: now(), in_doubt: false }, payload !== undefined && { payload });
      rowsOf(partner, row.key, true)!.push(row);
      await log.put([row]);
      return true;
    },
    async held(partner) {
      const out: (HeldJob<P> & { seq: number })[] = [];
      for (const rows of keys.get(partner)?.values() ?? []) {
        for (const r of rows) if (r.state === 'held') out.push({ id: r.id, partner: r.partner, key: r.key, payload: r.payload, seq: r.seq });
      }
      return out.sort((a, b) => a.seq - b.seq).map(({ seq: _, ...h }) => h);
    },
    async replay(partner, id, payload) {
      const row = find(partner, id);
      if (!row || row.state !== 'held') return false;
      Object.assign(row, { state: 'queued', run_at: now() }, payload !== undefined && { payload });
      await log.put([row]);
      return true;
    },
    async discard(partner, id) {
      const row = find(partner, id);
      if (!row || row.state !== 'held') return false;
      await drop(row);
      return true;
    },
    async close() {
      await log.close();
    },
  };
}
