/** The crash test against the PostgreSQL store: SIGKILL right after acks loses nothing acknowledged. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPostgresStore } from '../../bridge/src/store/postgres.ts';
import { connect } from '../helpers/bridge.ts';
import { startChildBridge } from '../helpers/child-bridge.ts';
import { sampleEvent } from '../helpers/fixtures.ts';
import { postgresForTests } from '../helpers/postgres.ts';

test('PostgreSQL store: SIGKILL right after acknowledgements loses no acknowledged event and stores none twice', async () => {
  const pg = await postgresForTests('crash test');
  if (!pg) return;
  const schema = pg.freshSchema();
  const dir = mkdtempSync(join(tmpdir(), 'olb-crash-pg-'));
  const env = { BRIDGE_DATABASE_URL: pg.url, BRIDGE_DATABASE_SCHEMA: schema, BRIDGE_DELIVERY: 'paused' };
  const acknowledged = new Set<string>();
  let lastBatch: any[] = [];
  try {
    for (let round = 0; round < 3; round++) {
      const child = await startChildBridge(dir, env);
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
    const child = await startChildBridge(dir, env);
    const c = await connect(child.wsUrl);
    const resent = await c.publish(lastBatch);
    assert.is(resent.rejected.length, 0);
    await c.close();
    child.proc.kill('SIGTERM');
    assert.is(await child.exited, 0, 'graceful stop exits 0');
    const store = createPostgresStore({ url: pg.url, schema, pruneEveryMs: 0 });
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
    await pg.dropSchemas();
  }
});

test('an unreachable PostgreSQL stops the start with a message naming the database, without its password', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'olb-pg-env-'));
  try {
    await startChildBridge(dir, { BRIDGE_DATABASE_URL: 'postgres://bridge:s3cret@127.0.0.1:1/nothing' });
    assert.unreachable('should not start');
  } catch (e: any) {
    assert.match(e.message, /cannot open postgres:\/\/bridge:\*\*\*@127\.0\.0\.1:1\/nothing/);
    assert.not.match(e.message, /s3cret/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a malformed BRIDGE_DATABASE_URL is refused by name', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'olb-pg-env-'));
  try {
    await startChildBridge(dir, { BRIDGE_DATABASE_URL: 'mysql://x' });
    assert.unreachable('should not start');
  } catch (e: any) {
    assert.match(e.message, /BRIDGE_DATABASE_URL must be a postgres:\/\/ URL/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
