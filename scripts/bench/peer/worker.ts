/**
 * One contender of the peer benchmark (scripts/bench/peer.ts), in its own process so that
 * `process.cpuUsage()` is its own: `worker.ts <bridge-embedded|bridge-postgres|pg-boss> <simOrigin> <jobs> <concurrency>`.
 * Each does the same partner work per job against the same simulator: create an EasyPost shipment
 * and buy one label. Prints one line `RESULT <json>` with CPU ms and wall ms from the first job
 * handed over to the last delivered.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { adapterRegistry } from '../../../bridge/src/adapters/registry.ts';
import { parseConfig } from '../../../bridge/src/config/load.ts';
import { shipmentRequest } from '../../../bridge/src/adapters/easypost/map.ts';
import { createEngine } from '../../../bridge/src/core/engine.ts';
import { createLogger } from '../../../bridge/src/log.ts';
import { createMetrics } from '../../../bridge/src/observability/metrics.ts';
import { createEmbeddedStore } from '../../../bridge/src/store/embedded.ts';
import { createPostgresStore } from '../../../bridge/src/store/postgres.ts';
import type { Store } from '../../../bridge/src/store/types.ts';
import { withKeyedCollections } from '../../../bridge/src/store/keyed-collection.ts';
import { stateLogs } from '../../../bridge/src/store/state-logs.ts';
import { EVENT_STATES_OUTBOX, OUTBOX } from '../../../bridge/src/odoo/outbox.ts';
import { SHIPMENT_REFS_COLLECTION, shipmentRefs, withShipmentRefs } from '../../../bridge/src/webhooks/refs.ts';
import { gatewayCollections } from '../../../bridge/src/webhooks/gateway.ts';
import type { Event } from '../../../shared/src/index.ts';

const [contender, simOrigin, jobsArg, concArg] = process.argv.slice(2);
const N = Number(jobsArg);
const C = Number(concArg);
const PG_URL = process.env.OLB_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const ROOT = join(import.meta.dirname, '..', '..', '..');
const template = JSON.parse(readFileSync(join(ROOT, 'shared/fixtures/events/valid/shipment.requested.json'), 'utf8')) as Event;
const schema = `olb_bench_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;

type Measured = { cpuMs: number; wallMs: number; delivered: number };

/** Measures from `begin` to `done` resolving: CPU of this process (user + system) and wall time. */
async function measure(begin: () => Promise<void>, done: Promise<number>): Promise<Measured> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await begin();
  const delivered = await done;
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { cpuMs: (cpu.user + cpu.system) / 1000, wallMs, delivered };
}

async function bridge(raw: Store, dataDir: string): Promise<Measured> {
  await raw.open();
  // The engine as runtime.ts wires it: the write-back queues and shipment references in keyed
  // logs beside the engine's state, adapters remembering each label's shipment reference, metrics.
  const stateDir = join(dataDir, 'state');
  const store = await withKeyedCollections(raw, stateLogs(raw, { dir: stateDir }), {
    [SHIPMENT_REFS_COLLECTION]: { stamp: (r: { at: string }) => Date.parse(r.at) || 0, retentionMs: 180 * 86_400_000 },
    [OUTBOX]: {},
    [EVENT_STATES_OUTBOX]: {},
    ...gatewayCollections(),
  });
  const config = parseConfig({
    partners: [{
      id: 'ep', adapter: 'easypost', role: 'carrier', base_url: `${simOrigin}/v2`, credentials: { api_key: { env: 'K' } },
      options: { service_map: { GROUND: { carrier: 'USPS', service: 'GroundAdvantage' } } }, limits: { concurrency: C, timeout_ms: 30_000 },
    }],
    routes: [{ events: ['shipment.requested'], partners: ['ep'] }],
    odoo: { url: `${simOrigin}/odoo`, db: 'bench', transport: 'json2', api_key: { env: 'ODOO_KEY' } },
  }, { K: 'bench', ODOO_KEY: 'bench-odoo-key' });
  // Label milestones are written back to the Odoo stand-in beside the simulator (batched, as to a running Odoo).
  const metrics = createMetrics();
  let delivered = 0;
  let resolve!: (n: number) => void;
  const done = new Promise<number>((r) => { resolve = r; });
  const counting = { ...metrics, eventDelivered(...a: Parameters<typeof metrics.eventDelivered>) { metrics.eventDelivered(...a); if (++delivered === N) resolve(delivered); } };
  const engine = createEngine({
    store, config, registry: withShipmentRefs(adapterRegistry, shipmentRefs(store)), logger: createLogger({ level: 'silent' }), metrics: counting, io: { dataDir }, stateDir,
  });
  await engine.start();
  const events = Array.from({ length: N }, (_, i) => ({
    ...template, id: crypto.randomUUID(), aggregate: `stock.picking:${500_000 + i}`, sequence: 1,
    payload: { ...template.payload, shipment_ref: `WH/OUT/P${process.pid}-${i}` },
  })) as Event[];
  const r = await measure(async () => {
    for (let i = 0; i < events.length; i += 100) await store.ingest(events.slice(i, i + 100));
  }, done);
  await engine.stop();
  await raw.close();
  return r;
}

