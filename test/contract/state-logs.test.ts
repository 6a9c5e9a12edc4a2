/** One suite every KeyedLog and HistoryLog implementation passes: memory, files, PostgreSQL tables. */
import { suite, test as plain } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMemoryStore } from '../../bridge/src/store/memory.ts';
import { createPostgresStore } from '../../bridge/src/store/postgres.ts';
import { stateLogs, type StateLogs } from '../../bridge/src/store/state-logs.ts';
import { groupCommit } from '../../bridge/src/store/group-commit.ts';
import { openPostgresHistoryLog, openPostgresKeyedLog } from '../../bridge/src/store/postgres-state-logs.ts';
import { Pool as PgPool } from 'pg';
import type { Store } from '../../bridge/src/store/types.ts';
import { postgresForTests, type TestPostgres } from '../helpers/postgres.ts';

/** Logs in one place; `restart` closes them (and their store) and opens them again, as a new process would. */
interface Place { logs(): StateLogs; restart(): Promise<void>; done(): Promise<void> }
type Maker = { name: string; prepare?: () => Promise<boolean>; cleanUp?: () => Promise<void>; make: () => Promise<Place> };

let pg: TestPostgres | undefined;
const makers: Maker[] = [
  {
    name: 'memory',
    async make() {
      const store = createMemoryStore(); await store.open();
      let logs = stateLogs(store);
      // Memory logs live with the store object: a restart in the same process finds them.
      return { logs: () => logs, async restart() { await logs.close(); logs = stateLogs(store); }, done: () => store.close() };
    },
  },
  {
    name: 'files',
    async make() {
      const dir = mkdtempSync(join(tmpdir(), 'olb-state-logs-'));
      let store = createMemoryStore(); await store.open();
      let logs = stateLogs(store, { dir });
      return {
        logs: () => logs,
        async restart() { await logs.close(); store = createMemoryStore(); await store.open(); logs = stateLogs(store, { dir }); },
        async done() { await logs.close(); rmSync(dir, { recursive: true, force: true }); },
      };
    },
  },
  {
    name: 'postgres',
    prepare: async () => { pg = await postgresForTests('state logs contract suite'); return pg !== undefined; },
    cleanUp: async () => { await pg?.dropSchemas(); },
    async make() {
      const schema = pg!.freshSchema();
      const open = async () => { const s = createPostgresStore({ url: pg!.url, schema, pruneEveryMs: 0 }); await s.open(); return s; };
      let store: Store = await open();
      let logs = stateLogs(store, { dir: '/nonexistent/the-store-keeps-them' });
      return {
        logs: () => logs,
        async restart() { await logs.close(); await store.close(); store = await open(); logs = stateLogs(store, { dir: '/nonexistent' }); },
        async done() { await logs.close(); await store.close(); },
      };
    },
  },
];

type Row = { id: string; n: number };
const sorted = (rows: Row[]) => rows.sort((a, b) => a.id.localeCompare(b.id));
async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

