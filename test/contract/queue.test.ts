/**
 * One suite every implementation of the queue role (bridge/src/core/queue.ts) passes: the local
 * queue on a keyed log (files), and pg-boss on the machine's PostgreSQL (a fresh schema per test).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConcurrencyOf, JobQueue, TakenJob } from '../../bridge/src/core/queue.ts';
import { openLocalQueue, queueRowKey, type QueueRow } from '../../bridge/src/queue/local.ts';
import { openPgBossQueue } from '../../bridge/src/queue/pgboss.ts';
import { openKeyedLog } from '../../bridge/src/store/keyed-log.ts';
import { createPostgresStore } from '../../bridge/src/store/postgres.ts';
import { stateLogs } from '../../bridge/src/store/state-logs.ts';
import { postgresForTests, type TestPostgres } from '../helpers/postgres.ts';

type P = { n: number; note?: string };

/** Where queues live for one test: `open` is one more worker (a new process for the local queue). */
interface Place {
  open(concurrency?: ConcurrencyOf): Promise<JobQueue<P>>;
  /** Whether several workers may be open on it at once (else a worker dies before the next opens). */
  shared: boolean;
  done(): Promise<void>;
}
interface Maker { name: string; prepare(): Promise<boolean>; make(): Promise<Place>; cleanUp(): Promise<void> }

