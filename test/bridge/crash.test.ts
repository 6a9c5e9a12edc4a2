import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEmbeddedStore } from '../../bridge/src/store/embedded.ts';
import { connect } from '../helpers/bridge.ts';
import { startChildBridge } from '../helpers/child-bridge.ts';
import { sampleEvent } from '../helpers/fixtures.ts';

test('SIGKILL right after acknowledgements loses no acknowledged event and stores none twice', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'olb-crash-'));
  const acknowledged = new Set<string>();
  let lastBatch: any[] = [];
  try {
    for (let round = 0; round < 3; round++) {
      const child = await startChildBridge(dir);
      const c = await connect(child.wsUrl);
      // Several batches in flight at once; the process is killed the moment the 4th ack arrives.
      let acks = 0;
      const killedAfterAcks = new Promise<void>((ok) => {
        c.ws.on('message', (d) => {
          const reply = JSON.parse(d.toString());
          for (const id of reply.result?.accepted ?? []) acknowledged.add(id);
          if (++acks === 4) { child.proc.kill('SIGKILL'); ok(); }
        });
      });
      for (let b = 0; b < 8; b++) {
        lastBatch = Array.from({ length: 100 }, () => sampleEvent());
        c.ws.send(JSON.stringify({ jsonrpc: '2.0', id: b, method: 'events.publish', params: { events: lastBatch } }));
      }
      await killedAfterAcks;
      await child.exited;
    }
    assert.ok(acknowledged.size >= 3 * 4 * 100, `at least 1200 acknowledged (${acknowledged.size})`);
    // A fresh process sees every acknowledged event, and a resend is all duplicates.
    const child = await startChildBridge(dir);
    const c = await connect(child.wsUrl);
    const resent = await c.publish(lastBatch);
    assert.is(resent.rejected.length, 0);
    await c.close();
    child.proc.kill('SIGTERM');
    assert.is(await child.exited, 0, 'graceful stop exits 0');
    const store = createEmbeddedStore({ dir, pruneEveryMs: 0 });
    await store.open();
    for (const id of acknowledged) assert.ok(await store.get(id), `acknowledged ${id} survived`);
    const ids: string[] = [];
    for (let page = await store.list({ limit: 500 }); ; page = await store.list({ limit: 500, cursor: page.next_cursor })) {
      ids.push(...page.items.map((i) => i.event.id));
      if (!page.next_cursor) break;
    }
    assert.is(new Set(ids).size, ids.length, 'no event stored twice');
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a bad environment value stops the start with a message naming the variable', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'olb-env-'));
  try {
    await startChildBridge(dir, { PORT: 'eighty' });
    assert.unreachable('should not start');
  } catch (e: any) {
    assert.match(e.message, /PORT must be a whole number/);
  }
  try {
    await startChildBridge(dir, { BRIDGE_TOKEN: 'short' });
    assert.unreachable('should not start');
  } catch (e: any) {
    assert.match(e.message, /BRIDGE_TOKEN must be at least 24 characters/);
  }
  try {
    await startChildBridge(dir, { BRIDGE_DELIVERY: 'maybe' });
    assert.unreachable('should not start');
  } catch (e: any) {
    assert.match(e.message, /BRIDGE_DELIVERY must be "on" or "paused"/);
  }
  rmSync(dir, { recursive: true, force: true });
});

test.run();