for (const { name, make, prepare, cleanUp } of makers) {
  const s = suite(`state logs: ${name}`);
  let available = true;
  s.before(async () => { if (prepare) available = await prepare(); });
  s.after(async () => { await cleanUp?.(); });
  /** A test of this suite; an implementation whose server is unavailable skips it (postgresForTests printed why). */
  const test = (title: string, body: (p: Place) => Promise<void>) => s(title, async () => {
    if (!available) return;
    const p = await make();
    try { await body(p); } finally { await p.done(); }
  });

  test('keyed: puts, replaces and deletes survive a restart; the latest write of a key wins, also within one batch', async (p) => {
    const a = await p.logs().keyed<Row>('rows', { stamp: (r) => r.n });
    await a.put([{ id: 'x', n: 1 }, { id: 'y', n: 2 }, { id: 'w', n: 9 }]);
    await Promise.all([a.put([{ id: 'x', n: 3 }]), a.delete(['y']), a.put([{ id: 'z', n: 4 }]), a.delete(['w']), a.put([{ id: 'w', n: 5 }]), a.put([{ id: 'v', n: 6 }]), a.delete(['v'])]);
    await a.put([{ id: 'u', n: 7 }, { id: 'u', n: 8 }]);
    const expected = [{ id: 'u', n: 8 }, { id: 'w', n: 5 }, { id: 'x', n: 3 }, { id: 'z', n: 4 }];
    assert.equal(await a.get('x'), { id: 'x', n: 3 });
    assert.is(await a.get('y'), undefined);
    assert.is(a.size, 4);
    assert.equal(sorted(a.allSync()), expected);
    await p.restart();
    const b = await p.logs().keyed<Row>('rows', { stamp: (r) => r.n });
    assert.is(b.size, 4);
    assert.equal(sorted(await collect(b.values())), expected);
    assert.equal(sorted(b.allSync()), expected);
    assert.equal(b.getSync('w'), { id: 'w', n: 5 });
    assert.ok(b.has('z') && !b.has('y') && !b.has('v'));
    assert.is(b.stamp('x'), 3);
    assert.equal((await collect(b.keysStampedBefore(5))).sort(), ['x', 'z']);
    await b.delete(['never-written']);
    assert.is(b.size, 4);
  });

  test('keyed: a read right after a put or delete sees it, before the write has committed; a returned record is a copy', async (p) => {
    const log = await p.logs().keyed<Row>('rows');
    const w = log.put([{ id: 'a', n: 1 }]);
    assert.ok(log.has('a'));
    assert.equal(await log.get('a'), { id: 'a', n: 1 });
    assert.equal(log.getSync('a'), { id: 'a', n: 1 });
    await w;
    (await log.get('a'))!.n = 99;
    assert.is((await log.get('a'))!.n, 1);
    const d = log.delete(['a']);
    assert.not.ok(log.has('a'));
    assert.is(log.getSync('a'), undefined);
    await d;
    assert.is(await log.get('a'), undefined);
    assert.is(log.size, 0);
  });

  test('keyed: a record is written as it was when put: changes made to it afterwards are not (callers need no copy)', async (p) => {
    const log = await p.logs().keyed<Row>('rows');
    const row = { id: 'a', n: 1 };
    const w = log.put([row]);
    row.n = 2;
    assert.equal(log.getSync('a'), { id: 'a', n: 1 }, 'pending');
    await w;
    row.n = 3;
    assert.equal(await log.get('a'), { id: 'a', n: 1 }, 'committed');
    await p.restart();
    assert.equal((await p.logs().keyed<Row>('rows')).getSync('a'), { id: 'a', n: 1 }, 'after a restart');
  });

  test('keyed: logs of different names are apart, and a custom key is used', async (p) => {
    const one = await p.logs().keyed<{ ref: string; v: number }>('one', { key: (r) => r.ref });
    const two = await p.logs().keyed<Row>('two');
    await Promise.all([one.put([{ ref: 'k', v: 1 }]), two.put([{ id: 'k', n: 2 }])]);
    await p.restart();
    const again = await p.logs().keyed<{ ref: string; v: number }>('one', { key: (r) => r.ref });
    assert.equal(again.allSync(), [{ ref: 'k', v: 1 }]);
    assert.equal((await p.logs().keyed<Row>('two')).allSync(), [{ id: 'k', n: 2 }]);
    assert.ok(p.logs().keyed('one') === p.logs().keyed('one'), 'one log per name and store');
  });

  test('history: a key\'s entries in append order across concurrent appends and a restart; newest `limit`, filters, scans', async (p) => {
    const h = await p.logs().history<{ n: number }>('audit', { segmentBytes: 300 });
    for (let i = 0; i < 30; i++) await h.append([{ key: `e${i % 3}`, entry: { n: i } }]);
    await Promise.all([h.append([{ key: 'e0', entry: { n: 100 } }]), h.append([{ key: 'e0', entry: { n: 101 } }, { key: 'e1', entry: { n: 102 } }])]);
    assert.equal((await h.query('e0')).map((e) => e.n), [0, 3, 6, 9, 12, 15, 18, 21, 24, 27, 100, 101]);
    assert.equal((await h.query('e0', 2)).map((e) => e.n), [100, 101]);
    assert.equal((await h.query('e0', 3, (e) => e.n < 20)).map((e) => e.n), [12, 15, 18]);
    await p.restart();
    const again = await p.logs().history<{ n: number }>('audit', { segmentBytes: 300 });
    assert.equal((await again.query('e1')).map((e) => e.n), [1, 4, 7, 10, 13, 16, 19, 22, 25, 28, 102]);
    assert.equal((await again.query(undefined, 4, (e) => e.n % 2 === 1)).map((e) => e.n), [1, 3, 5, 7], 'without a key: the oldest that match');
    assert.equal(await again.query('nobody'), []);
    const other = await p.logs().history<{ n: number }>('other');
    await other.append([{ key: 'e0', entry: { n: -1 } }]);
    assert.equal((await other.query('e0')).map((e) => e.n), [-1], 'logs of different names are apart');
  });

  test('history: prune drops entries older than the cutoff and keeps every newer one', async (p) => {
    let clock = 1_000;
    const h = await p.logs().history<{ n: number }>('audit', { segmentBytes: 300, now: () => clock });
    for (let i = 0; i < 30; i++) await h.append([{ key: `e${i % 3}`, entry: { n: i } }]);
    clock = 5_000;
    await h.append([{ key: 'e2', entry: { n: 200 } }, { key: 'e1', entry: { n: 201 } }]);
    assert.ok((await h.prune(2_000)) > 0, 'something was dropped');
    const e2 = (await h.query('e2')).map((e) => e.n);
    assert.ok(!e2.includes(2) && e2.at(-1) === 200 && e2.length < 5, `e2 now ${e2}`);
    assert.equal((await h.query('e1')).at(-1), { n: 201 });
    assert.ok((await h.query('e1')).length < 5);
  });

  s.run();
}

