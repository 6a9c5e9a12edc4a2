/** The two store parts the gateway uses (collections, logs), in memory; no disk, no engine. */
import type { AppendLog, Collection, Store } from '../../bridge/src/store/types.ts';

export function fakeStore(): Pick<Store, 'collection' | 'log'> {
  const cols = new Map<string, Map<string, any>>();
  const logs = new Map<string, any[]>();
  return {
    collection<T extends { id: string }>(name: string): Collection<T> {
      let m = cols.get(name);
      if (!m) cols.set(name, (m = new Map()));
      const map = m;
      return {
        get: (id) => map.get(id),
        all: () => [...map.values()],
        put: async (rs) => { for (const r of rs) map.set(r.id, structuredClone(r)); },
        delete: async (ids) => { for (const id of ids) map.delete(id); },
      };
    },
    log<T>(name: string): AppendLog<T> {
      let l = logs.get(name);
      if (!l) logs.set(name, (l = []));
      const list = l;
      return {
        append: async (es) => { list.push(...es); },
        query: async (match, limit) => list.filter(match).slice(0, limit ?? Infinity),
      };
    },
  };
}
