/**
 * Engine benchmark (not a test), run by `npm run bench` or `npx tsx scripts/bench/engine.ts [events]`:
 * 1. events/s through the engine (routing, ordering, durable job rows, policies, stored answers,
 *    label milestones through the outbox to an in-process Odoo stand-in) to the EasyPost simulator
 *    with no artificial latency, called in-process through `fetch`, on the embedded store on disk;
 * 2. with ODOO_URL set (and ODOO_DB, ODOO_API_KEY, optional ODOO_LOGIN, ODOO_TRANSPORT): milestones/s
 *    written into that Odoo batched vs one call per milestone in the same run, and their ratio.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { adapterRegistry } from '../../bridge/src/adapters/registry.ts';
import { parseConfig } from '../../bridge/src/config/load.ts';
import { createEngine } from '../../bridge/src/core/engine.ts';
import { createLogger } from '../../bridge/src/log.ts';
import { createOdooClient } from '../../bridge/src/odoo/client.ts';
import { createWriteback } from '../../bridge/src/odoo/outbox.ts';
import { createEasyPostSim } from '../../bridge/src/simulators/easypost/app.ts';
import { createEmbeddedStore } from '../../bridge/src/store/embedded.ts';
import { createMemoryStore } from '../../bridge/src/store/memory.ts';
import type { Store } from '../../bridge/src/store/types.ts';
import type { Event, Milestone } from '../../shared/src/index.ts';
import { loadFixtures } from '../../test/helpers/fixtures.ts';
import { fakeOdoo } from '../../test/engine/fake-odoo.ts';

const N = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 2000);
const logger = createLogger({ level: 'silent' });
const shipment = loadFixtures<Event>('events', 'valid').find(([n]) => n === 'shipment.requested')![1];

async function eventsPerSecond(label: string, store: Store, n: number) {
  await store.open();
  const sim = createEasyPostSim({ apiKey: 'bench' });
  const fetch = ((input: string | URL | Request, init?: RequestInit) => sim.app.fetch(new Request(input, init))) as typeof globalThis.fetch;
  const config = parseConfig({
    partners: [{
      id: 'ep', adapter: 'easypost', role: 'carrier', base_url: 'http://sim.local/v2', credentials: { api_key: { env: 'K' } },
      options: { service_map: { GROUND: { carrier: 'USPS', service: 'GroundAdvantage' } } }, limits: { concurrency: 32, timeout_ms: 30_000 },
    }],
    routes: [{ events: ['shipment.requested'], partners: ['ep'] }],
  }, { K: 'bench' });
  // Write-back drains into an in-process Odoo stand-in with no latency, as a running Odoo keeps the outbox small.
  const odoo = fakeOdoo({ key: 'bench' });
  const odooClient = createOdooClient({ url: 'http://odoo.local', db: 'bench', api_key: 'bench', transport: 'json2', fetch: odoo.fetch });
  const engine = createEngine({ store, config, registry: adapterRegistry, logger, io: { fetch }, odoo: odooClient });
  await engine.start();
  const events = Array.from({ length: n }, (_, i) => ({
    ...structuredClone(shipment), id: crypto.randomUUID(), aggregate: `stock.picking:${100_000 + (i % Math.ceil(n / 2))}`, sequence: 1 + Math.floor(i / Math.ceil(n / 2)),
    payload: { ...structuredClone(shipment.payload), shipment_ref: `WH/OUT/B${i}` },
  })) as Event[];
  const t0 = performance.now();
  for (let i = 0; i < events.length; i += 100) await store.ingest(events.slice(i, i + 100));
  await engine.runDue();
  while (engine.writeback.status().pending) await engine.runDue();
  const ms = performance.now() - t0;
  const delivered = (await Promise.all(events.map((e) => store.get(e.id)))).filter((s) => s?.state === 'delivered').length;
  await engine.stop();
  await store.close();
  console.log(`engine ${label}: ${n} shipment events (2 per aggregate, in order) -> ${delivered} delivered, ${sim.effects.get('label_purchased')} labels, `
    + `${(n / (ms / 1000)).toFixed(0)} events/s (${ms.toFixed(0)} ms; ${(2 * n / (ms / 1000)).toFixed(0)} partner HTTP calls/s), ${odoo.applied.size} label milestones written back (in-process Odoo stand-in)`);
}

async function odooMilestones() {
  const url = process.env.ODOO_URL;
  if (!url) {
    console.log('odoo write-back: SKIPPED (set ODOO_URL, ODOO_DB, ODOO_API_KEY [, ODOO_LOGIN, ODOO_TRANSPORT] to measure batched vs one-per-call)');
    return;
  }
  const M = Number(process.env.ODOO_BENCH_MILESTONES ?? 500);
  const client = createOdooClient({
    url, db: process.env.ODOO_DB ?? 'odoo', api_key: process.env.ODOO_API_KEY ?? '', login: process.env.ODOO_LOGIN,
    transport: (process.env.ODOO_TRANSPORT as 'json2' | 'jsonrpc' | 'auto') ?? 'auto', timeout_ms: 60_000,
  });
  const inv = loadFixtures<Milestone>('milestones', 'valid').find(([n]) => n === 'inventory.level')![1];
  const partner = process.env.ODOO_BENCH_PARTNER ?? inv.source.partner;
  const make = () => Array.from({ length: M }, (_, i) => ({
    ...structuredClone(inv), id: crypto.randomUUID(), source: { partner }, occurred_at: new Date(Date.now() + i).toISOString().replace(/\.\d{3}Z$/, 'Z'),
  })) as Milestone[];
  const run = async (batch: number) => {
    const store = createMemoryStore();
    await store.open();
    const statuses: Record<string, number> = {};
    const counting = { ...client, applyMilestones: async (ms: Milestone[]) => {
      const r = await client.applyMilestones(ms);
      for (const x of r) statuses[x.status] = (statuses[x.status] ?? 0) + 1;
      return r;
    } };
    const wb = createWriteback({
      store, client: counting, logger, io: { now: () => new Date(), random: Math.random, setTimeout: (f, ms) => setTimeout(f, ms) },
      settings: { url, db: '', transport: 'auto', api_key: '', api_key_env: 'ODOO_API_KEY', model: 'logistics.bridge.api', batch_size: batch, max_in_flight: 1, event_states_method: '', timeout_ms: 60_000, target_latency_ms: 60_000 },
    });
    await wb.enqueue(make());
    const t0 = performance.now();
    while (wb.status().pending) await wb.runDue();
    const s = (performance.now() - t0) / 1000;
    await store.close();
    return { rate: M / s, statuses, s };
  };
  const one = await run(1);
  const batched = await run(100);
  console.log(`odoo write-back (${client.transport()}, ${M} inventory.level milestones each way):`);
  console.log(`  batched (up to 100 per call, adaptive): ${batched.rate.toFixed(0)} milestones/s in ${batched.s.toFixed(2)} s ${JSON.stringify(batched.statuses)}`);
  console.log(`  one per call:                           ${one.rate.toFixed(0)} milestones/s in ${one.s.toFixed(2)} s ${JSON.stringify(one.statuses)}`);
  console.log(`  ratio batched / one-per-call: ${(batched.rate / one.rate).toFixed(1)}x (target >= 10x)`);
}

const dir = mkdtempSync(join(tmpdir(), 'bench-engine-'));
try {
  await eventsPerSecond('embedded store on disk', createEmbeddedStore({ dir, pruneEveryMs: 0 }), N);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
await odooMilestones();
