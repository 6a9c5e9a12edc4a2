/**
 * The `Collection` interface over a keyed log, for collections that grow with volume (a row per
 * shipment) where a lowdb file, rewritten whole on every put, would cost more with every row.
 * `get` reads the row from disk synchronously; `all` reads every row (rare callers only); rows
 * whose stamp (a time) is past the retention are forgotten by the collection itself.
 * `withKeyedCollections` swaps such collections into a store for the code that uses them.
 */
import type { Collection, Store } from './types.ts';
import type { KeyedLog } from './keyed-log.ts';
import { stateLogs, type StateLogs } from './state-logs.ts';

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

/** How a collection kept in a keyed log stamps its rows (a time) and how long it keeps them. */
export interface KeyedCollectionSpec<T> {
  stamp?: (row: T) => number;
  /** Rows whose stamp is older are forgotten; undefined keeps them until their owner deletes them. */
  retentionMs?: number;
}

/**
 * A view of `store` whose named collections are keyed logs opened through `logs` (append-only
 * instead of a lowdb file rewritten whole on every put); the rest is the store's own. Rows the
 * store still holds under those names (written before the collection moved) are moved into the
 * log first: put, then deleted, so a crash between the two only repeats the move.
 */
export async function withKeyedCollections(store: Store, logs: StateLogs, specs: Record<string, KeyedCollectionSpec<any>>): Promise<Store> {
  const replaced = new Map<string, Collection<any>>();
  for (const [name, spec] of Object.entries(specs)) {
    const log = await logs.keyed<{ id: string }>(name, { stamp: spec.stamp });
    const legacy = store.collection<{ id: string }>(name);
    const rows = legacy.all();
    if (rows.length) {
      await log.put(rows);
      await legacy.delete(rows.map((r) => r.id));
    }
    replaced.set(name, keyedCollection(log, { retentionMs: spec.retentionMs }));
  }
  // The view inherits everything else from the store (its methods keep their own state), and asks
  // the store itself for state logs, so both share one set of open logs.
  const view: Store = Object.create(store);
  view.collection = <T extends { id: string }>(name: string) => (replaced.get(name) as Collection<T> | undefined) ?? store.collection<T>(name);
  view.stateLogs = (place) => stateLogs(store, place);
  return view;
}