let pgt: TestPostgres | undefined;
const makers: Maker[] = [
  {
    name: 'local (keyed log files)',
    prepare: async () => true,
    async make() {
      const dir = mkdtempSync(join(tmpdir(), 'olb-queue-'));
      const open: JobQueue<P>[] = [];
      return {
        shared: false,
        async open(concurrency = () => 10) {
          const log = await openKeyedLog<QueueRow<P>>({ dir, name: 'queue', key: queueRowKey });
          const q = await openLocalQueue<P>({ log, concurrency });
          open.push(q);
          return q;
        },
        async done() {
          for (const q of open) await q.close().catch(() => {});
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
    cleanUp: async () => {},
  },
  {
    // The same local queue with its rows in the PostgreSQL store's keyed_rows table (one process per schema).
    name: 'local (PostgreSQL keyed_rows)',
    async prepare() {
      pgt ??= await postgresForTests('the queue contract');
      return !!pgt;
    },
    async make() {
      const schema = pgt!.freshSchema();
      const open: JobQueue<P>[] = [];
      return {
        shared: false,
        async open(concurrency = () => 10) {
          const store = createPostgresStore({ url: pgt!.url, schema, pruneEveryMs: 0 });
          await store.open();
          const logs = stateLogs(store);
          const q = await openLocalQueue<P>({ log: await logs.keyed<QueueRow<P>>('engine_queue', { key: queueRowKey }), concurrency });
          const wrapped: JobQueue<P> = { ...q, async close() { await q.close(); await logs.close(); await store.close(); } };
          open.push(wrapped);
          return wrapped;
        },
        async done() {
          for (const q of open) await q.close().catch(() => {});
        },
      };
    },
    cleanUp: async () => {},
  },
  {
    name: 'pg-boss (PostgreSQL)',
    async prepare() {
      pgt ??= await postgresForTests('the queue contract');
      return !!pgt;
    },
    async make() {
      const schema = pgt!.freshSchema();
      const open: JobQueue<P>[] = [];
      return {
        shared: true,
        async open(concurrency = () => 10) {
          const q = await openPgBossQueue<P>({ connectionString: pgt!.url, schema, concurrency, heartbeatSeconds: 10, superviseIntervalSeconds: 1, poolSize: 3 });
          open.push(q);
          return q;
        },
        async done() {
          for (const q of open) await q.close().catch(() => {});
        },
      };
    },
    cleanUp: async () => pgt?.dropSchemas(),
  },
];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ids = (js: TakenJob<P>[]) => js.map((j) => j.id).sort();
const job = (id: string, key: string, n = 0, partner = 'wms') => ({ id, partner, key, payload: { n } });

/** Takes until something comes or `ms` pass. */
async function takeWithin(q: JobQueue<P>, partner: string, ms: number, every = 100): Promise<{ got: TakenJob<P>[]; after: number }> {
  const t0 = Date.now();
  for (;;) {
    const got = await q.take(partner);
    if (got.length || Date.now() - t0 > ms) return { got, after: Date.now() - t0 };
    await sleep(every);
  }
}

for (const m of makers) {
  const s = suite<{ place: Place }>(`queue contract: ${m.name}`);
  let skip = false;
  s.before(async () => {
    skip = !(await m.prepare());
  });
  s.after(() => m.cleanUp());
  s.before.each(async (ctx) => {
    if (!skip) ctx.place = await m.make();
  });
  s.after.each(async (ctx) => {
    await ctx.place?.done();
  });
  const t = (name: string, fn: (ctx: { place: Place }) => Promise<void>) => s(name, async (ctx) => {
    if (skip) return console.log(`  skipped (no PostgreSQL): ${name}`);
    await fn(ctx);
  });

  t('a key runs in enqueue order, one at a time, through retries', async ({ place }) => {
    const q = await place.open();
    await q.enqueue([job('a1', 'A', 1), job('a2', 'A', 2), job('a3', 'A', 3)]);
    const [a1, ...none] = await q.take('wms');
    assert.is(a1.id, 'a1');
    assert.is(none.length, 0, 'a2 waits while a1 is taken');
    assert.is(a1.inDoubt, false);
    assert.ok(await q.retryAt(a1, Date.now() + 400, { n: 11 }));
    assert.equal(await q.take('wms'), [], 'a1 is not due, and a2 waits behind it');
    const again = await takeWithin(q, 'wms', 3000, 50);
    assert.equal(ids(again.got), ['a1']);
    assert.is(again.got[0].payload.n, 11, 'the payload given with the retry');
    assert.is(again.got[0].inDoubt, false, 'a retry the engine asked for is not in doubt');
    assert.ok(await q.complete(again.got[0]));
    const [a2] = await q.take('wms');
    assert.is(a2.id, 'a2');
    assert.ok(await q.complete(a2));
    const [a3] = await q.take('wms');
    assert.is(a3.id, 'a3');
    assert.ok(await q.complete(a3));
    assert.equal(await q.take('wms'), []);
  });

  t('other keys flow while one is blocked', async ({ place }) => {
    const q = await place.open();
    await q.enqueue([job('a1', 'A'), job('a2', 'A'), job('b1', 'B')]);
    const first = await q.take('wms');
    assert.equal(ids(first), ['a1', 'b1']);
    const a1 = first.find((j) => j.id === 'a1')!;
    const b1 = first.find((j) => j.id === 'b1')!;
    assert.ok(await q.hold(a1));
    assert.ok(await q.complete(b1));
    await q.enqueue([job('b2', 'B'), job('c1', 'C')]);
    const next = await q.take('wms');
    assert.equal(ids(next), ['b2', 'c1'], 'a2 stays behind the held a1; B and C flow');
  });

  t('the retry time the engine chose is honoured', async ({ place }) => {
    const q = await place.open();
    await q.enqueue([job('x', 'X')]);
    const [x] = await q.take('wms');
    const at = Date.now() + 1200;
    await q.retryAt(x, at);
    const { got, after } = await takeWithin(q, 'wms', 5000, 50);
    assert.equal(ids(got), ['x']);
    assert.ok(Date.now() >= at - 50, `taken ${at - Date.now()} ms before its time`);
    assert.ok(after < 1200 + 1500, `taken ${after} ms after the retry was asked for 1200 ms`);
  });

  t('a held job blocks its key until replayed, and is listed meanwhile', async ({ place }) => {
    const q = await place.open();
    await q.enqueue([job('a1', 'A', 1), job('a2', 'A', 2)]);
    const [a1] = await q.take('wms');
    assert.ok(await q.hold(a1, { n: 1, note: 'refused' }));
    assert.equal((await q.held('wms')).map((h) => [h.id, h.key, h.payload.note]), [['a1', 'A', 'refused']]);
    await sleep(200);
    assert.equal(await q.take('wms'), [], 'a2 stays blocked');
    assert.is(await q.replay('wms', 'nope'), false, 'replaying an unknown id says so');
    assert.ok(await q.replay('wms', 'a1', { n: 100 }));
    assert.equal(await q.held('wms'), []);
    const [again, ...rest] = await q.take('wms');
    assert.is(again.id, 'a1', 'the replayed job runs first, before a2');
    assert.is(rest.length, 0);
    assert.is(again.payload.n, 100);
    assert.is(again.inDoubt, false);
    assert.ok(await q.complete(again));
    const [a2] = await q.take('wms');
    assert.is(a2.id, 'a2');
  });

  t('a discarded held job frees its key', async ({ place }) => {
    const q = await place.open();
    await q.enqueue([job('a1', 'A'), job('a2', 'A')]);
    const [a1] = await q.take('wms');
    await q.hold(a1);
    assert.is(await q.discard('wms', 'a2'), false, 'only a held job can be discarded');
    assert.ok(await q.discard('wms', 'a1'));
    assert.equal(await q.held('wms'), []);
    const [a2] = await q.take('wms');
    assert.is(a2.id, 'a2');
  });

  t('many blocked keys do not starve a key that may run', async ({ place }) => {
    const q = await place.open(() => 100);
    const blocked = Array.from({ length: 40 }, (_, i) => `b${i}`);
    await q.enqueue(blocked.flatMap((k) => [job(`${k}-1`, k), job(`${k}-2`, k)]));
    const heads = await q.take('wms');
    assert.is(heads.length, 40);
    for (const h of heads) await q.hold(h);
    await q.enqueue([job('z-1', 'z')]);
    const [z, ...rest] = await q.take('wms', 1);
    assert.is(z?.id, 'z-1', 'the one free key is found behind 40 blocked ones');
    assert.is(rest.length, 0);
    assert.is((await q.held('wms')).length, 40);
  });

  t('a held job blocks only its own partner', async ({ place }) => {
    const q = await place.open();
    await q.enqueue([job('w1', 'A', 0, 'wms'), job('w2', 'A', 0, 'wms'), job('c1', 'A', 0, 'carrier')]);
    const [w1] = await q.take('wms');
    await q.hold(w1);
    const [c1] = await q.take('carrier');
    assert.is(c1?.id, 'c1');
  });

  t('a job moved to another partner leaves its old key free and joins the new queue at once, not in doubt', async ({ place }) => {
    const q = await place.open();
    await q.enqueue([job('a1', 'A', 1, 'ups'), job('a2', 'A', 2, 'ups')]);
    const [a1] = await q.take('ups');
    assert.ok(await q.moveTo(a1, 'dhl', { n: 9 }));
    assert.is(await q.complete(a1), false, 'the claim ended with the move');
    const [a2] = await q.take('ups');
    assert.is(a2?.id, 'a2', 'the old queue\'s key flows on');
    const [moved] = await q.take('dhl');
    assert.equal([moved?.id, moved?.key, moved?.payload.n, moved?.inDoubt], ['a1', 'A', 9, false]);
    assert.ok(await q.complete(moved));
    assert.equal(await q.take('dhl'), []);
  });

  t('a moved job is in exactly one queue after a restart', async ({ place }) => {
    const q1 = await place.open();
    await q1.enqueue([job('a1', 'A', 1, 'ups')]);
    const [a1] = await q1.take('ups');
    await q1.moveTo(a1, 'dhl');
    await q1.close();
    const q2 = await place.open();
    assert.equal(await q2.take('ups'), []);
    const [moved] = await q2.take('dhl');
    assert.is(moved?.id, 'a1');
    assert.is(moved.inDoubt, false);
  });

  t('a worker never holds more than the partner concurrency', async ({ place }) => {
    const q = await place.open((p) => (p === 'wms' ? 2 : 5));
    await q.enqueue(['k1', 'k2', 'k3', 'k4', 'k5'].map((k) => job(`${k}-1`, k)));
    const two = await q.take('wms');
    assert.is(two.length, 2);
    assert.equal(await q.take('wms'), [], 'at the cap');
    await q.complete(two[0]);
    const one = await q.take('wms', 5);
    assert.is(one.length, 1, 'one slot freed');
    await q.retryAt(two[1], Date.now());
    await q.hold(one[0]);
    const limited = await q.take('wms', 1);
    assert.is(limited.length, 1, 'take(partner, max) takes at most max');
  });

  t('enqueue is safe to repeat', async ({ place }) => {
    const q = await place.open();
    await q.enqueue([job('a1', 'A')]);
    await q.enqueue([job('a1', 'A'), job('a1', 'A')]);
    const [a1] = await q.take('wms');
    await q.complete(a1);
    assert.equal(await q.take('wms'), []);
  });

  t('a job taken by a worker that died is offered again, in doubt, within the bound, and its old claim changes nothing', async ({ place }) => {
    const q1 = await place.open();
    await q1.enqueue([job('a1', 'A'), job('a2', 'A')]);
    const [a1] = await q1.take('wms');
    let q2: JobQueue<P> | undefined;
    if (place.shared) {
      q2 = await place.open();
      assert.equal(await q2.take('wms'), [], 'not offered to another worker while its taker lives');
    }
    // Closing without settling is, for the queue, a death: no heartbeat, no settle.
    await q1.close();
    q2 ??= await place.open();
    const { got, after } = await takeWithin(q2, 'wms', q2.recoveryBoundMs + 5000, 250);
    assert.equal(ids(got), ['a1'], `offered again after ${after} ms`);
    assert.ok(after <= q2.recoveryBoundMs + 1000, `offered again after ${after} ms; bound ${q2.recoveryBoundMs} ms`);
    assert.is(got[0].inDoubt, true, 'the dead worker may have called the partner');
    assert.is(await q2.complete(a1), false, 'the dead claim cannot settle the new attempt');
    assert.equal(await q2.take('wms'), [], 'a2 still waits behind the re-offered a1');
    assert.ok(await q2.retryAt(got[0], Date.now()));
    const { got: [retried] } = await takeWithin(q2, 'wms', 3000, 50);
    assert.is(retried.inDoubt, false, 'after the engine settled it, doubt is the engine\'s business');
    assert.ok(await q2.complete(retried));
    const [a2] = await q2.take('wms');
    assert.is(a2.id, 'a2');
  });

  t('under churn no job is lost, none runs twice at once, and each key finishes in order', async ({ place }) => {
    const KEYS = 12;
    const PER_KEY = 5;
    const seed = await place.open(() => 4);
    const jobs = [];
    for (let i = 0; i < PER_KEY; i++) for (let k = 0; k < KEYS; k++) jobs.push(job(`k${k}-${i}`, `k${k}`, i));
    await seed.enqueue(jobs);
    const workers = place.shared ? [seed, await place.open(() => 4)] : [seed];
    const running = new Set<string>();
    const runningKeys = new Set<string>();
    const finished = new Map<string, number[]>();
    let doneCount = 0;
    let overlap = '';
    let random = 7;
    const rnd = () => ((random = (random * 48271) % 2147483647) / 2147483647);
    const deadline = Date.now() + 60_000;
    await Promise.all(workers.map(async (w) => {
      while (doneCount < KEYS * PER_KEY && Date.now() < deadline) {
        const got = await w.take('wms');
        if (!got.length) {
          await sleep(20);
          continue;
        }
        await Promise.all(got.map(async (j) => {
          if (running.has(j.id) || runningKeys.has(j.key)) overlap ||= `${j.id} (key ${j.key}) given out twice at once`;
          running.add(j.id);
          runningKeys.add(j.key);
          await sleep(rnd() * 15);
          running.delete(j.id);
          runningKeys.delete(j.key);
          if (rnd() < 0.25) {
            assert.ok(await w.retryAt(j, Date.now() + Math.floor(rnd() * 50)));
            return;
          }
          assert.ok(await w.complete(j), `${j.id} settled`);
          const l = finished.get(j.key) ?? [];
          l.push(j.payload.n);
          finished.set(j.key, l);
          doneCount++;
        }));
      }
    }));
    assert.is(overlap, '');
    assert.is(doneCount, KEYS * PER_KEY, 'every job finished once');
    for (let k = 0; k < KEYS; k++) assert.equal(finished.get(`k${k}`), [0, 1, 2, 3, 4], `key k${k} in order`);
  });

  s.run();
}
