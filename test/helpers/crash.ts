/** The SIGKILL crash scenario, shared by the store variants: kill a child bridge right after acks, then check. */
import * as assert from 'uvu/assert';
import type { Store } from '../../bridge/src/store/types.ts';
import { connect } from './bridge.ts';
import { startChildBridge } from './child-bridge.ts';
import { sampleEvent } from './fixtures.ts';

/**
 * Three rounds of: start a bridge over `dataDir` with `env`, send 8 batches of 100 at once, SIGKILL it
 * the moment the 4th ack arrives. Then a fresh process gets the last batch again (all duplicates) and
 * stops gracefully. Resolves with every id that was acknowledged.
 */
export async function killAfterAcks(dataDir: string, env: Record<string, string> = {}): Promise<Set<string>> {
  const acknowledged = new Set<string>();
  let lastBatch: any[] = [];
  for (let round = 0; round < 3; round++) {
    const child = await startChildBridge(dataDir, env);
    const c = await connect(child.wsUrl);
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
  const child = await startChildBridge(dataDir, env);
  const c = await connect(child.wsUrl);
  const resent = await c.publish(lastBatch);
  assert.is(resent.rejected.length, 0);
  await c.close();
  child.proc.kill('SIGTERM');
  assert.is(await child.exited, 0, 'graceful stop exits 0');
  return acknowledged;
}

/** Every acknowledged id is in `store`, and no event is stored twice. */
export async function assertNothingLost(store: Store, acknowledged: Set<string>): Promise<void> {
  await store.open();
  for (const id of acknowledged) assert.ok(await store.get(id), `acknowledged ${id} survived`);
  const ids: string[] = [];
  for (let page = await store.list({ limit: 500 }); ; page = await store.list({ limit: 500, cursor: page.next_cursor })) {
    ids.push(...page.items.map((i) => i.event.id));
    if (!page.next_cursor) break;
  }
  assert.is(new Set(ids).size, ids.length, 'no event stored twice');
  await store.close();
}
