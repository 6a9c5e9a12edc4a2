/**
 * The engine's keyed and history logs in PostgreSQL tables of the store's schema, so a bridge on
 * PostgreSQL keeps no state of its own on disk. Same interfaces and contract as the file logs
 * (test/contract/state-logs.test.ts); a write resolves once its transaction has committed, and the
 * writes of one log are grouped: one statement (one round trip) per batch, not per entry.
 *
 * A keyed log keeps its live records in memory as their JSON text (what the file log keeps on
 * disk), because its interface has synchronous reads (`has`, `size`, `getSync`, `allSync`): memory
 * grows with the live rows' bytes, which their owners prune. History entries stay in the table and
 * are read by key through an index.
 */
import { existsSync } from 'node:fs';
import { rename } from 'node:fs/promises';
import { join } from 'node:path';
import type pg from 'pg';
import { groupCommit } from './group-commit.ts';
import type { HistoryLog } from './history-log.ts';
import { openKeyedLog, type KeyedLog, type KeyedLogOptions } from './keyed-log.ts';
import { sharedStateLogs, type StateLogs } from './state-logs.ts';

export interface PostgresLogsOptions {
  /** The store's pool; throws when the store is not open. */
  db: () => pg.Pool;
  /** Schema-qualified table name for a plain name (`keyed_rows`, `history_entries`). */
  table: (name: string) => string;
}

/** The tables the logs use; part of the store's schema (postgres-schema.ts). */
export function stateLogsSchemaSql(t: (name: string) => string): string {
  return `
CREATE TABLE IF NOT EXISTS ${t('keyed_rows')} (
  log   text NOT NULL,
  key   text NOT NULL,
  stamp float8 NOT NULL,
  doc   json NOT NULL,
  PRIMARY KEY (log, key)
);
CREATE TABLE IF NOT EXISTS ${t('history_entries')} (
  seq   bigserial PRIMARY KEY,
  log   text NOT NULL,
  key   text NOT NULL,
  at    bigint NOT NULL,
  entry json NOT NULL
);
CREATE INDEX IF NOT EXISTS history_entries_log_key_seq ON ${t('history_entries')} (log, key, seq);
CREATE INDEX IF NOT EXISTS history_entries_log_seq ON ${t('history_entries')} (log, seq);
CREATE INDEX IF NOT EXISTS history_entries_log_at ON ${t('history_entries')} (log, at);
`;
}

/** `text`: the record's JSON, taken when it was put (undefined: a delete). */
type Op = { key: string; stamp: number; text?: string };

