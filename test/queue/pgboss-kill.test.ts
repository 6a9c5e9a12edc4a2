/**
 * The pg-boss queue across real processes: a worker's heartbeat keeps its job its own while it
 * lives, and once it is SIGKILLed the job goes to another worker, in doubt, within the bound.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { openPgBossQueue } from '../../bridge/src/queue/pgboss.ts';
import { postgresForTests } from '../helpers/postgres.ts';

const ROOT = join(import.meta.dirname, '../..');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('a SIGKILLed worker\'s job is kept while it heartbeats and offered to another worker, in doubt, once it dies', async () => {
  const pgt = await postgresForTests('the pg-boss queue across processes');
  if (!pgt) return;
  const schema = pgt.freshSchema();
  const q = await openPgBossQueue<{ n: number }>({ connectionString: pgt.url, schema, superviseIntervalSeconds: 1, poolSize: 2 });
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'test/helpers/queue-worker.ts'), pgt.url, schema, 'wms'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await q.enqueue([{ id: 'a1', partner: 'wms', key: 'A', payload: { n: 1 } }, { id: 'a2', partner: 'wms', key: 'A', payload: { n: 2 } }]);
    const took = await new Promise<string>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`the worker took nothing in 20 s: ${out}`)), 20_000);
      child.stdout!.on('data', (d) => {
        out += d;
        const m = /took (\S+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
    });
    assert.is(took, 'a1');
    // Longer than heartbeatSeconds (10): the live worker's heartbeats keep the job its own.
    const until = Date.now() + 12_000;
    while (Date.now() < until) {
      assert.equal(await q.take('wms'), [], 'a live worker\'s job is not offered to another');
      await sleep(500);
    }
    child.kill('SIGKILL');
    const killedAt = Date.now();
    let got: Awaited<ReturnType<typeof q.take>> = [];
    while (!got.length && Date.now() - killedAt < 30_000) {
      got = await q.take('wms');
      if (!got.length) await sleep(250);
    }
    const after = Date.now() - killedAt;
    assert.equal(got.map((j) => j.id), ['a1'], `nothing re-offered within ${after} ms`);
    assert.ok(after <= q.recoveryBoundMs + 1000, `re-offered after ${after} ms; bound ${q.recoveryBoundMs} ms`);
    assert.is(got[0].inDoubt, true);
    assert.ok(await q.complete(got[0]));
    const [a2] = await q.take('wms');
    assert.is(a2?.id, 'a2', 'the key flows on in order');
    console.log(`  re-offered ${after} ms after SIGKILL (bound ${q.recoveryBoundMs} ms)`);
  } finally {
    child.kill('SIGKILL');
    await q.close();
    await pgt.dropSchemas();
  }
});

test.run();
