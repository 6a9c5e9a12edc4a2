/**
 * The keyed and history logs the engine and the metrics keep beside a store (jobs, aggregate
 * memory, audit trail, milestone expectations), opened once per store: in `dir` on disk, or in
 * memory when `dir` is undefined, where a second engine on the same memory store (a restart in a
 * test) finds what the first one wrote.
 *
 * The store interface does not expose its folder, so owners pass `dir` (the runtime gives
 * `<data dir>/state`); a store method would be the better home (see the engine branch's report).
 */
import { join } from 'node:path';
import { openHistoryLog, type HistoryLog } from './history-log.ts';
import { openKeyedLog, type KeyedLog, type KeyedLogOptions } from './keyed-log.ts';
import type { Store } from './types.ts';

export interface StateLogs {
  keyed<T>(name: string, options?: Omit<KeyedLogOptions<T>, 'dir' | 'name' | 'fsync'>): Promise<KeyedLog<T>>;
  history<T>(name: string, options?: { now?: () => number; segmentBytes?: number }): Promise<HistoryLog<T>>;
  /** Closes the logs on disk (the next `stateLogs` call opens them again); memory logs stay. */
  close(): Promise<void>;
}

const opened = new WeakMap<Store, Map<string, Promise<KeyedLog<any> | HistoryLog<any>>>>();

/** The state logs of `store`; `dir` undefined keeps them in memory with the store object. */
export function stateLogs(store: Store, o: { dir?: string; fsync?: boolean } = {}): StateLogs {
  let mine = opened.get(store);
  if (!mine) opened.set(store, (mine = new Map()));
  const cache = mine;
  const once = <L>(name: string, open: () => Promise<L>): Promise<L> => {
    let p = cache.get(name) as Promise<L> | undefined;
    if (!p) {
      p = open();
      cache.set(name, p as Promise<any>);
      p.catch(() => cache.delete(name));
    }
    return p;
  };
  const names = new Set<string>();
  return {
    keyed(name, options = {}) {
      names.add(name);
      return once(name, () => openKeyedLog({ ...options, name, dir: o.dir && join(o.dir, name), fsync: o.fsync }));
    },
    history(name, options = {}) {
      names.add(name);
      return once(name, () => openHistoryLog({ ...options, name, dir: o.dir && join(o.dir, name), fsync: o.fsync }));
    },
    async close() {
      if (!o.dir) return;
      for (const name of names) {
        const p = cache.get(name);
        cache.delete(name);
        await (await p?.catch(() => undefined))?.close();
      }
      names.clear();
    },
  };
}