/** Opens (loads) the keyed log `name` from the `keyed_rows` table. */
export async function openPostgresKeyedLog<T>(o: PostgresLogsOptions & Omit<KeyedLogOptions<T>, 'dir' | 'fsync' | 'segmentBytes'>): Promise<KeyedLog<T>> {
  const keyOf = o.key ?? ((r: T) => (r as { id: string }).id);
  const stampOf = o.stamp ?? (() => 0);
  const table = o.table('keyed_rows');
  /** Committed rows: key -> stamp and the record's JSON text. */
  const rows = new Map<string, { stamp: number; text: string }>();
  const loaded = await o.db().query<{ key: string; stamp: number; doc: string }>(`SELECT key, stamp, doc::text AS doc FROM ${table} WHERE log = $1`, [o.name]);
  for (const r of loaded.rows) rows.set(r.key, { stamp: r.stamp, text: r.doc });
  /** Writes not yet committed, so a read right after a put sees it. */
  const pending = new Map<string, { n: number; text?: string }>();
  let serial = 0;
  let closed = false;

  const writer = groupCommit<Op>(async (ops) => {
    // The last op of a key in the batch decides; one key twice in one upsert is an error in SQL.
    const last = new Map<string, Op>();
    for (const op of ops) { last.delete(op.key); last.set(op.key, op); }
    const gone = [...last.values()].filter((op) => op.text === undefined).map((op) => op.key);
    const put = [...last.values()].filter((op) => op.text !== undefined);
    // Both in one statement (one round trip, one transaction); their key sets are disjoint.
    await o.db().query(
      `WITH gone AS (DELETE FROM ${table} WHERE log = $1 AND key = ANY($2::text[]))
       INSERT INTO ${table} (log, key, stamp, doc) SELECT $1, k, s, d FROM unnest($3::text[], $4::float8[], $5::json[]) AS x(k, s, d)
       ON CONFLICT (log, key) DO UPDATE SET stamp = excluded.stamp, doc = excluded.doc`,
      [o.name, gone, put.map((op) => op.key), put.map((op) => op.stamp), put.map((op) => op.text!)],
    );
  });

  async function write(ops: Op[]) {
    if (closed) throw new Error(`keyed log ${o.name} is closed: open it again through the store's stateLogs()`);
    const marks = ops.map((op) => {
      const n = ++serial;
      pending.set(op.key, { n, text: op.text });
      return n;
    });
    try {
      await writer.push(ops);
      for (const op of ops) {
        if (op.text === undefined) rows.delete(op.key);
        else rows.set(op.key, { stamp: op.stamp, text: op.text });
      }
    } finally {
      ops.forEach((op, i) => { if (pending.get(op.key)?.n === marks[i]) pending.delete(op.key); });
    }
  }

  const read = (key: string): T | undefined => {
    const p = pending.get(key);
    if (p) return p.text === undefined ? undefined : (JSON.parse(p.text) as T);
    const r = rows.get(key);
    return r ? (JSON.parse(r.text) as T) : undefined;
  };

  return {
    get size() { return rows.size; },
    has: (key) => (pending.has(key) ? pending.get(key)!.text !== undefined : rows.has(key)),
    stamp: (key) => rows.get(key)?.stamp,
    async *keysStampedBefore(cutoff) {
      for (const [key, r] of [...rows]) if (r.stamp < cutoff && rows.get(key) === r) yield key;
    },
    get: async (key) => read(key),
    getSync: read,
    allSync: () => [...rows.values()].map((r) => JSON.parse(r.text) as T),
    async *values() {
      for (const [key, r] of [...rows]) if (rows.get(key) === r) yield JSON.parse(r.text) as T;
    },
    async put(records) {
      if (records.length) await write(records.map((r) => ({ key: keyOf(r), stamp: stampOf(r), text: JSON.stringify(r) })));
    },
    async delete(keys) {
      // A key never written needs no delete.
      const ops = keys.filter((k) => rows.has(k) || pending.has(k)).map((key) => ({ key, stamp: 0 }));
      if (ops.length) await write(ops);
    },
    // PostgreSQL reclaims the space of replaced rows itself (autovacuum).
    async compact() {},
    async close() {
      closed = true;
      await writer.idle();
    },
  };
}

