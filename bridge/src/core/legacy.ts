/** Data of earlier versions, moved once on start: jobs and aggregate memory used to be lowdb collections. */
import type { Logger } from '../log.ts';
import type { KeyedLog } from '../store/keyed-log.ts';
import type { Store } from '../store/types.ts';
import type { AggregateMemory } from './aggregates.ts';
import { AGGREGATES, JOBS, type AggregateRow, type Job } from './jobs.ts';

/** The aggregate memory was spread over this many lowdb collections, `engine_aggregates_<0..63>`. */
const LEGACY_AGGREGATE_SHARDS = 64;

/** Moves the rows of the old `engine_jobs` and `engine_aggregates_<n>` collections into the logs, and empties them. */
export async function migrateLegacyCollections(store: Store, jobs: KeyedLog<Job>, aggs: AggregateMemory, logger: Logger) {
  const legacyJobs = store.collection<Job>(JOBS);
  const rows = legacyJobs.all();
  if (rows.length) {
    await jobs.put(rows.map((j) => structuredClone(j)));
    await legacyJobs.delete(rows.map((j) => j.id));
    logger.info({ jobs: rows.length }, 'moved jobs from the old lowdb collection to the jobs log');
  }
  for (let i = 0; i < LEGACY_AGGREGATE_SHARDS; i++) {
    const shard = store.collection<AggregateRow>(`${AGGREGATES}_${i}`);
    const old = shard.all();
    if (!old.length) continue;
    for (const row of old) await aggs.save(row);
    await shard.delete(old.map((r) => r.id));
  }
}
