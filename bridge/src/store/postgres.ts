/**
 * The PostgreSQL store: the same contract as the embedded one (test/contract/store.test.ts), for
 * operators who already back up and monitor a PostgreSQL. An event is acknowledged once its
 * INSERT has committed, so durability is PostgreSQL's (synchronous_commit decides power-loss
 * safety). The unique key on the event id is the duplicate check, also between concurrent calls.
 * Collections stay small (their owners delete finished rows), so they are read once at open and
 * served from memory; every change is written through before the call resolves. The engine's
 * state logs (jobs, aggregate memory, audit, expectations) are tables here too (stateLogs()).
 */
import pg from 'pg';
import type { Event } from '../../../shared/src/index.ts';
import {
  FINISHED_STATES, PENDING_STATES, type AppendLog, type Collection, type EventFilter, type EventStatus, type IngestResult,
  type Page, type Store, type StoredEvent,
} from './types.ts';
import { schemaSql, UNFINISHED_SQL } from './postgres-schema.ts';
import { addCount, boundsOf, emptyCounts } from './event-counts.ts';
import { postgresStateLogs } from './postgres-state-logs.ts';
import { groupCommit, groupCommitBatches } from './group-commit.ts';

export interface PostgresStoreOptions {
  /** e.g. postgres://bridge@127.0.0.1:5432/bridge */
  url: string;
  /** Tables live in this schema (created when missing). Default `logistics_bridge`. */
  schema?: string;
  /** Ids are remembered (duplicate detection) and finished events kept this long. Default 30 days. */
  retentionMs?: number;
  /** How often prune runs by itself (0 = never). Default hourly. */
  pruneEveryMs?: number;
  now?: () => Date;
}

const DAY = 86_400_000;
const FINISHED = [...FINISHED_STATES];
const STATUS_COLUMNS = ['state', 'attempts', 'last_error', 'error_class', 'blocked_by'] as const;

interface EventRow {
  n: string;
  event: Event;
  state: EventStatus['state'];
  attempts: number;
  last_error: string | null;
  error_class: EventStatus['error_class'] | null;
  blocked_by: string | null;
  received_at: Date;
  updated_at: Date;
}

function toStored(r: EventRow): StoredEvent {
  const out: StoredEvent = { event: r.event, state: r.state, attempts: r.attempts, received_at: r.received_at.toISOString(), updated_at: r.updated_at.toISOString() };
  if (r.last_error !== null) out.last_error = r.last_error;
  if (r.error_class !== null) out.error_class = r.error_class;
  if (r.blocked_by !== null) out.blocked_by = r.blocked_by;
  return out;
}