plain('group commit: concurrent pushes go out in few writes, in push order, and a failed write fails only its own batch', async () => {
  const writes: number[][] = [];
  let fail = false;
  const g = groupCommit<number>(async (items) => {
    await new Promise((r) => setTimeout(r, 5));
    if (fail) { fail = false; throw new Error('connection reset'); }
    writes.push(items);
  });
  await Promise.all(Array.from({ length: 100 }, (_, i) => g.push([i])));
  assert.ok(writes.length <= 2, `${writes.length} writes for 100 pushes`);
  assert.equal(writes.flat(), Array.from({ length: 100 }, (_, i) => i));
  fail = true;
  const failed = await g.push([1]).then(() => 'resolved', (e: Error) => e.message);
  assert.is(failed, 'connection reset');
  await g.push([2]);
  assert.equal(writes.at(-1), [2]);
});
plain('PostgreSQL logs: 200 concurrent puts and 200 concurrent appends take a few statements, not one each', async () => {
  if (!pg) pg = await postgresForTests('state logs batching');
  if (!pg) return;
  const schema = pg.freshSchema();
  const store = createPostgresStore({ url: pg.url, schema, pruneEveryMs: 0 });
  await store.open(); // creates the tables
  const pool = new PgPool({ connectionString: pg.url, max: 2 });
  let statements = 0;
  const counting = { query: (...a: unknown[]) => { statements++; return (pool.query as any)(...a); } } as unknown as InstanceType<typeof PgPool>;
  const table = (n: string) => `"${schema}"."${n}"`;
  try {
    const keyed = await openPostgresKeyedLog<Row>({ db: () => counting, table, name: 'jobs' });
    statements = 0;
    await Promise.all(Array.from({ length: 200 }, (_, i) => keyed.put([{ id: `j${i % 150}`, n: i }])));
    assert.ok(statements <= 3, `${statements} statements for 200 puts`);
    const history = await openPostgresHistoryLog<{ n: number }>({ db: () => counting, table, name: 'audit' });
    statements = 0;
    await Promise.all(Array.from({ length: 200 }, (_, i) => history.append([{ key: `e${i % 7}`, entry: { n: i } }])));
    assert.ok(statements <= 3, `${statements} statements for 200 appends`);
    const again = await openPostgresKeyedLog<Row>({ db: () => pool, table, name: 'jobs' });
    assert.is(again.size, 150);
    assert.equal(await again.get('j0'), { id: 'j0', n: 150 }, 'the later put of a key in the same batch wins');
    assert.equal((await history.query('e0')).map((e) => e.n).slice(0, 3), [0, 7, 14]);
  } finally {
    await pool.end();
    await store.close();
    await pg.dropSchemas();
  }
});
plain('PostgreSQL logs: keyed logs a file-based run left in the state folder are moved in once, and not again', async () => {
  if (!pg) pg = await postgresForTests('state logs import');
  if (!pg) return;
  const dir = mkdtempSync(join(tmpdir(), 'olb-import-'));
  const schema = pg.freshSchema();
  const open = async () => { const s = createPostgresStore({ url: pg!.url, schema, pruneEveryMs: 0 }); await s.open(); return s; };
  try {
    const files = stateLogs(createMemoryStore(), { dir });
    const before = await files.keyed<Row>('engine_jobs', { stamp: (r) => r.n });
    await before.put(Array.from({ length: 1200 }, (_, i) => ({ id: `j${i}`, n: i })));
    await before.delete(['j7']);
    await files.close();
    let store = await open();
    let logs = stateLogs(store, { dir });
    const jobs = await logs.keyed<Row>('engine_jobs', { stamp: (r) => r.n });
    assert.is(jobs.size, 1199);
    assert.is(jobs.stamp('j1100'), 1100, 'stamps come along');
    assert.ok(!existsSync(join(dir, 'engine_jobs')) && existsSync(join(dir, 'engine_jobs.imported')), 'the folder is set aside');
    await jobs.delete(['j1']);
    await logs.close(); await store.close();
    // A folder of the same name appearing again (an old process) is not moved into a log that has rows.
    const stale = stateLogs(createMemoryStore(), { dir });
    await (await stale.keyed<Row>('engine_jobs')).put([{ id: 'j1', n: -1 }]);
    await stale.close();
    store = await open();
    logs = stateLogs(store, { dir });
    const again = await logs.keyed<Row>('engine_jobs');
    assert.is(again.size, 1198);
    assert.is(await again.get('j1'), undefined, 'a row deleted in PostgreSQL stays deleted');
    await logs.close(); await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await pg.dropSchemas();
  }
});
plain.run();
