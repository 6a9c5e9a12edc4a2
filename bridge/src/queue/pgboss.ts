/**
 * The queue role (core/queue.ts) on pg-boss 12 (>= 12.38.1: 12.38.0 fixed one blocked key starving
 * its queue), so several bridge processes on one PostgreSQL share the work with no leader of our own.
 *
 * - One pg-boss queue per partner (`<prefix><partner>`), policy `key_strict_fifo` with the job's key
 *   as `singletonKey`: a key's job that is active, in retry or failed holds back only that key.
 * - The engine's failure rule picks retry times, so pg-boss never gives up by itself (`retryLimit`
 *   huge, `retryDelay` 0): `retryAt` is `fail()` then `update(startAfter)` in one transaction.
 * - `moveTo` (a fallback to another partner) deletes the job here and inserts it there, in one transaction.
 * - `hold` leaves the job `failed` (a dead letter blocking its key, listed by `getBlockedKeys()`);
 *   `replay` is `retry()`, `discard` is `deleteJob()`. A completed job is deleted (`deleteJob()`)
 *   rather than kept, because automatic deletion would also sweep away held (failed) jobs.
 * - Dead workers: fetched jobs carry a heartbeat (`heartbeatSeconds`, touched every third of it);
 *   the supervisor fails a job whose heartbeat stopped and it is offered again. A job is in doubt
 *   when pg-boss's claim count (`retryCount`) passed the count our own settles expected
 *   (`data.expect`): someone took it and never settled it.
 * - Every settle is fenced to the attempt fetched ({ id, retryCount }): a worker whose claim lapsed
 *   changes nothing.
 *
 * Offered again after a worker died within heartbeatSeconds + 2 × superviseIntervalSeconds
 * (+ one poll): 10 + 2 + 2 s with the defaults here.
 */
import pg from 'pg';
import { PgBoss, type CommandResponse, type Db as IDatabase, type Job } from 'pg-boss';
import { QueueError, type ConcurrencyOf, type HeldJob, type JobQueue, type NewQueueJob, type TakenJob } from '../core/queue.ts';

export interface PgBossQueueOptions {
  connectionString: string;
  /** pg-boss's own schema (a plain lower-case identifier). */
  schema: string;
  concurrency?: ConcurrencyOf;
  /** A job whose worker stops touching it for this long is offered again. >= 10 (pg-boss's floor). */
  heartbeatSeconds?: number;
  /** How often the supervisor looks for lost heartbeats. */
  superviseIntervalSeconds?: number;
  /** Prefix of the per-partner queue names. */
  prefix?: string;
  /** Connections for pg-boss and for our own transactions. */
  poolSize?: number;
  onError?: (e: Error) => void;
}

/** What we keep in a pg-boss job's `data`. */
interface Data<P> {
  /** The engine's job id. */
  id: string;
  /** The ordering key (also the job's singletonKey; fetch does not return that). */
  key: string;
  payload: P;
  /** The `retryCount` the next claim has unless someone took it and never settled it. */
  expect: number;
}

type Claim = { name: string; id: string; retryCount: number };

/** pg-boss never gives up on its own: the engine's failure rule decides. */
const NEVER = 1_000_000_000;
/** Queued jobs are never swept away (pg-boss's default is 14 days). */
const TEN_YEARS_S = 10 * 365 * 86_400;

/** How many jobs a settle changed (the count pg-boss returns; its type declares no members). */
const affected = (r: CommandResponse): number => (r as { affected?: number }).affected ?? 0;

let lastMs = 0;
let counter = 0;
/**
 * Ids that sort in creation order: pg-boss orders a key's jobs by `created_on`, then `id`, and
 * `created_on` is the transaction's start, the same for every job enqueued in one transaction.
 */
function orderedUuid(): string {
  const now = Date.now();
  if (now > lastMs) {
    lastMs = now;
    counter = 0;
  } else if (++counter > 0xfff) {
    lastMs += 1;
    counter = 0;
  }
  const ms = lastMs.toString(16).padStart(12, '0');
  const rand = Array.from({ length: 15 }, () => Math.floor(Math.random() * 16).toString(16)).join('');
  return `${ms.slice(0, 8)}-${ms.slice(8)}-7${counter.toString(16).padStart(3, '0')}-${(8 + Math.floor(Math.random() * 4)).toString(16)}${rand.slice(0, 3)}-${rand.slice(3)}`;
}

export interface PgBossQueue<P> extends JobQueue<P> {
  /** Enqueues inside the caller's transaction (the event row and its first jobs commit together). */
  enqueueIn(db: IDatabase, jobs: NewQueueJob<P>[]): Promise<void>;
  readonly boss: PgBoss;
}

