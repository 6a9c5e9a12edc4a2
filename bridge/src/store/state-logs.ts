/**
 * The keyed and history logs the engine and the metrics keep beside a store (jobs, aggregate
 * memory, audit trail, milestone expectations), opened once per store. A store that keeps them
 * itself says so with `Store.stateLogs` (PostgreSQL: tables in its schema); otherwise they are
 * files in `dir`, or in memory when `dir` is undefined, where a second engine on the same memory
 * store (a restart in a test) finds what the first one wrote.
 */
import { join } from 'node:path';
import { openHistoryLog, type HistoryLog } from './history-log.ts';
import { openKeyedLog, type KeyedLog, type KeyedLogOptions } from './keyed-log.ts';
import type { Store } from './types.ts';

export interface StateLogs {
  keyed<T>(name: string, options?: Omit<KeyedLogOptions<T>, 'dir' | 'name' | 'fsync'>): Promise<KeyedLog<T>>;
  history<T>(name: string, options?: { now?: () => number; segmentBytes?: number }): Promise<HistoryLog<T>>;
  /** Closes the logs this handle opened (the next `stateLogs` call opens them again); memory logs stay. */
  close(): Promise<void>;
}

/** Where the file logs go when the store does not keep them itself. */
export interface StateLogsPlace {
  /** Folder (the runtime gives `<data dir>/state`); undefined keeps them in memory with the store object. */
  dir?: string;
  fsync?: boolean;
}

type OpenLogs = Map<string, Promise<KeyedLog<any> | HistoryLog<any>>>;
const opened = new WeakMap<Store, OpenLogs>();

/** The state logs of `store`: its own when it keeps them (`Store.stateLogs`), else files in `o.dir` (or memory). */
export function stateLogs(store: Store, o: StateLogsPlace = {}): StateLogs {
  if (store.stateLogs) return store.stateLogs(o);
  let cache = opened.get(store);
  if (!cache) opened.set(store, (cache = new Map()));
  return sharedStateLogs(cache, {
    keyed: (name, options) => openKeyedLog({ ...options, name, dir: o.dir && join(o.dir, name), fsync: o.fsync }),
    history: (name, options) => openHistoryLog({ ...options, name, dir: o.dir && join(o.dir, name), fsync: o.fsync }),
    reopenable: !!o.dir,
  });
}

/**
 * A handle on logs opened once per `cache` (one cache per store), whichever kind they are; `close`
 * closes the ones this handle asked for, unless they cannot be opened again (memory).
 */
export function sharedStateLogs(cache: OpenLogs, open: {
  keyed: <T>(name: string, options: Omit<KeyedLogOptions<T>, 'dir' | 'name' | 'fsync'>) => Promise<KeyedLog<T>>;
  history: <T>(name: string, options: { now?: () => number; segmentBytes?: number }) => Promise<HistoryLog<T>>;
  /** false: memory logs, which nothing could load again, stay open. */
  reopenable: boolean;
}): StateLogs {
  const once = <L>(name: string, make: () => Promise<L>): Promise<L> => {
    let p = cache.get(name) as Promise<L> | undefined;
    if (!p) {
      p = make();
      cache.set(name, p as Promise<any>);
      p.catch(() => cache.delete(name));
    }
    return p;
  };
  const names = new Set<string>();
  return {
    keyed(name, options = {}) {
      names.add(name);
      return once(name, () => open.keyed(name, options));
    },
    history(name, options = {}) {
      names.add(name);
      return once(name, () => open.history(name, options));
    },
    async close() {
      if (!open.reopenable) return;
      for (const name of names) {
        const p = cache.get(name);
        cache.delete(name);
        await (await p?.catch(() => undefined))?.close();
      }
      names.clear();
    },
  };
}