export function createPostgresStore(options: PostgresStoreOptions): Store {
  const { url, schema = 'logistics_bridge', retentionMs = 30 * DAY, pruneEveryMs = 3_600_000, now = () => new Date() } = options;
  if (!/^[a-z_][a-z0-9_]*$/.test(schema)) throw new Error(`postgres store: schema "${schema}" must be a plain lower-case SQL name`);
  const t = (name: string) => `"${schema}"."${name}"`;
  let pool: pg.Pool | undefined;
  let isOpen = false;
  let pruneTimer: NodeJS.Timeout | undefined;
  const listeners: ((events: Event[]) => void)[] = [];
  const collections = new Map<string, Collection<any>>();
  const loaded = new Map<string, Map<string, any>>();
  const logs = new Map<string, AppendLog<any>>();
  /** The engine's state logs, opened once per store (postgres-state-logs.ts). */
  const stateLogCache = new Map();

  const db = () => {
    if (!pool || !isOpen) throw new Error('store is not open');
    return pool;
  };

  /**
   * Status changes, group-committed: one UPDATE (one round trip) per batch of callers. A batch's
   * changes of one event are merged in order, so the last one of each column wins, as if applied
   * one by one. Each caller gets back its ids that matched no event.
   */
  const statusWriter = groupCommitBatches<{ id: string; patch: Record<string, unknown>; at: Date }, string[]>(async (batches) => {
    const merged = new Map<string, { p: Record<string, unknown>; at: Date }>();
    for (const b of batches) {
      for (const { id, patch, at } of b) {
        const m = merged.get(id);
        if (m) { Object.assign(m.p, patch); m.at = at; } else merged.set(id, { p: { ...patch }, at });
      }
    }
    const ids = [...merged.keys()];
    // A key present with `undefined` clears the column, as in the embedded store (written as JSON null).
    const docs = ids.map((id) => JSON.stringify(merged.get(id)!.p, (_k, v) => (v === undefined ? null : v)));
    const col = (name: (typeof STATUS_COLUMNS)[number], type: string) => `${name} = CASE WHEN x.p ? '${name}' THEN (x.p->>'${name}')::${type} ELSE e.${name} END`;
    const r = await db().query<{ id: string }>(
      `UPDATE ${t('events')} AS e SET updated_at = x.at, ${col('state', 'text')}, ${col('attempts', 'integer')}, ${col('last_error', 'text')}, ${col('error_class', 'text')}, ${col('blocked_by', 'text')}
       FROM unnest($1::text[], $2::jsonb[], $3::timestamptz[]) AS x(id, p, at) WHERE e.id = x.id RETURNING e.id`,
      [ids, docs, ids.map((id) => merged.get(id)!.at)],
    );
    const found = new Set(r.rows.map((x) => x.id));
    return batches.map((b) => b.filter((x) => !found.has(x.id)).map((x) => x.id));
  });

  const store: Store = {
    get isOpen() { return isOpen; },

    async open() {
      pool = new pg.Pool({ connectionString: url, max: 4 });
      try {
        await pool.query(schemaSql(schema));
        const rows = await pool.query<{ name: string; id: string; doc: unknown }>(`SELECT name, id, doc FROM ${t('collection_rows')} ORDER BY seq`);
        for (const r of rows.rows) rowsOf(r.name).set(r.id, r.doc);
      } catch (e) {
        await pool.end().catch(() => {});
        pool = undefined;
        throw new Error(`postgres store: cannot open ${redactUrl(url)}: ${(e as Error).message}`, { cause: e });
      }
      isOpen = true;
      if (pruneEveryMs > 0) { pruneTimer = setInterval(() => void store.prune().catch(() => {}), pruneEveryMs); pruneTimer.unref(); }
    },

    async close() {
      isOpen = false;
      clearInterval(pruneTimer);
      await pool?.end();
      pool = undefined;
    },

    async ingest(events) {
      const firsts = [...new Map(events.map((e) => [e.id, e])).values()];
      const at = now();
      // One statement: ids already stored (or committed meanwhile by a concurrent call) are skipped.
      const inserted = await db().query<{ id: string }>(
        `INSERT INTO ${t('events')} (id, type, aggregate, event, state, attempts, received_at, updated_at)
         SELECT id, type, aggregate, event, 'received', 0, $5, $5
           FROM unnest($1::text[], $2::text[], $3::text[], $4::json[]) WITH ORDINALITY AS x(id, type, aggregate, event, o)
          ORDER BY o
         ON CONFLICT (id) DO NOTHING RETURNING id`,
        [firsts.map((e) => e.id), firsts.map((e) => e.type), firsts.map((e) => e.aggregate), firsts.map((e) => JSON.stringify(e)), at],
      );
      const stored = new Set(inserted.rows.map((r) => r.id));
      const result: IngestResult = { accepted: [], duplicates: [] };
      const accepted: Event[] = [];
      for (const e of events) {
        if (stored.delete(e.id)) { result.accepted.push(e.id); accepted.push(e); }
        else result.duplicates.push(e.id);
      }
      if (accepted.length) for (const l of listeners) l(accepted);
      return result;
    },

    async get(id) {
      const r = await db().query<EventRow>(`SELECT * FROM ${t('events')} WHERE id = $1`, [id]);
      return r.rows[0] ? toStored(r.rows[0]) : undefined;
    },

    async list(filter: EventFilter): Promise<Page<StoredEvent>> {
      const where = ['n > $1'];
      const args: unknown[] = [filter.cursor ? Number.parseInt(filter.cursor, 36) || 0 : 0];
      for (const key of ['state', 'type', 'aggregate'] as const) {
        if (filter[key]) { args.push(filter[key]); where.push(`${key} = $${args.length}`); }
      }
      args.push(filter.limit + 1);
      const r = await db().query<EventRow>(`SELECT * FROM ${t('events')} WHERE ${where.join(' AND ')} ORDER BY n LIMIT $${args.length}`, args);
      const more = r.rows.length > filter.limit;
      const page = r.rows.slice(0, filter.limit);
      return { items: page.map(toStored), next_cursor: more ? Number(page.at(-1)!.n).toString(36) : undefined };
    },

    async setStatus(id, patch) {
      await store.patchStatus(id, patch);
      const r = await db().query<EventRow>(`SELECT * FROM ${t('events')} WHERE id = $1`, [id]);
      return toStored(r.rows[0]);
    },

    async patchStatus(id, patch) {
      const missing = await statusWriter.push([{ id, patch, at: now() }]);
      if (missing.length) throw new Error(`unknown event ${id}`);
    },

    async unfinished() {
      const r = await db().query<EventRow>(`SELECT * FROM ${t('events')} WHERE NOT (state = ANY($1)) ORDER BY n`, [FINISHED]);
      return r.rows.map(toStored);
    },

    async counts(query) {
      const bounds = boundsOf(query);
      const at = query?.now ?? now();
      // Both read the partial index of unfinished events only; width_bucket numbers the buckets as ageBucket does.
      const [groups, oldest] = await Promise.all([
        db().query<{ state: EventStatus['state']; error_class: string | null; bucket: number; n: string }>(
          `SELECT state, error_class, width_bucket(greatest(0, extract(epoch FROM $1::timestamptz - received_at))::float8, $2::float8[]) AS bucket, count(*) AS n
             FROM ${t('events')} WHERE ${UNFINISHED_SQL} GROUP BY 1, 2, 3`,
          [at, bounds],
        ),
        db().query<{ id: string; type: string; aggregate: string; state: EventStatus['state']; received_at: Date }>(
          `SELECT id, type, aggregate, state, received_at FROM ${t('events')} WHERE ${UNFINISHED_SQL} AND state = ANY($1) ORDER BY received_at, n LIMIT 1`,
          [[...PENDING_STATES]],
        ),
      ]);
      const out = emptyCounts(bounds);
      for (const g of groups.rows) addCount(out, g.state, g.error_class ?? undefined, g.bucket, Number(g.n));
      const o = oldest.rows[0];
      if (o) out.oldestPending = { id: o.id, type: o.type, aggregate: o.aggregate, state: o.state, received_at: o.received_at.toISOString() };
      return out;
    },

    onAccepted(listener) { listeners.push(listener); },

    collection<T extends { id: string }>(name: string): Collection<T> {
      let c = collections.get(name);
      if (!c) { c = collectionOf<T>(name); collections.set(name, c); }
      return c;
    },

    log<T>(name: string): AppendLog<T> {
      let l = logs.get(name);
      if (!l) {
        l = {
          async append(entries) {
            if (!entries.length) return;
            await db().query(`INSERT INTO ${t('log_entries')} (name, entry) SELECT $1, e FROM unnest($2::json[]) WITH ORDINALITY AS x(e, o) ORDER BY o`, [name, entries.map((e) => JSON.stringify(e))]);
          },
          async query(match, limit = 1000) {
            // Logs are read rarely, by operators: scan in pages, filter with the caller's predicate.
            const out: T[] = [];
            let after = 0;
            for (;;) {
              const r = await db().query<{ seq: string; entry: T }>(`SELECT seq, entry FROM ${t('log_entries')} WHERE name = $1 AND seq > $2 ORDER BY seq LIMIT 1000`, [name, after]);
              for (const row of r.rows) {
                if (match(row.entry)) out.push(row.entry);
                if (out.length >= limit) return out;
              }
              if (r.rows.length < 1000) return out;
              after = Number(r.rows.at(-1)!.seq);
            }
          },
        };
        logs.set(name, l);
      }
      return l as AppendLog<T>;
    },

    stateLogs: (place) => postgresStateLogs({ db, table: t, cache: stateLogCache, importFrom: place.dir }),

    async prune(at = now()) {
      const cutoff = new Date(at.getTime() - retentionMs);
      const r = await db().query(`DELETE FROM ${t('events')} WHERE state = ANY($1) AND received_at < $2`, [FINISHED, cutoff]);
      return r.rowCount ?? 0;
    },
  };

  function rowsOf(name: string): Map<string, any> {
    let m = loaded.get(name);
    if (!m) { m = new Map(); loaded.set(name, m); }
    return m;
  }

  function collectionOf<T extends { id: string }>(name: string): Collection<T> {
    const rows = rowsOf(name) as Map<string, T>;
    /**
     * Writes of one collection are group-committed: one statement (one round trip) per batch of
     * callers, deletes and upserts together. The last change of a row in a batch wins, on disk as
     * in memory, as if the changes were written one after another. A row is serialised when put.
     */
    type Op = { id: string; text?: string; value?: T };
    const writer = groupCommit<Op>(async (ops) => {
      const last = new Map<string, Op>();
      for (const op of ops) { last.delete(op.id); last.set(op.id, op); }
      const ordered = [...last.values()];
      const gone = ordered.filter((op) => op.text === undefined).map((op) => op.id);
      const put = ordered.filter((op) => op.text !== undefined);
      // Their id sets are disjoint, so one statement does both.
      await db().query(
        `WITH gone AS (DELETE FROM ${t('collection_rows')} WHERE name = $1 AND id = ANY($2::text[]))
         INSERT INTO ${t('collection_rows')} (name, id, doc) SELECT $1, id, doc FROM unnest($3::text[], $4::json[]) WITH ORDINALITY AS x(id, doc, o) ORDER BY o
         ON CONFLICT (name, id) DO UPDATE SET doc = excluded.doc`,
        [name, gone, put.map((op) => op.id), put.map((op) => op.text!)],
      );
      for (const op of ordered) {
        if (op.text === undefined) rows.delete(op.id);
        else rows.set(op.id, op.value!);
      }
    });
    return {
      get: (id) => rows.get(id),
      all: () => [...rows.values()],
      async put(records) {
        if (records.length) await writer.push(records.map((r) => ({ id: r.id, text: JSON.stringify(r), value: structuredClone(r) })));
      },
      async delete(ids) {
        if (ids.length) await writer.push(ids.map((id) => ({ id })));
      },
    };
  }

  return store;
}

/** The URL without its password, for error messages and logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'the configured database URL';
  }
}