/** Starts pg-boss on its schema (creating or migrating it) and returns the queue. */
export async function openPgBossQueue<P>(o: PgBossQueueOptions): Promise<PgBossQueue<P>> {
  const { schema, concurrency = () => 1, heartbeatSeconds = 10, superviseIntervalSeconds = 2, prefix = 'partner.', poolSize = 4 } = o;
  if (!/^[a-z_][a-z0-9_]*$/.test(schema)) throw new QueueError(`pg-boss schema "${schema}" must be a plain lower-case identifier (letters, digits, _)`, { schema });
  const onError = o.onError ?? (() => {});
  const boss = new PgBoss({
    connectionString: o.connectionString,
    schema,
    max: poolSize,
    superviseIntervalSeconds,
    monitorIntervalSeconds: superviseIntervalSeconds,
    schedule: false,
    application_name: 'olb-queue',
  });
  boss.on('error', onError);
  await boss.start();
  const pool = new pg.Pool({ connectionString: o.connectionString, max: 2, application_name: 'olb-queue-tx' });
  pool.on('error', onError);

  const queues = new Map<string, Promise<string>>();
  const inHand = new Map<string, Map<string, Claim>>();
  const nameOf = (partner: string) => {
    const name = `${prefix}${partner}`;
    if (!/^[\w.\-/]+$/.test(name)) throw new QueueError(`partner id "${partner}" cannot name a pg-boss queue: use letters, digits, _ . - /`, { partner });
    return name;
  };
  const queueOf = (partner: string): Promise<string> => {
    let q = queues.get(partner);
    if (!q) {
      const name = nameOf(partner);
      q = boss.createQueue(name, {
        policy: 'key_strict_fifo', retryLimit: NEVER, retryDelay: 0, retryBackoff: false, heartbeatSeconds,
        retentionSeconds: TEN_YEARS_S, deleteAfterSeconds: 0,
      }).then(() => name);
      queues.set(partner, q);
      q.catch(() => queues.delete(partner));
    }
    return q;
  };
  const handOf = (partner: string) => {
    let m = inHand.get(partner);
    if (!m) inHand.set(partner, (m = new Map()));
    return m;
  };

  async function inTx<T>(fn: (db: IDatabase) => Promise<T>): Promise<T> {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      const r = await fn({ executeSql: (text: string, values?: unknown[]) => client.query(text, values as any[]) });
      await client.query('COMMIT');
      return r;
    } catch (e) {
      await client.query('ROLLBACK').catch(() => {});
      throw e;
    } finally {
      client.release();
    }
  }

  async function tableOf(name: string): Promise<string> {
    const q = await boss.getQueue(name);
    if (!q) throw new QueueError(`pg-boss queue ${name} does not exist in schema ${schema}`, { name, schema });
    return q.table;
  }

  /** The stored pg-boss job of an engine job id, if any. */
  async function findByOurId(name: string, id: string) {
    const [j] = await boss.findJobs<Data<P>>(name, { data: { id }, limit: 1 });
    return j;
  }

  async function enqueueIn(db: IDatabase, jobs: NewQueueJob<P>[]) {
    const byPartner = new Map<string, NewQueueJob<P>[]>();
    for (const j of jobs) {
      let l = byPartner.get(j.partner);
      if (!l) byPartner.set(j.partner, (l = []));
      if (!l.some((x) => x.id === j.id)) l.push(j);
    }
    for (const [partner, list] of byPartner) {
      const name = await queueOf(partner);
      const table = await tableOf(name);
      // Safe to repeat: ids already stored stay as they are (the engine's own event dedupe, in the
      // same transaction, rules out two replicas enqueueing one id at the same instant).
      const { rows } = await db.executeSql(`SELECT data->>'id' AS id FROM ${schema}.${table} WHERE name = $1 AND data->>'id' = ANY($2::text[])`, [name, list.map((j) => j.id)]);
      const known = new Set(rows.map((r: { id: string }) => r.id));
      const fresh = list.filter((j) => !known.has(j.id));
      if (!fresh.length) continue;
      await boss.insert(name, fresh.map((j) => ({ id: orderedUuid(), singletonKey: j.key, data: { id: j.id, key: j.key, payload: j.payload, expect: 0 } satisfies Data<P> })), { db });
    }
  }

  async function settle(job: TakenJob<P>, fn: (c: Claim) => Promise<number>): Promise<boolean> {
    const c = job.claim as Claim;
    handOf(job.partner).delete(c.id);
    return (await fn(c)) > 0;
  }

  const touchEvery = Math.max(1000, Math.floor((heartbeatSeconds * 1000) / 3));
  let touching = false;
  const heartbeat = setInterval(async () => {
    if (touching) return;
    touching = true;
    try {
      for (const m of inHand.values()) {
        const claims = [...m.values()];
        if (claims.length) await boss.touch(claims[0].name, claims.map((c) => ({ id: c.id, retryCount: c.retryCount })));
      }
    } catch (e) {
      onError(e as Error);
    } finally {
      touching = false;
    }
  }, touchEvery);

  return {
    boss,
    // One missed heartbeat window, two supervisor passes, and a poll.
    recoveryBoundMs: (heartbeatSeconds + 2 * superviseIntervalSeconds + 2) * 1000,
    enqueueIn,
    enqueue: (jobs) => inTx((db) => enqueueIn(db, jobs)),
    async take(partner, max = Number.POSITIVE_INFINITY) {
      const hand = handOf(partner);
      const room = Math.min(max, concurrency(partner) - hand.size);
      if (room <= 0) return [];
      const name = await queueOf(partner);
      const got: Job<Data<P>>[] = await boss.fetch<Data<P>>(name, { batchSize: room });
      return got.map((j) => {
        hand.set(j.id, { name, id: j.id, retryCount: j.retryCount });
        return { id: j.data.id, partner, key: j.data.key, payload: j.data.payload, inDoubt: j.retryCount > j.data.expect, claim: { name, id: j.id, retryCount: j.retryCount } };
      });
    },
    complete: (job) => settle(job, async (c) => affected(await boss.deleteJob(c.name, { id: c.id, retryCount: c.retryCount }))),
    retryAt: (job, at, payload) => settle(job, (c) => inTx(async (db) => {
      const failed = await boss.fail(c.name, { id: c.id, retryCount: c.retryCount }, null, { db });
      if (!affected(failed)) return 0;
      const data: Data<P> = { id: job.id, key: job.key, payload: payload !== undefined ? payload : job.payload, expect: c.retryCount + 1 };
      await boss.update(c.name, data, { id: c.id, startAfter: new Date(at), db });
      return 1;
    })),
    hold: (job, payload) => settle(job, (c) => inTx(async (db) => {
      const table = await tableOf(c.name);
      const data: Data<P> = { id: job.id, key: job.key, payload: payload !== undefined ? payload : job.payload, expect: c.retryCount + 1 };
      // fail() lands in `failed` (not `retry`) once retry_count reaches retry_limit.
      const { rows } = await db.executeSql(
        `UPDATE ${schema}.${table} SET retry_limit = retry_count, data = $4::jsonb WHERE name = $1 AND id = $2 AND state = 'active' AND retry_count = $3 RETURNING id`,
        [c.name, c.id, c.retryCount, JSON.stringify(data)],
      );
      if (!rows.length) return 0;
      return affected(await boss.fail(c.name, { id: c.id, retryCount: c.retryCount }, { message: 'held for a person' }, { db }));
    })),
    async moveTo(job, partner, payload) {
      const to = await queueOf(partner);
      return settle(job, (c) => inTx(async (db) => {
        if (!affected(await boss.deleteJob(c.name, { id: c.id, retryCount: c.retryCount }, { db }))) return 0;
        const data: Data<P> = { id: job.id, key: job.key, payload: payload !== undefined ? payload : job.payload, expect: 0 };
        await boss.insert(to, [{ id: orderedUuid(), singletonKey: job.key, data }], { db });
        return 1;
      }));
    },
    async held(partner) {
      const name = await queueOf(partner);
      const out: (HeldJob<P> & { at: number })[] = [];
      for (const key of await boss.getBlockedKeys(name, { limit: 100_000 })) {
        for (const j of await boss.findJobs<Data<P>>(name, { key })) {
          if (j.state === 'failed') out.push({ id: j.data.id, partner, key, payload: j.data.payload, at: new Date(j.createdOn).getTime() });
        }
      }
      return out.sort((a, b) => a.at - b.at).map(({ at: _, ...h }) => h);
    },
    async replay(partner, id, payload) {
      const name = await queueOf(partner);
      const j = await findByOurId(name, id);
      if (!j || j.state !== 'failed') return false;
      return inTx(async (db) => {
        if (!affected(await boss.retry(name, j.id, { db }))) return false;
        const data: Data<P> = { id, key: j.data.key, payload: payload !== undefined ? payload : j.data.payload, expect: j.retryCount + 1 };
        await boss.update(name, data, { id: j.id, retryLimit: NEVER, db });
        return true;
      });
    },
    async discard(partner, id) {
      const name = await queueOf(partner);
      const j = await findByOurId(name, id);
      if (!j || j.state !== 'failed') return false;
      return affected(await boss.deleteJob(name, j.id)) > 0;
    },
    async close() {
      clearInterval(heartbeat);
      await boss.stop({ graceful: false, close: true });
      await pool.end();
    },
  };
}
