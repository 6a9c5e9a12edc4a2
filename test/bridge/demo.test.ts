/** The assembled product in demo mode: socket ingest -> engine -> simulators, counted at the partner. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import pgClient from 'pg';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBridge } from '../../bridge/src/bridge.ts';
import { extendWith } from '../../bridge/src/runtime.ts';
import { createMemoryStore } from '../../bridge/src/store/memory.ts';
import { createPostgresStore } from '../../bridge/src/store/postgres.ts';
import type { Store } from '../../bridge/src/store/types.ts';
import { AUDIT } from '../../bridge/src/core/jobs.ts';
import { EVENT_STATES_OUTBOX, OUTBOX } from '../../bridge/src/odoo/outbox.ts';
import { RECEIPTS_COLLECTION, SHIPMENT_STATUS_COLLECTION } from '../../bridge/src/webhooks/gateway.ts';
import { SHIPMENT_REFS_COLLECTION } from '../../bridge/src/webhooks/refs.ts';
import { postgresForTests } from '../helpers/postgres.ts';
import { ADMIN, TOKEN, captureLogs, connect } from '../helpers/bridge.ts';
import { loadFixtures } from '../helpers/fixtures.ts';

async function until(what: string, cond: () => Promise<boolean>, ms = 10_000) {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Publishes two events twice through the socket and checks one effect each at the simulators. */
async function demoScenario(store: Store, dataDir: string) {
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
  }
}

test('demo mode: events published on the socket reach the simulators exactly once, also when Odoo resends', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'olb-demo-'));
  try {
    await demoScenario(createMemoryStore(), dataDir);
    assert.ok(existsSync(join(dataDir, 'state', AUDIT)), 'the engine\'s state logs are files in the data folder');
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('demo mode on PostgreSQL: the same, with the engine\'s state, the write-back queues and the webhook receipts in the database', async () => {
  const pg = await postgresForTests('demo mode');
  if (!pg) return;
  const dataDir = mkdtempSync(join(tmpdir(), 'olb-demo-pg-'));
  const schema = pg.freshSchema();
  try {
    await demoScenario(createPostgresStore({ url: pg.url, schema, pruneEveryMs: 0 }), dataDir);
    assert.not.ok(existsSync(join(dataDir, 'state')), 'no state folder with PostgreSQL');
    const db = new pgClient.Client({ connectionString: pg.url });
    await db.connect();
    try {
      const audit = await db.query(`SELECT count(*)::int AS n FROM "${schema}".history_entries WHERE log = $1`, [AUDIT]);
      assert.ok(audit.rows[0].n > 0, 'the audit trail is in PostgreSQL');
      const legacy = await db.query(`SELECT count(*)::int AS n FROM "${schema}".collection_rows WHERE name = ANY($1)`, [[OUTBOX, EVENT_STATES_OUTBOX, RECEIPTS_COLLECTION, SHIPMENT_STATUS_COLLECTION]]);
      assert.is(legacy.rows[0].n, 0, 'the write-back and webhook collections are keyed logs, not collection rows');
      const refs = await db.query(`SELECT count(*)::int AS n FROM "${schema}".keyed_rows WHERE log = $1`, [SHIPMENT_REFS_COLLECTION]);
      assert.ok(refs.rows[0].n > 0, 'the label\'s shipment references are keyed rows');
    } finally {
      await db.end();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
    await pg.dropSchemas();
  }
});

test.run();
