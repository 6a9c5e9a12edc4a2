/** The engine's own logs on disk: how the keyed log (jobs, aggregates) and the history log (audit) use their files. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openKeyedLog } from '../../bridge/src/store/keyed-log.ts';
import { openHistoryLog } from '../../bridge/src/store/history-log.ts';
import { SlotIndex } from '../../bridge/src/store/slot-index.ts';
import { createMemoryStore } from '../../bridge/src/store/memory.ts';
import { stateLogs } from '../../bridge/src/store/state-logs.ts';
import { withKeyedCollections } from '../../bridge/src/store/keyed-collection.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'state-logs-'));
type Row = { id: string; n: number; pad?: string };

// What every keyed and history log does is in test/contract/state-logs.test.ts; here what the files do.

test('keyed log: churn stays on a bounded disk (compaction copies live rows forward), and they survive a reopen', async () => {
  const dir = tmp();
  try {
    const pad = 'p'.repeat(200);
    const log = await openKeyedLog<Row>({ dir, name: 'churn', segmentBytes: 64 << 10 });
    await log.put(Array.from({ length: 50 }, (_, i) => ({ id: `keep${i}`, n: i, pad })));
    for (let round = 0; round < 200; round++) {
      await log.put(Array.from({ length: 20 }, (_, i) => ({ id: `tmp${round}-${i}`, n: i, pad })));
      await log.delete(Array.from({ length: 20 }, (_, i) => `tmp${round}-${i}`));
      await log.put([{ id: `keep${round % 50}`, n: round, pad }]);
    }
    await log.compact();
    await log.close();
    const bytes = readdirSync(dir).reduce((n, f) => n + statSync(join(dir, f)).size, 0);
    // ~1 MiB was written; 50 live rows of ~250 bytes remain.
    assert.ok(bytes < 400 << 10, `on disk: ${bytes} bytes`);
    const again = await openKeyedLog<Row>({ dir, name: 'churn' });
    assert.is(again.size, 50);
    assert.is((await again.get('keep49'))!.n, 199);
    assert.is((await again.get('keep0'))!.n, 150);
    await again.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('slot index: agrees with a Map through 200k random sets and deletes (growth, deleted slots reused)', () => {
  const index = new SlotIndex();
  const model = new Map<string, number>();
  let seed = 42;
  const rand = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % n);
  for (let i = 0; i < 200_000; i++) {
    const key = `stock.picking:${rand(30_000)}`;
    if (rand(3) === 0) {
      index.delete(key);
      model.delete(key);
    } else {
      index.set(key, { seg: 1 + rand(5), off: i, len: 10 }, i);
      model.set(key, i);
    }
  }
  assert.is(index.size, model.size);
  for (const [key, i] of model) assert.equal([index.get(key)?.off, index.get(key)?.stamp], [i, i], key);
  for (let k = 0; k < 30_000; k++) assert.is(index.has(`stock.picking:${k}`), model.has(`stock.picking:${k}`));
  assert.is([...index.slots()].length, model.size);
  const bytes = [...index.liveBytes.values()].reduce((a, b) => a + b, 0);
  assert.is(bytes, model.size * 10, 'live bytes follow sets and deletes');
});

test('history log: a key\'s entries in order across segments and a reopen; old segments dropped by age', async () => {
  const dir = tmp();
  let clock = 1_000;
  try {
    const h = await openHistoryLog<{ n: number }>({ dir, name: 'audit', segmentBytes: 300, now: () => clock });
    for (let i = 0; i < 30; i++) await h.append([{ key: `e${i % 3}`, entry: { n: i } }]);
    await Promise.all([h.append([{ key: 'e0', entry: { n: 100 } }]), h.append([{ key: 'e0', entry: { n: 101 } }, { key: 'e1', entry: { n: 102 } }])]);
    assert.equal((await h.query('e0')).map((e) => e.n), [0, 3, 6, 9, 12, 15, 18, 21, 24, 27, 100, 101]);
    assert.equal((await h.query('e0', 2)).map((e) => e.n), [100, 101]);
    await h.close();
    const again = await openHistoryLog<{ n: number }>({ dir, name: 'audit', segmentBytes: 300, now: () => clock });
    assert.equal((await again.query('e1')).map((e) => e.n), [1, 4, 7, 10, 13, 16, 19, 22, 25, 28, 102]);
    clock = 5_000;
    await again.append([{ key: 'e2', entry: { n: 200 } }]);
    assert.ok((await again.prune(2_000)) > 0);
    // Segments whose newest entry is older than the cutoff are gone; the one also holding n=200 stays whole.
    const e2 = (await again.query('e2')).map((e) => e.n);
    assert.ok(!e2.includes(2) && e2.at(-1) === 200 && e2.length < 5, `e2 now ${e2}`);
    assert.ok((await again.query('e1')).length < 5);
    await again.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});


test('keyed collections in a store view: rows the store held move into the log once; the rest is the store\'s own', async () => {
  const dir = tmp();
  try {
    const store = createMemoryStore();
    await store.open();
    await store.collection<Row>('outbox').put([{ id: 'a', n: 1 }, { id: 'b', n: 2 }]);
    await store.collection<Row>('other').put([{ id: 'c', n: 3 }]);
    const logs = stateLogs(store, { dir });
    const view = await withKeyedCollections(store, logs, { outbox: {} });
    assert.equal(store.collection('outbox').all(), [], 'moved out of the store');
    assert.equal(view.collection<Row>('outbox').all().sort((p, q) => p.n - q.n), [{ id: 'a', n: 1 }, { id: 'b', n: 2 }]);
    assert.equal(view.collection('other').all(), [{ id: 'c', n: 3 }]);
    assert.ok(view.isOpen);
    await view.collection<Row>('outbox').put([{ id: 'd', n: 4 }]);
    await view.collection('outbox').delete(['a']);
    assert.ok(await stateLogs(view, { dir }).keyed('outbox') === await logs.keyed('outbox'), 'the view shares the store\'s open logs');
    await logs.close();
    const again = await withKeyedCollections(store, stateLogs(store, { dir }), { outbox: {} });
    assert.equal(again.collection<Row>('outbox').all().sort((p, q) => p.n - q.n), [{ id: 'b', n: 2 }, { id: 'd', n: 4 }], 'the log on disk, read again');
    await stateLogs(store, { dir }).close();
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
