/**
 * Milestone completeness: a delivered event makes milestones due (a label within an hour, in
 * transit within two days...); a shipment still without one past its due time is "missing".
 *
 * One row per aggregate in a keyed log (append-only: flat cost per event), read back when one of
 * its milestones arrives; in memory only the count of open expectations per due minute, so the
 * gauge is a sum over at most a week of minutes, never a scan of shipments. Rows whose every due
 * time is older than the retention are forgotten.
 */
import { SHIPMENT_STATUS_RANK, type MilestoneType } from '../../../shared/src/index.ts';
import type { KeyedLog } from '../store/keyed-log.ts';

/** An aggregate's open expectations: milestone -> due time (ms). */
export interface ExpectationRow {
  /** The aggregate. */
  id: string;
  due: Partial<Record<MilestoneType, number>>;
}

export type ExpectationRules = Record<string, { milestone: MilestoneType; within_ms: number }[]>;

/** Whether milestone `seen` answers an expectation of `expected` (a later shipment status implies the earlier ones). */
export function satisfies(seen: string, expected: MilestoneType): boolean {
  if (seen === expected) return true;
  if (seen === 'order.rejected' && expected === 'order.accepted') return true;
  const rank = SHIPMENT_STATUS_RANK[seen as MilestoneType];
  const er = SHIPMENT_STATUS_RANK[expected];
  return rank !== undefined && er !== undefined && rank >= er && seen !== 'shipment.exception';
}

const MINUTE = 60_000;

/** The keyed log's stamp for a row: its latest due time (retention). */
export const expectationStamp = (row: ExpectationRow) => Math.max(0, ...Object.values(row.due).map(Number));

export function createExpectations(o: {
  log: () => Promise<KeyedLog<ExpectationRow>>;
  rules: ExpectationRules;
  now: () => number;
  /** Rows whose due times are all older than this are forgotten. Default 30 days. */
  retentionMs?: number;
  onError?: (e: unknown) => void;
}) {
  const retentionMs = o.retentionMs ?? 30 * 86_400_000;
  /** Open expectations per due minute and milestone. */
  const buckets = new Map<number, Map<string, number>>();
  let chain: Promise<unknown> = Promise.resolve();
  let lastPrune = 0;
  const count = (milestone: string, due: number, by: number) => {
    const minute = Math.floor(due / MINUTE);
    let b = buckets.get(minute);
    if (!b) buckets.set(minute, (b = new Map()));
    const n = (b.get(milestone) ?? 0) + by;
    if (n > 0) b.set(milestone, n);
    else b.delete(milestone);
    if (!b.size) buckets.delete(minute);
  };
  /** Serialised (each change reads then writes a row); the counts are built from the log first. */
  const ready = (async () => {
    const log = await o.log();
    for await (const row of log.values()) for (const [m, due] of Object.entries(row.due)) count(m, due!, 1);
    return log;
  })();
  const later = (f: (log: KeyedLog<ExpectationRow>) => Promise<void>) => {
    const p = chain.then(() => ready).then(f).catch((e) => o.onError?.(e));
    chain = p;
    return p;
  };

  return {
    /** An event was delivered at `at`: its expected milestones become due (cancellations clear them). */
    delivered(event: { type: string; aggregate: string }, at: number): Promise<void> {
      return later(async (log) => {
        const row = await log.get(event.aggregate);
        if (event.type === 'shipment.cancelled' || event.type === 'order.cancelled') {
          if (!row) return;
          for (const [m, due] of Object.entries(row.due)) count(m, due!, -1);
          await log.delete([row.id]);
          return;
        }
        const rules = o.rules[event.type] ?? [];
        if (!rules.length) return;
        const next: ExpectationRow = row ?? { id: event.aggregate, due: {} };
        let changed = false;
        for (const r of rules) {
          if (next.due[r.milestone] !== undefined) continue;
          next.due[r.milestone] = at + r.within_ms;
          count(r.milestone, at + r.within_ms, 1);
          changed = true;
        }
        if (changed) await log.put([next]);
      });
    },
    /** Milestones arrived: the expectations they answer are settled. */
    seen(milestones: { type: string; aggregate: string }[]): Promise<void> {
      return later(async (log) => {
        for (const m of milestones) {
          if (!log.has(m.aggregate)) continue;
          const row = (await log.get(m.aggregate))!;
          let changed = false;
          for (const [e, due] of Object.entries(row.due) as [MilestoneType, number][]) {
            if (!satisfies(m.type, e)) continue;
            delete row.due[e];
            count(e, due, -1);
            changed = true;
          }
          if (!changed) continue;
          if (Object.keys(row.due).length) await log.put([row]);
          else await log.delete([row.id]);
        }
      });
    },
    /** Open expectations past their due time, per milestone. */
    async missing(): Promise<Map<string, number>> {
      const now = o.now();
      if (now - lastPrune > 3_600_000) {
        lastPrune = now;
        void later((log) => prune(log, now - retentionMs));
      }
      await chain;
      const out = new Map<string, number>();
      for (const [minute, b] of buckets) {
        // Whole minutes only: an expectation counts as missing at most a minute late, never early.
        if ((minute + 1) * MINUTE > now + 1) continue;
        for (const [m, n] of b) out.set(m, (out.get(m) ?? 0) + n);
      }
      return out;
    },
    /** Resolves once every change so far is written (tests). */
    settled: () => chain.then(() => undefined),
  };

  async function prune(log: KeyedLog<ExpectationRow>, cutoff: number) {
    const gone: string[] = [];
    for await (const key of log.keysStampedBefore(cutoff)) gone.push(key);
    for (const key of gone) {
      const row = await log.get(key);
      if (row) for (const [m, due] of Object.entries(row.due)) count(m, due!, -1);
    }
    await log.delete(gone);
  }
}
