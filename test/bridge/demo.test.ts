/** The assembled product in demo mode: socket ingest -> engine -> simulators, counted at the partner. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBridge } from '../../bridge/src/bridge.ts';
import { extendWith } from '../../bridge/src/runtime.ts';
import { createMemoryStore } from '../../bridge/src/store/memory.ts';
import { ADMIN, TOKEN, captureLogs, connect } from '../helpers/bridge.ts';
import { loadFixtures } from '../helpers/fixtures.ts';

async function until(what: string, cond: () => Promise<boolean>, ms = 10_000) {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

test('demo mode: events published on the socket reach the simulators exactly once, also when Odoo resends', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'olb-demo-'));
  const store = createMemoryStore();
  const { logger, lines } = captureLogs();
  const { extend, runtime } = extendWith({ store, logger, adminToken: ADMIN, dataDir, env: {} });
  const bridge = await startBridge({ store, token: TOKEN, adminToken: ADMIN, logger, port: 0, extend });
  try {
    assert.ok(runtime().demo);
    assert.ok(lines.some((l) => l.includes('DEMO MODE')), 'demo mode is announced');
    const fx = Object.fromEntries(loadFixtures('events', 'valid'));
    const release = fx['order.released'];
    const ship = { ...fx['shipment.requested'], sequence: 2 };
    const c = await connect(`ws://127.0.0.1:${bridge.port}/v1/odoo`);
    assert.equal((await c.publish([release, ship])).accepted, [release.id, ship.id]);
    assert.equal((await c.publish([release, ship])).duplicates, [release.id, ship.id]);
    const admin = (p: string) => fetch(`${bridge.url}${p}`, { headers: { authorization: `Bearer ${ADMIN}` } }).then((r) => r.json() as any);
    await until('both events delivered', async () => (await admin(`/v1/events?state=delivered`)).items.length === 2);
    const effects = await (await fetch(`${bridge.url}/_sim/effects`)).json() as any;
    assert.is(effects['wms-sim'].order_released, 1);
    assert.is(effects['easypost-sim'].label_purchased, 1);
    assert.is((await admin('/v1/dead-letters')).items.length, 0);
    const metrics = await (await fetch(`${bridge.url}/metrics`)).text();
    assert.match(metrics, /logistics_bridge_events\{/);
    assert.match(metrics, /logistics_bridge_events_received_total\{type="order.released",outcome="accepted"\} 1/);
    assert.match(metrics, /logistics_bridge_events_received_total\{type="order.released",outcome="duplicate"\} 1/);
    assert.match(metrics, /logistics_bridge_partner_calls_total\{partner="wms-sim",outcome="success",error_class="none"\} [1-9]/);
    assert.match(metrics, /logistics_bridge_carrier_label_requests_total\{partner="easypost-sim",outcome="success"\} 1/);
    await c.close();
  } finally {
    await bridge.close();
    await store.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test.run();