/** Opens the history log `name` over the `history_entries` table; `now` stamps the entries (retention). */
export async function openPostgresHistoryLog<T>(o: PostgresLogsOptions & { name: string; now?: () => number }): Promise<HistoryLog<T>> {
  const now = o.now ?? Date.now;
  const table = o.table('history_entries');
  const PAGE = 500;
  let closed = false;
  const writer = groupCommit<{ key: string; entry: T; at: number }>(async (items) => {
    // WITH ORDINALITY ... ORDER BY: the sequence numbers follow the order of the appends.
    await o.db().query(
      `INSERT INTO ${table} (log, key, at, entry) SELECT $1, k, a, e FROM unnest($2::text[], $3::bigint[], $4::json[]) WITH ORDINALITY AS x(k, a, e, o) ORDER BY o`,
      [o.name, items.map((i) => i.key), items.map((i) => i.at), items.map((i) => JSON.stringify(i.entry))],
    );
  });
  return {
    async append(entries) {
      if (closed) throw new Error(`history log ${o.name} is closed: open it again through the store's stateLogs()`);
      if (entries.length) await writer.push(entries.map(({ key, entry }) => ({ key, entry, at: Math.round(now()) })));
    },
    async query(key, limit = 1000, match = () => true) {
      await writer.idle();
      const out: T[] = [];
      if (key === undefined) {
        // The oldest `limit` that match: forward in pages.
        for (let after = 0; ;) {
          const r = await o.db().query<{ seq: string; entry: T }>(`SELECT seq, entry FROM ${table} WHERE log = $1 AND seq > $2 ORDER BY seq LIMIT ${PAGE}`, [o.name, after]);
          for (const row of r.rows) {
            if (!match(row.entry)) continue;
            out.push(row.entry);
            if (out.length >= limit) return out;
          }
          if (r.rows.length < PAGE) return out;
          after = Number(r.rows.at(-1)!.seq);
        }
      }
      // The newest `limit` of the key that match: backwards in pages, then oldest first.
      for (let before = Number.MAX_SAFE_INTEGER; ;) {
        const r = await o.db().query<{ seq: string; entry: T }>(`SELECT seq, entry FROM ${table} WHERE log = $1 AND key = $2 AND seq < $3 ORDER BY seq DESC LIMIT ${PAGE}`, [o.name, key, before]);
        for (const row of r.rows) {
          if (!match(row.entry)) continue;
          out.push(row.entry);
          if (out.length >= limit) return out.reverse();
        }
        if (r.rows.length < PAGE) return out.reverse();
        before = Number(r.rows.at(-1)!.seq);
      }
    },
    async prune(cutoffMs) {
      await writer.idle();
      const r = await o.db().query(`DELETE FROM ${table} WHERE log = $1 AND at < $2`, [o.name, Math.round(cutoffMs)]);
      return r.rowCount ?? 0;
    },
    async close() {
      closed = true;
      await writer.idle();
    },
  };
}

/**
 * Moves a keyed log a bridge kept in files before it used PostgreSQL (`<dir>/<name>`) into `into`,
 * once: only into an empty log, and the folder is renamed `<name>.imported` afterwards, so rows
 * deleted later never come back. Jobs in flight and aggregate memory survive the switch that way;
 * the audit trail (a history log) is not moved, its files stay where they are.
 */
export async function importFileKeyedLog<T>(into: KeyedLog<T>, dir: string, name: string, options: Omit<KeyedLogOptions<T>, 'dir' | 'name' | 'fsync'>): Promise<number> {
  const from = join(dir, name);
  if (into.size > 0 || !existsSync(from)) return 0;
  const file = await openKeyedLog<T>({ ...options, dir: from, name });
  let moved = 0;
  let batch: T[] = [];
  for await (const row of file.values()) {
    batch.push(row);
    if (batch.length === 500) { await into.put(batch); moved += batch.length; batch = []; }
  }
  if (batch.length) { await into.put(batch); moved += batch.length; }
  await file.close();
  await rename(from, existsSync(`${from}.imported`) ? `${from}.imported-${Date.now()}` : `${from}.imported`);
  return moved;
}

/**
 * The store's `stateLogs`: each log opened once per store (`cache`), and loaded again after its
 * handle closed it. Keyed logs left in files under `importFrom` by an earlier run are moved in.
 */
export function postgresStateLogs(o: PostgresLogsOptions & { cache: Map<string, Promise<KeyedLog<any> | HistoryLog<any>>>; importFrom?: string }): StateLogs {
  return sharedStateLogs(o.cache, {
    keyed: async (name, options) => {
      const log = await openPostgresKeyedLog({ ...options, db: o.db, table: o.table, name });
      if (o.importFrom) await importFileKeyedLog(log, o.importFrom, name, options);
      return log;
    },
    history: (name, options) => openPostgresHistoryLog({ db: o.db, table: o.table, name, now: options.now }),
    reopenable: true,
  });
}
