/** The inbound gateway through its route: 401/400/413/duplicate answers, forward-only statuses, nothing accepted lost. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { webhookRoutes } from '../../bridge/src/routes/webhooks.ts';
import { shipmentRefs } from '../../bridge/src/webhooks/refs.ts';
import { createEasyPostSim } from '../../bridge/src/simulators/easypost/app.ts';
import { createWmsSim } from '../../bridge/src/simulators/wms/app.ts';
import { standardWebhookHeaders, signEasyPost } from '../../bridge/src/adapters/signatures.ts';
import type { PartnerSettings } from '../../bridge/src/adapters/types.ts';
import type { Milestone } from '../../shared/src/index.ts';
import { fakeStore } from './fake-store.ts';
import { createGateway, gatewayCollections, RECEIPTS_COLLECTION, SHIPMENT_STATUS_COLLECTION } from '../../bridge/src/webhooks/gateway.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMemoryStore } from '../../bridge/src/store/memory.ts';
import { stateLogs } from '../../bridge/src/store/state-logs.ts';
import { withKeyedCollections } from '../../bridge/src/store/keyed-collection.ts';
import type { Store } from '../../bridge/src/store/types.ts';
import { serve } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import { createAfterShipSim } from '../../bridge/src/simulators/aftership/app.ts';
import { createShippoSim } from '../../bridge/src/simulators/shippo/app.ts';
import { signAfterShip } from '../../bridge/src/adapters/signatures.ts';
import { withShipmentRefs } from '../../bridge/src/webhooks/refs.ts';
import { adapterRegistry } from '../../bridge/src/adapters/registry.ts';
import type { CarrierAdapter } from '../../bridge/src/adapters/types.ts';
import { loadFixtures } from '../helpers/fixtures.ts';

const EP_SECRET = 'ep-webhook-secret';
const WMS_SECRET = 'whsec_' + Buffer.from('wms secret for the gateway tests').toString('base64');
const partners: Record<string, PartnerSettings> = {
  'easypost-sim': { id: 'easypost-sim', adapter: 'easypost', credentials: { api_key: 'k', webhook_secret: EP_SECRET }, options: {} },
  'wms-sim': { id: 'wms-sim', adapter: 'rest-wms', credentials: { api_token: 't', webhook_secret: WMS_SECRET }, options: { warehouse: 'WH' } },
  'aftership-sim': { id: 'aftership-sim', adapter: 'aftership', credentials: { api_key: 'k', webhook_secret: 'as-secret' }, options: {} },
  'shippo-sim': { id: 'shippo-sim', adapter: 'shippo', credentials: { api_token: 't', webhook_token: 'shippo-token' }, options: {} },
};
const NOW = new Date('2026-11-26T17:00:00Z');

function setup(opts: { enqueue?: (m: Milestone[], from: { partner: string }) => Promise<void | { refused?: { id?: string; reason: string }[] }>; max?: number } = {}) {
  const store = fakeStore();
  const queued: Milestone[] = [];
  const app = webhookRoutes({
    partner: (id) => partners[id],
    store,
    now: () => NOW,
    maxBodyBytes: opts.max,
    enqueueMilestones: opts.enqueue ?? (async (ms) => { queued.push(...ms); }),
  });
  const refs = shipmentRefs(store);
  return { app, queued, refs, store };
}

const label = (tracking: string, shipmentRef = 'WH/OUT/00012', partner = 'easypost-sim'): Milestone => ({
  id: '5c1d2e3f-4a5b-4c6d-8e7f-000000000003', type: 'label.created', schema_version: 1, occurred_at: '2026-11-26T13:00:00Z',
  source: { partner, partner_ref: 'shp_1' }, aggregate: 'stock.picking:17', event_id: '0b7f3c1e-6a5d-4e8b-9f21-000000000003',
  payload: { shipment_ref: shipmentRef, carrier: 'bridge_ground', tracking_number: tracking, label: { format: 'PDF', url: 'https://x.example/l.pdf' } },
} as Milestone);

function epSim() {
  return createEasyPostSim({ webhookSecret: EP_SECRET, now: () => NOW });
}
const post = (app: ReturnType<typeof setup>['app'], partner: string, body: string, headers: Record<string, string>) =>
  app.request(`/v1/webhooks/${partner}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });

test('a signed EasyPost tracker event becomes canonical milestones in the write-back queue', async () => {
  const { app, queued, refs } = setup();
  await refs.remember([label('9400TEST1')]);
  const [w] = epSim().trackerEvents('9400TEST1', ['delivered'], { signedBy: 'J. Doe' });
  const res = await post(app, 'easypost-sim', w.body, w.headers);
  assert.is(res.status, 200);
  assert.equal(queued.map((m) => m.type), ['shipment.delivered', 'shipment.proof_of_delivery']);
  assert.is(queued[0].aggregate, 'stock.picking:17');
  assert.is((queued[0].payload as { shipment_ref: string }).shipment_ref, 'WH/OUT/00012');
});

test('bad or missing signature, unknown partner: 401 with no body detail', async () => {
  const { app, queued, refs } = setup();
  await refs.remember([label('9400TEST2')]);
  const [w] = epSim().trackerEvents('9400TEST2', ['in_transit']);
  for (const [partner, headers] of [
    ['easypost-sim', { 'x-hmac-signature': signEasyPost('wrong', w.body) }],
    ['easypost-sim', {}],
    ['nobody', w.headers],
  ] as const) {
    const res = await post(app, partner, w.body, headers);
    assert.is(res.status, 401);
    assert.is(await res.text(), '');
  }
  // A tampered body with the original signature
  const res = await post(app, 'easypost-sim', w.body.replace('in_transit', 'delivered'), w.headers);
  assert.is(res.status, 401);
  assert.is(queued.length, 0);
});

test('a verified but invalid payload answers 400 with the path', async () => {
  const { app } = setup();
  const body = JSON.stringify({ id: 'evt_x', object: 'Event', description: 'tracker.updated', result: { status: 'delivered' } });
  const res = await post(app, 'easypost-sim', body, { 'x-hmac-signature': signEasyPost(EP_SECRET, body) });
  assert.is(res.status, 400);
  const j = await res.json() as { path: string; error: string };
  assert.is(j.path, 'result.tracking_code');
  const notJson = 'not json';
  const r2 = await post(app, 'easypost-sim', notJson, { 'x-hmac-signature': signEasyPost(EP_SECRET, notJson) });
  assert.is(r2.status, 400);
  assert.is((await r2.json() as { path: string }).path, '$');
});

test('413 from Content-Length before reading, and while reading a body without it', async () => {
  const { app } = setup({ max: 1000 });
  const big = JSON.stringify({ pad: 'x'.repeat(5000) });
  const r1 = await post(app, 'easypost-sim', big, { 'content-length': String(big.length), 'x-hmac-signature': signEasyPost(EP_SECRET, big) });
  assert.is(r1.status, 413);
  const stream = new ReadableStream({ start(c) { for (let i = 0; i < 10; i++) c.enqueue(new TextEncoder().encode('x'.repeat(500))); c.close(); } });
  const r2 = await app.request('/v1/webhooks/easypost-sim', { method: 'POST', body: stream, duplex: 'half' } as RequestInit);
  assert.is(r2.status, 413);
});

test('over a real socket: 413 from Content-Length and from a chunked body, and a normal delivery still works after', async () => {
  const { app, refs } = setup({ max: 2048 });
  await refs.remember([label('9400SOCK')]);
  const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
  await new Promise<void>((r) => server.once('listening', () => r()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/webhooks/easypost-sim`;
  try {
    const big = 'x'.repeat(1_000_000);
    const r1 = await fetch(url, { method: 'POST', body: big, headers: { 'x-hmac-signature': signEasyPost(EP_SECRET, big) } });
    assert.is(r1.status, 413);
    const chunks = new ReadableStream({ start(c) { for (let i = 0; i < 100; i++) c.enqueue(new TextEncoder().encode('y'.repeat(1000))); c.close(); } });
    const r2 = await fetch(url, { method: 'POST', body: chunks, duplex: 'half' } as RequestInit);
    assert.is(r2.status, 413);
    const [w] = epSim().trackerEvents('9400SOCK', ['in_transit']);
    const r3 = await fetch(url, { method: 'POST', body: w.body, headers: w.headers });
    assert.is(r3.status, 200);
  } finally {
    server.close();
    (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
  }
});

test('a duplicate delivery answers 2xx and is queued once; a copy arriving while the first is processed gets 409 (retry)', async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => { release = r; });
  const queued: Milestone[] = [];
  const { app, refs } = setup({ enqueue: async (ms) => { await gate; queued.push(...ms); } });
  await refs.remember([label('9400TEST3')]);
  const [w] = epSim().trackerEvents('9400TEST3', ['in_transit']);
  const first = post(app, 'easypost-sim', w.body, w.headers);
  await new Promise((r) => setTimeout(r, 10));
  const concurrent = await post(app, 'easypost-sim', w.body, w.headers);
  assert.is(concurrent.status, 409);
  release();
  assert.is((await first).status, 200);
  const again = await post(app, 'easypost-sim', w.body, w.headers);
  assert.is(again.status, 200);
  assert.ok(((await again.json()) as { duplicate?: boolean }).duplicate);
  assert.is(queued.length, 1);
});

test('Standard Webhooks partner: replayed id is a duplicate, stale and future timestamps 401, rotated secret accepted', async () => {
  const { app, queued } = setup();
  const sim = createWmsSim({ webhookSecret: WMS_SECRET, now: () => NOW });
  const w = sim.webhook('inventory_updated', { items: [{ reference_id: 'FURN_7800', total_on_hand_quantity: 40, total_fulfillable_quantity: 35 }] });
  assert.is((await post(app, 'wms-sim', w.body, w.headers)).status, 200);
  assert.is((await post(app, 'wms-sim', w.body, w.headers)).status, 200);
  assert.is(queued.length, 1);
  assert.is(queued[0].type, 'inventory.level');
  const ts = Math.floor(NOW.getTime() / 1000);
  for (const t of [ts - 600, ts + 600]) {
    const h = standardWebhookHeaders([WMS_SECRET], 'msg_time', t, w.body);
    assert.is((await post(app, 'wms-sim', w.body, h)).status, 401);
  }
  const rotatedPartner = { ...partners['wms-sim'], credentials: { api_token: 't', webhook_secret: 'whsec_' + Buffer.from('the new one').toString('base64'), webhook_secret_previous: WMS_SECRET } };
  const app2 = webhookRoutes({ partner: () => rotatedPartner, store: fakeStore(), now: () => NOW, enqueueMilestones: async () => undefined });
  const h = standardWebhookHeaders([WMS_SECRET], 'msg_rot', ts, w.body);
  assert.is((await post(app2, 'wms-sim', w.body, h)).status, 200);
});

test('the same fact re-sent under a new webhook-id is a duplicate: neither queued nor notified again; a new fact in the same shape is', async () => {
  const { app, queued, refs } = setup();
  await refs.remember([label('9400TEST9')]);
  const [w] = epSim().trackerEvents('9400TEST9', ['in_transit']);
  assert.is((await post(app, 'easypost-sim', w.body, w.headers)).status, 200);
  assert.is(queued.length, 1);
  // The partner sends the same tracker event again under a fresh delivery id (a second subscription, a resend).
  const body = JSON.parse(w.body);
  body.id = 'evt_resent_under_a_new_id';
  const resent = JSON.stringify(body);
  const again = await post(app, 'easypost-sim', resent, { 'x-hmac-signature': signEasyPost(EP_SECRET, resent) });
  assert.is(again.status, 200);
  const answer = (await again.json()) as { duplicate?: boolean; reason?: string };
  assert.ok(answer.duplicate, 'answered as a duplicate');
  assert.match(answer.reason ?? '', /same facts/);
  assert.is(queued.length, 1, 'not queued (so not applied in Odoo nor published) again');
  const [later] = epSim().trackerEvents('9400TEST9', ['delivered']);
  assert.is((await post(app, 'easypost-sim', later.body, later.headers)).status, 200);
  assert.equal(queued.map((m) => m.type).slice(1, 2), ['shipment.delivered'], 'a new fact still goes through');
});

test('statuses only move forward: an older milestone is queued (recorded) but reported stale', async () => {
  const { app, queued, refs } = setup();
  await refs.remember([label('9400TEST4')]);
  const sim = epSim();
  // Events one minute apart; sent newest first (out of order).
  const [inTransit, delivered] = sim.trackerEvents('9400TEST4', ['in_transit', 'delivered']);
  assert.is((await post(app, 'easypost-sim', delivered.body, delivered.headers)).status, 200);
  const late = await post(app, 'easypost-sim', inTransit.body, inTransit.headers);
  assert.is(late.status, 200);
  const j = await late.json() as { stale?: string[] };
  assert.is(j.stale?.length, 1);
  assert.equal(queued.map((m) => m.type), ['shipment.delivered', 'shipment.in_transit']);
});

test('write-back queue failure answers 503 and the retry is accepted (nothing lost, not marked duplicate)', async () => {
  let fail = true;
  const got: Milestone[] = [];
  const { app, refs } = setup({ enqueue: async (ms) => { if (fail) throw new Error('queue down'); got.push(...ms); } });
  await refs.remember([label('9400TEST5')]);
  const [w] = epSim().trackerEvents('9400TEST5', ['out_for_delivery']);
  assert.is((await post(app, 'easypost-sim', w.body, w.headers)).status, 503);
  fail = false;
  assert.is((await post(app, 'easypost-sim', w.body, w.headers)).status, 200);
  assert.is(got.length, 1);
});

test('a verified webhook for an unknown shipment is parked (202), not refused, and released once the shipment is known', async () => {
  const store = fakeStore();
  const queued: Milestone[] = [];
  const gateway = createGateway({ partner: (id) => partners[id], registry: adapterRegistry, store, now: () => NOW, enqueueMilestones: async (ms) => { queued.push(...ms); } });
  const [w] = epSim().trackerEvents('9400LATE', ['in_transit']);
  const req = () => new Request('http://x/v1/webhooks/easypost-sim', { method: 'POST', headers: w.headers, body: w.body });
  assert.is((await gateway.receive('easypost-sim', req())).status, 202);
  assert.is(queued.length, 0);
  assert.is(gateway.parked().length, 1);
  assert.is((await gateway.receive('easypost-sim', req())).status, 200, 'a resend of a parked delivery is a duplicate');
  assert.equal(await gateway.unpark(true), { released: 0, still: 1 });
  await gateway.refs.remember([label('9400LATE')]);
  assert.equal(await gateway.unpark(true), { released: 1, still: 0 });
  assert.equal(queued.map((m) => m.type), ['shipment.in_transit']);
  assert.is(queued[0].aggregate, 'stock.picking:17');
});

test('no input crashes the gateway', async () => {
  const { app } = setup();
  const bodies = ['', 'null', '[]', '{"description":5}', '{"id":"e","description":"tracker.updated","result":[]}', '\u0000\uffff', '{"a":'.repeat(1000)];
  for (const b of bodies) {
    const res = await post(app, 'easypost-sim', b, { 'x-hmac-signature': signEasyPost(EP_SECRET, b) });
    assert.ok([200, 202, 400].includes(res.status), `${JSON.stringify(b.slice(0, 20))} -> ${res.status}`);
  }
  const wms = ['{}', '{"topic":"order_shipped"}', '{"topic":"order_shipped","data":{"order":{"reference_id":"X","products":[{"reference_id":"A","quantity":-1}]}}}'];
  for (const b of wms) {
    const h = standardWebhookHeaders([WMS_SECRET], `msg_${b.length}`, Math.floor(NOW.getTime() / 1000), b);
    const res = await post(app, 'wms-sim', b, h);
    assert.ok([200, 202, 400].includes(res.status), `${b} -> ${res.status}`);
  }
});

test('AfterShip: aftership-hmac-sha256 verified, our custom_fields route it, a replayed event_id is a duplicate', async () => {
  const { app, queued } = setup();
  const sim = createAfterShipSim({ webhookSecret: 'as-secret', now: () => NOW });
  const [w] = sim.updates('9400AS1', ['OutForDelivery']);
  const body = JSON.parse(w.body);
  body.msg.custom_fields = { odoo_aggregate: 'stock.picking:44', odoo_shipment_ref: 'WH/OUT/00044' };
  const raw = JSON.stringify(body);
  const h = { 'aftership-hmac-sha256': signAfterShip('as-secret', raw) };
  assert.is((await post(app, 'aftership-sim', raw, h)).status, 200);
  assert.is((await post(app, 'aftership-sim', raw, h)).status, 200);
  assert.is(queued.length, 1);
  assert.is(queued[0].aggregate, 'stock.picking:44');
  assert.is((await post(app, 'aftership-sim', raw, { 'aftership-hmac-sha256': signAfterShip('nope', raw) })).status, 401);
});

test('Shippo: the shared token in the URL is required; the body hash dedups a resend', async () => {
  const { app, queued } = setup();
  const sim = createShippoSim({ now: () => NOW });
  const [w] = sim.trackUpdates('SHIPPO1', ['DELIVERED']);
  const body = JSON.parse(w.body);
  body.data.metadata = 'stock.picking:45|WH/OUT/00045';
  const raw = JSON.stringify(body);
  const send = (q: string) => app.request(`/v1/webhooks/shippo-sim${q}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: raw });
  assert.is((await send('')).status, 401);
  assert.is((await send('?token=wrong')).status, 401);
  assert.is((await send('?token=shippo-token')).status, 200);
  assert.is((await send('?token=shippo-token')).status, 200);
  assert.is(queued.length, 1);
  assert.is(queued[0].type, 'shipment.delivered');
});

test('milestones the engine refuses (ownership) are reported, not retried; the partner id is handed over', async () => {
  const froms: string[] = [];
  const { app, refs } = setup({ enqueue: async (ms, from) => { froms.push(from.partner); return { refused: ms.map((m) => ({ id: m.id, reason: 'not the owner' })) }; } });
  await refs.remember([label('9400TEST6')]);
  const [w] = epSim().trackerEvents('9400TEST6', ['in_transit']);
  const res = await post(app, 'easypost-sim', w.body, w.headers);
  assert.is(res.status, 200);
  assert.equal(await res.json(), { accepted: 0, delivery_id: JSON.parse(w.body).id, refused: 1 });
  assert.equal(froms, ['easypost-sim']);
});

test('withShipmentRefs: a label bought through the wrapped registry is found by a later tracker webhook', async () => {
  const store = fakeStore();
  const refs = shipmentRefs(store);
  const sim = epSim();
  const registry = withShipmentRefs(adapterRegistry, refs);
  const io = { fetch: ((u: string, i?: RequestInit) => sim.app.request(new URL(u).pathname, i)) as typeof fetch, now: () => NOW, dataDir: '/tmp' };
  const carrier = registry.easypost.create({ ...partners['easypost-sim'], base_url: 'http://sim/v2' }, io) as CarrierAdapter;
  const ev = loadFixtures('events', 'valid').find(([n]) => n === 'shipment.requested')![1];
  const r = await carrier.createShipment(ev, { idempotencyKey: 'k-refs', correlationId: 'c', signal: AbortSignal.timeout(2000), data: {}, inDoubt: false });
  const tracking = (r.milestones![0].payload as { tracking_number: string }).tracking_number;
  const queued: Milestone[] = [];
  const app = webhookRoutes({ partner: (id) => partners[id], store, refs, now: () => NOW, enqueueMilestones: async (ms) => { queued.push(...ms); } });
  const [w] = sim.trackerEvents(tracking, ['delivered']);
  assert.is((await post(app, 'easypost-sim', w.body, w.headers)).status, 200);
  assert.is(queued[0].aggregate, ev.aggregate);
  assert.is(queued[0].event_id, ev.id);
});

test('receipts and statuses in keyed logs (as the runtime keeps them): a delivery is a duplicate after a restart, and the gateway never reads them whole', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'olb-gateway-'));
  const store = createMemoryStore();
  await store.open();
  let wholeReads = 0;
  const open = async () => {
    const view = await withKeyedCollections(store, stateLogs(store, { dir }), gatewayCollections());
    const counted: Store = Object.create(view);
    counted.collection = <T extends { id: string }>(name: string) => {
      const c = view.collection<T>(name);
      if (name !== RECEIPTS_COLLECTION && name !== SHIPMENT_STATUS_COLLECTION) return c;
      return { ...c, all: () => { wholeReads++; return c.all(); } };
    };
    const queued: Milestone[] = [];
    const refs = shipmentRefs(counted);
    const app = webhookRoutes({ partner: (id) => partners[id], store: counted, refs, retainedByStore: true, now: () => NOW, enqueueMilestones: async (ms) => { queued.push(...ms); } });
    return { app, queued, refs };
  };
  try {
    const first = await open();
    await first.refs.remember([label('9400KEYED1')]);
    const [w] = epSim().trackerEvents('9400KEYED1', ['delivered']);
    assert.is((await post(first.app, 'easypost-sim', w.body, w.headers)).status, 200);
    assert.is(first.queued.length > 0, true);
    assert.equal(store.collection(RECEIPTS_COLLECTION).all(), [], 'the receipt is in the keyed log, not the store');
    await stateLogs(store, { dir }).close();
    const second = await open();
    const again = await post(second.app, 'easypost-sim', w.body, w.headers);
    assert.is(again.status, 200);
    assert.is((await again.json()).duplicate, true);
    assert.equal(second.queued, []);
    assert.is(wholeReads, 0, 'no hourly scan of a keyed collection');
    await stateLogs(store, { dir }).close();
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