async function pgBoss(): Promise<Measured> {
  const { PgBoss } = await import('pg-boss');
  const boss = new PgBoss({ connectionString: PG_URL, schema, max: 10, supervise: false, schedule: false, migrate: true });
  boss.on('error', (e) => console.error('pg-boss:', e));
  await boss.start();
  await boss.createQueue('ship');
  const auth = `Basic ${Buffer.from('bench:').toString('base64')}`;
  const headers = { authorization: auth, 'content-type': 'application/json', accept: 'application/json' };
  /** The partner work: the same two EasyPost calls the bridge's adapter makes for one parcel. */
  async function label(data: { event: Event }) {
    const created = await fetch(`${simOrigin}/v2/shipments`, { method: 'POST', headers, body: JSON.stringify(shipmentRequest(data.event as any, 0)) });
    if (created.status !== 201) throw new Error(`create: HTTP ${created.status}`);
    const shipment = await created.json() as { id: string; rates: { id: string; carrier: string; service: string }[] };
    const rate = shipment.rates.find((r) => r.service === 'GroundAdvantage') ?? shipment.rates[0];
    const bought = await fetch(`${simOrigin}/v2/shipments/${shipment.id}/buy`, { method: 'POST', headers, body: JSON.stringify({ rate: { id: rate.id } }) });
    if (!bought.ok) throw new Error(`buy: HTTP ${bought.status}`);
    await bought.json();
  }
  let delivered = 0;
  let resolve!: (n: number) => void;
  const done = new Promise<number>((r) => { resolve = r; });
  const jobs = Array.from({ length: N }, (_, i) => ({ data: { event: { ...template, id: crypto.randomUUID(), aggregate: `stock.picking:${500_000 + i}`, payload: { ...template.payload, shipment_ref: `WH/OUT/P${process.pid}-${i}` } } } }));
  // C jobs in flight: C/4 workers fetching 4 at a time, fetching again at once while batches come back full.
  const BATCH = Math.min(4, C);
  const r = await measure(async () => {
    for (let i = 0; i < jobs.length; i += 500) await boss.insert('ship', jobs.slice(i, i + 500));
    await boss.work<{ event: Event }>('ship', { localConcurrency: Math.max(1, Math.round(C / BATCH)), batchSize: BATCH, burstWhenBatchFull: true, pollingIntervalSeconds: 0.5 }, async (batch) => {
      await Promise.all(batch.map((j) => label(j.data)));
      delivered += batch.length;
      if (delivered >= N) resolve(delivered);
    });
  }, done);
  await boss.stop({ graceful: true });
  return r;
}

async function dropSchema() {
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await c.end();
}

let result: Measured;
if (contender === 'bridge-embedded') {
  const dir = mkdtempSync(join(tmpdir(), 'olb-peer-'));
  try {
    result = await bridge(createEmbeddedStore({ dir, pruneEveryMs: 0 }), dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
} else if (contender === 'bridge-postgres') {
  const dir = mkdtempSync(join(tmpdir(), 'olb-peer-'));
  try {
    result = await bridge(createPostgresStore({ url: PG_URL, schema, pruneEveryMs: 0 }), dir);
  } finally {
    await dropSchema();
    rmSync(dir, { recursive: true, force: true });
  }
} else if (contender === 'pg-boss') {
  try {
    result = await pgBoss();
  } finally {
    await dropSchema();
  }
} else {
  throw new Error(`unknown contender ${contender}`);
}
console.log(`RESULT ${JSON.stringify(result)}`);
process.exit(0);
