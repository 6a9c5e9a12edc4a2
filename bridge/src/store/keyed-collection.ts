/**
 * The `Collection` interface over a keyed log, for collections that grow with volume (a row per
 * shipment) where a lowdb file, rewritten whole on every put, would cost more with every row.
 * `get` reads the row from disk synchronously; `all` reads every row (rare callers only); rows
 * whose stamp (a time) is past the retention are forgotten by the collection itself.
 */
import type { Collection, Store } from './types.ts';
import type { KeyedLog } from './keyed-log.ts';

export function keyedCollection<T extends { id: string }>(log: KeyedLog<T>, o: { retentionMs?: number; now?: () => number } = {}): Collection<T> {
  const now = o.now ?? Date.now;
  let lastPrune = now();
  async function pruneMaybe() {
    if (o.retentionMs === undefined || now() - lastPrune < 3_600_000) return;
    lastPrune = now();
    const cutoff = now() - o.retentionMs;
    const old: string[] = [];
    for await (const key of log.keysStampedBefore(cutoff)) old.push(key);
    for (let i = 0; i < old.length; i += 1000) await log.delete(old.slice(i, i + 1000));
  }
  return {
    get: (id) => log.getSync(id),
    all: () => log.allSync(),
    async put(records) {
      await log.put(records);
      await pruneMaybe();
    },
    delete: (ids) => log.delete(ids),
  };
}

/** A store whose named collections are replaced (the rest are the store's own). */
export function withCollections(store: Pick<Store, 'collection'>, replaced: Record<string, Collection<any>>): Pick<Store, 'collection'> {
  return { collection: <T extends { id: string }>(name: string) => (replaced[name] as Collection<T> | undefined) ?? store.collection<T>(name) };
}
