/** One bridge process per embedded data dir: refused while held, free again when the holder dies, one winner in a race. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { acquireDataDirLock, DataDirBusyError } from '../../bridge/src/store/data-dir-lock.ts';
import { startChildBridge, type ChildBridge } from '../helpers/child-bridge.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'olb-lock-'));

async function refusal(p: Promise<unknown>): Promise<DataDirBusyError> {
  try {
    await p;
  } catch (e) {
    assert.instance(e, DataDirBusyError);
    return e as DataDirBusyError;
  }
  throw new Error('the lock was granted twice');
}

test('a second lock on the same data dir is refused, naming the holder pid', async () => {
  const dir = tmp();
  const first = await acquireDataDirLock({ dir, pid: 4242 });
  const e = await refusal(acquireDataDirLock({ dir, pid: 4343 }));
  assert.is(e.pid, 4242);
  assert.is(e.exitCode, 2);
  assert.match(e.message, `data dir ${dir} is in use by another bridge process (pid 4242)`);
  await first.release();
  const next = await acquireDataDirLock({ dir, pid: 4343 });
  await next.release();
  rmSync(dir, { recursive: true, force: true });
});

test('two paths to one directory meet at one lock; other dirs are independent', async () => {
  const dir = tmp();
  const other = tmp();
  const link = `${dir}-link`;
  symlinkSync(dir, link);
  const held = await acquireDataDirLock({ dir });
  await refusal(acquireDataDirLock({ dir: link }));
  const elsewhere = await acquireDataDirLock({ dir: other });
  await Promise.all([held.release(), elsewhere.release()]);
  for (const d of [dir, other, link]) rmSync(d, { recursive: true, force: true });
});

test('racing acquirers in one process: exactly one wins', async () => {
  const dir = tmp();
  const results = await Promise.allSettled(Array.from({ length: 6 }, (_, i) => acquireDataDirLock({ dir, pid: 100 + i })));
  const won = results.filter((r) => r.status === 'fulfilled');
  assert.is(won.length, 1);
  for (const r of results) if (r.status === 'rejected') assert.instance(r.reason, DataDirBusyError);
  await (won[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof acquireDataDirLock>>>).value.release();
  rmSync(dir, { recursive: true, force: true });
});

test('socket-file mode (platforms without abstract sockets) replaces the file a SIGKILLed holder left', async () => {
  const dir = tmp();
  const path = join(dir, '.bridge.lock.sock');
  const holder = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(path)}, () => console.log('bound'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((ok) => holder.stdout!.once('data', ok));
  await refusal(acquireDataDirLock({ dir, platform: 'darwin' }));
  holder.kill('SIGKILL');
  await new Promise((ok) => holder.once('exit', ok));
  assert.ok(existsSync(path), 'the dead holder left its socket file');
  const lock = await acquireDataDirLock({ dir, platform: 'darwin', pid: 7 });
  const e = await refusal(acquireDataDirLock({ dir, platform: 'darwin' }));
  assert.is(e.pid, 7);
  await lock.release();
  rmSync(dir, { recursive: true, force: true });
});

test('a second bridge on the same BRIDGE_DATA_DIR exits 2 naming the first one pid; after a SIGKILL of the first, a new one starts', async () => {
  const dir = tmp();
  const first = await startChildBridge(dir);
  try {
    const err = await startChildBridge(dir).then(
      async (c) => { c.proc.kill('SIGKILL'); await c.exited; throw new Error('a second bridge started on the same data dir'); },
      (e: Error) => e.message,
    );
    assert.match(err, 'bridge exited (2) before listening');
    assert.match(err, `data dir ${dir} is in use by another bridge process (pid ${first.proc.pid})`);
  } finally {
    first.proc.kill('SIGKILL');
    await first.exited;
  }
  const next = await startChildBridge(dir);
  next.proc.kill('SIGTERM');
  assert.is(await next.exited, 0);
  rmSync(dir, { recursive: true, force: true });
});

test('two bridges started at once on one data dir: exactly one runs, the other exits 2', async () => {
  const dir = tmp();
  const results = await Promise.allSettled([startChildBridge(dir), startChildBridge(dir)]);
  const won = results.filter((r): r is PromiseFulfilledResult<ChildBridge> => r.status === 'fulfilled');
  const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  try {
    assert.is(won.length, 1, 'exactly one bridge runs');
    assert.is(lost.length, 1);
    assert.match(String(lost[0].reason?.message), 'bridge exited (2) before listening');
    assert.match(String(lost[0].reason?.message), `(pid ${won[0].value.proc.pid})`);
  } finally {
    for (const w of won) { w.value.proc.kill('SIGKILL'); await w.value.exited; }
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
