/**
 * The two seed scenarios end to end on one port: the real engine with the demo
 * configuration, every partner a simulator over HTTP, partner webhooks back through the signed
 * gateway, milestones into the Odoo write-back outbox (no Odoo here: they wait there, once each).
 *  (a) distributor: order released to the WMS, shipped with a partial quantity, label bought,
 *      tracking published to the visibility platforms, delivered with proof of delivery;
 *  (b) two 3PLs, one REST and one on files, with the first carrier down so the fallback carrier is used.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import type { Event, Milestone } from '../../shared/src/index.ts';
import { adapterRegistry } from '../../bridge/src/adapters/registry.ts';
import { parseConfig } from '../../bridge/src/config/load.ts';
import { demoConfig, DEMO_ENV } from '../../bridge/src/config/demo.ts';
import { createEngine, type Engine } from '../../bridge/src/core/engine.ts';
import { createMemoryStore } from '../../bridge/src/store/memory.ts';
import { createLogger } from '../../bridge/src/log.ts';
import { OUTBOX, type OutboxRow } from '../../bridge/src/odoo/outbox.ts';
import { webhookRoutes } from '../../bridge/src/routes/webhooks.ts';
import { shipmentRefs, withShipmentRefs } from '../../bridge/src/webhooks/refs.ts';
import { simulatorsApp, type Simulator } from '../../bridge/src/simulators/index.ts';
import type { EasyPostSim } from '../../bridge/src/simulators/easypost/app.ts';
import type { WmsSim } from '../../bridge/src/simulators/wms/app.ts';
import type { File3plSim } from '../../bridge/src/simulators/file-3pl/app.ts';
import type { Store } from '../../bridge/src/store/types.ts';
import { loadFixtures } from '../helpers/fixtures.ts';

const fixtures = Object.fromEntries(loadFixtures<Event>('events', 'valid')) as Record<string, any>;
let n = 100;
function ev(name: string, patch: { aggregate: string; sequence: number; payload?: Record<string, unknown> }): Event {
  const e = structuredClone(fixtures[name]);
  e.id = `0b7f3c1e-6a5d-4e8b-9f21-${String(++n).padStart(12, '0')}`;
  e.aggregate = patch.aggregate;
  e.sequence = patch.sequence;
  Object.assign(e.payload, patch.payload ?? {});
  return e;
}
async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 8000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

interface World { store: Store; engine: Engine; sims: Record<string, Simulator>; base: string; close(): Promise<void> }

async function world(): Promise<World> {
  const dataDir = mkdtempSync(join(tmpdir(), 'scenario-'));
  let handler: (req: Request) => Response | Promise<Response> = () => new Response('starting', { status: 503 });
  const server = serve({ fetch: (req) => handler(req), port: 0, hostname: '127.0.0.1' });
  await new Promise<void>((r) => server.once('listening', () => r()));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const store = createMemoryStore();
  await store.open();
  const config = parseConfig(demoConfig({ simBaseUrl: base }), DEMO_ENV, 'demo', { adapters: Object.keys(adapterRegistry) });
  const refs = shipmentRefs(store);
  const engine = createEngine({ store, config, registry: withShipmentRefs(adapterRegistry, refs), io: { dataDir }, logger: createLogger({ level: 'silent' }) });
  const sims = simulatorsApp({ baseUrl: base, dataDir, autoProgressMs: 0, fileTickMs: 0 });
  const app = new Hono();
  app.route('/', sims.app);
  app.route('/', webhookRoutes({
    partner: (id) => config.partners.find((p) => p.id === id),
    store, refs,
    enqueueMilestones: (ms, from) => engine.acceptMilestones(ms, from),
  }));
  handler = app.fetch;
  await engine.start();
  return {
    store, engine, sims: sims.simulators, base,
    async close() {
      sims.stop();
      await engine.stop();
      server.close();
      (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
      await store.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
const outbox = (w: World, aggregate: string): Milestone[] =>
  w.store.collection<OutboxRow>(OUTBOX).all().filter((r) => r.aggregate === aggregate).map((r) => r.milestone);
const types = (ms: Milestone[]) => ms.map((m) => m.type);

test('(a) distributor: WMS release, partial shipment, label, tracking published, delivered with proof of delivery', async () => {
  const w = await world();
  try {
    const agg = 'stock.picking:17';
    await w.store.ingest([ev('order.released', { aggregate: agg, sequence: 1 })]);
    const wms = w.sims['wms-sim'] as WmsSim;
    await until('order released to the WMS', () => wms.effects.get('order_released') === 1);
    await until('order.accepted queued for Odoo', () => types(outbox(w, agg)).includes('order.accepted'));

    assert.equal(await wms.ship('WH/OUT/00012', { shipped: { FURN_0269: 3 } }), [200]);
    const dispatched = outbox(w, agg).find((m) => m.type === 'shipment.dispatched')!;
    assert.ok(dispatched, 'shipment.dispatched');
    assert.equal((dispatched.payload as any).lines.find((l: any) => l.sku === 'FURN_0269').backorder_quantity, { value: 2, uom: 'Units' });

    await w.store.ingest([ev('shipment.requested', { aggregate: agg, sequence: 2 })]);
    const ep = w.sims['easypost-sim'] as EasyPostSim;
    await until('label bought', () => ep.effects.get('label_purchased') === 1);
    await until('label.created queued', () => types(outbox(w, agg)).includes('label.created'));
    await until('tracking pushed to AfterShip', () => w.sims['aftership-sim'].effects.get('milestone_published') === 1);
    await until('milestones published over Standard Webhooks', () => w.sims['notify-sim'].effects.get('milestone_published') >= 3);

    const tracking = (outbox(w, agg).find((m) => m.type === 'label.created')!.payload as any).tracking_number;
    // The carrier's tracker webhooks, one sent twice and the batch out of order.
    const statuses = await ep.emitTracking(tracking, ['in_transit', 'out_for_delivery', 'delivered'], { signedBy: 'J. Doe', duplicate: true, outOfOrder: true });
    assert.ok(statuses.every((s) => s === 200), String(statuses));
    const got = types(outbox(w, agg));
    for (const t of ['shipment.in_transit', 'shipment.out_for_delivery', 'shipment.delivered', 'shipment.proof_of_delivery']) {
      assert.is(got.filter((x) => x === t).length, 1, `${t} once in the outbox`);
    }
    assert.equal(w.sims['wms-sim'].effects.counts.order_released, 1);
    assert.equal(ep.effects.counts.label_purchased, 1);
  } finally {
    await w.close();
  }
});

test('(b) two 3PLs (REST and files) and the first carrier down: the fallback carrier buys the label', async () => {
  const w = await world();
  try {
    const tpl = w.sims['files-3pl-eu'] as File3plSim;
    w.sims['easypost-sim'].run.down = true;
    const wh = 'stock.picking:40';
    const eu = 'stock.picking:41';
    await w.store.ingest([
      ev('order.released', { aggregate: wh, sequence: 1, payload: { picking_ref: 'WH/OUT/00040' } }),
      ev('order.released', { aggregate: eu, sequence: 1, payload: { picking_ref: 'EU/OUT/00041', warehouse: 'EU' } }),
    ]);
    await until('WH order at the REST WMS', () => w.sims['wms-sim'].effects.get('order_released') === 1);
    await until('EU order file taken by the 3PL', async () => { await tpl.tick(); return tpl.effects.get('order_released') === 1; });

    await w.store.ingest([ev('shipment.requested', { aggregate: eu, sequence: 2, payload: { shipment_ref: 'EU/OUT/00041', warehouse: 'EU' } })]);
    await until('label bought at the fallback carrier', () => w.sims['shippo-sim'].effects.get('label_purchased') === 1);
    assert.is(w.sims['easypost-sim'].effects.get('label_purchased'), 0);
    await until('label.created from shippo-sim queued', () => outbox(w, eu).some((m) => m.type === 'label.created' && m.source.partner === 'shippo-sim'));

    await tpl.ship('EU/OUT/00041', { shipped: { FURN_0269: 4 } });
    await w.engine.pollNow();
    const d = outbox(w, eu).find((m) => m.type === 'shipment.dispatched')!;
    assert.ok(d, 'shipment.dispatched from the file 3PL');
    assert.is(d.source.partner, 'files-3pl-eu');
    assert.equal((d.payload as any).lines.find((l: any) => l.sku === 'FURN_0269').backorder_quantity, { value: 1, uom: 'Units' });
    await w.engine.pollNow();
    assert.is(outbox(w, eu).filter((m) => m.type === 'shipment.dispatched').length, 1);
  } finally {
    await w.close();
  }
});

test.run();
