/**
 * The one contract every adapter passes, each against its simulator over real HTTP on 127.0.0.1:
 * the effect happens once per idempotency key, failures are sorted at the boundary (5xx, 429,
 * timeouts, lost responses, refused connections -> retryable; validation and business refusals ->
 * permanent with a reason), and whatever milestones come back satisfy the canonical contract.
 * A test that does not apply to an adapter is skipped with its reason printed.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import type { AddressInfo } from 'node:net';
import { checkMilestone, type Event, type Milestone } from '../../shared/src/index.ts';
import { adapterRegistry } from '../../bridge/src/adapters/registry.ts';
import { PartnerError, type AdapterIO, type CallContext, type CarrierAdapter, type PartnerAdapter, type PartnerSettings, type StepResult, type VisibilityAdapter, type WarehouseAdapter } from '../../bridge/src/adapters/types.ts';
import { createSimulators, DEMO_PARTNER_ENV as E, type Simulator } from '../../bridge/src/simulators/index.ts';
import type { File3plSim } from '../../bridge/src/simulators/file-3pl/app.ts';
import type { WmsSim } from '../../bridge/src/simulators/wms/app.ts';
import { loadFixtures } from '../helpers/fixtures.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'adapters-contract-'));
const app = new Hono();
const sims = createSimulators({ baseUrl: 'http://127.0.0.1:9', dataDir, autoProgressMs: 0 });
for (const [id, s] of Object.entries(sims)) app.route(`/_sim/${id}`, s.app);
let base = '';
const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
const ready = new Promise<void>((r) => server.once('listening', () => {
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  r();
}));

const events = Object.fromEntries(loadFixtures<Event>('events', 'valid'));
const labelFixture = Object.fromEntries(loadFixtures<Milestone>('milestones', 'valid'))['label.created'];

/** A fixture event with fresh ids and references, so every test acts on its own order/shipment. */
function fresh<T extends Event['type']>(name: string): Extract<Event, { type: T }> {
  const e = structuredClone(events[name]) as any;
  const n = Math.floor(Math.random() * 1e9);
  e.id = randomUUID();
  e.aggregate = `stock.picking:${n}`;
  for (const k of ['picking_ref', 'shipment_ref', 'return_ref']) if (e.payload[k]) e.payload[k] = `${e.payload[k]}-${n}`;
  return e;
}
function freshLabel(): Milestone {
  const m = structuredClone(labelFixture) as any;
  m.id = randomUUID();
  m.payload.tracking_number = `9400${Math.floor(Math.random() * 1e12)}`;
  return m;
}

const ctxOf = (key = randomUUID(), signal: AbortSignal = AbortSignal.timeout(5000), data: Record<string, unknown> = {}): CallContext => ({ idempotencyKey: key, correlationId: randomUUID(), signal, data, inDoubt: false });
const io = (fault?: string): AdapterIO => ({
  fetch: (url, init) => fetch(url, fault ? { ...init, headers: { ...(init?.headers as Record<string, string>), 'x-sim-fault': fault } } : init),
  now: () => new Date(),
  dataDir,
});

interface Case {
  id: string;
  settings: (baseUrl: string) => PartnerSettings;
  /** The call with an effect at the partner, and the effect's name. */
  act: (a: PartnerAdapter, ctx: CallContext) => Promise<StepResult>;
  effect: string;
  /** How a repeated call is kept from acting twice. */
  dedup: 'idempotency-key' | 'lookup-by-reference' | 'file-name';
  http: boolean;
  /** Why 4xx answers are retried rather than permanent, where the partner's protocol says so. */
  retriesClientErrors?: string;
  /** Make the effect visible (file partners act when they poll their folder). */
  settle?: () => Promise<void>;
}

const sim = (id: string) => sims[id] as Simulator;
const cases: Case[] = [
  {
    id: 'easypost-sim', dedup: 'idempotency-key', http: true, effect: 'label_purchased',
    settings: (b) => ({ id: 'easypost-sim', adapter: 'easypost', base_url: `${b}/_sim/easypost-sim/v2`, credentials: { api_key: E.DEMO_EASYPOST_API_KEY }, options: {} }),
    act: (a, ctx) => (a as CarrierAdapter).createShipment(eventFor(ctx.idempotencyKey, 'shipment.requested'), ctx),
  },
  {
    id: 'shippo-sim', dedup: 'lookup-by-reference', http: true, effect: 'label_purchased',
    settings: (b) => ({ id: 'shippo-sim', adapter: 'shippo', base_url: `${b}/_sim/shippo-sim`, credentials: { api_token: E.DEMO_SHIPPO_TOKEN }, options: { service_map: { GROUND: 'ups_ground' } } }),
    act: (a, ctx) => (a as CarrierAdapter).createShipment(eventFor(ctx.idempotencyKey, 'shipment.requested'), ctx),
  },
  {
    id: 'wms-sim', dedup: 'lookup-by-reference', http: true, effect: 'order_released',
    settings: (b) => ({ id: 'wms-sim', adapter: 'rest-wms', base_url: `${b}/_sim/wms-sim`, credentials: { api_token: E.DEMO_WMS_TOKEN }, options: { warehouse: 'WH' } }),
    act: (a, ctx) => (a as WarehouseAdapter).releaseOrder(eventFor(ctx.idempotencyKey, 'order.released'), ctx),
  },
  {
    id: 'files-3pl-eu', dedup: 'file-name', http: false, effect: 'order_released',
    settings: () => ({ id: 'files-3pl-eu', adapter: 'file-3pl', credentials: {}, options: { warehouse: 'EU', folder: 'files-3pl-eu' } }),
    act: (a, ctx) => (a as WarehouseAdapter).releaseOrder(eventFor(ctx.idempotencyKey, 'order.released'), ctx),
    settle: async () => { await (sim('files-3pl-eu') as File3plSim).tick(); },
  },
  {
    id: 'notify-sim', dedup: 'idempotency-key', http: true, effect: 'milestone_published',
    retriesClientErrors: 'Standard Webhooks etiquette: every non-2xx answer but 410 Gone is a failure to retry (410 is tested below)',
    settings: (b) => ({ id: 'notify-sim', adapter: 'standard-webhooks', base_url: `${b}/_sim/notify-sim/webhooks/bridge`, credentials: { webhook_secret: E.DEMO_NOTIFY_SECRET }, options: {} }),
    // The message id is the milestone id: the receiver dedups on webhook-id, so one key = one milestone here.
    act: (a, ctx) => (a as VisibilityAdapter).publishMilestone(labelFor(ctx.idempotencyKey), ctx),
  },
  {
    id: 'aftership-sim', dedup: 'lookup-by-reference', http: true, effect: 'milestone_published',
    settings: (b) => ({ id: 'aftership-sim', adapter: 'aftership', base_url: `${b}/_sim/aftership-sim`, credentials: { api_key: E.DEMO_AFTERSHIP_API_KEY }, options: {} }),
    act: (a, ctx) => (a as VisibilityAdapter).publishMilestone(labelFor(ctx.idempotencyKey), ctx),
  },
];
/** One event per idempotency key: the key is derived from the event, so a retry carries the same event. */
const eventsByKey = new Map<string, Event>();
function eventFor<T extends Event['type']>(key: string, name: T): Extract<Event, { type: T }> {
  if (!eventsByKey.has(key)) eventsByKey.set(key, fresh(name));
  return eventsByKey.get(key) as Extract<Event, { type: T }>;
}
/** One label milestone per idempotency key (a retry of a publish carries the same milestone). */
const labels = new Map<string, Milestone>();
function labelFor(key: string): Milestone {
  if (!labels.has(key)) labels.set(key, freshLabel());
  return labels.get(key)!;
}

async function effectsAfter(c: Case, fn: () => Promise<unknown>): Promise<number> {
  const before = sim(c.id).effects.get(c.effect);
  await fn();
  await c.settle?.();
  return sim(c.id).effects.get(c.effect) - before;
}
async function failure(p: Promise<unknown>): Promise<PartnerError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof PartnerError) return e;
    throw new Error(`expected a PartnerError, got ${(e as Error)?.stack ?? e}`);
  }
  throw new Error('expected the call to fail');
}

for (const c of cases) {
  const t = suite(`adapter contract: ${c.id}`);
  const make = (fault?: string, baseUrl = base) => adapterRegistry[c.settings(baseUrl).adapter].create(c.settings(baseUrl), io(fault));
  const skip = (name: string, reason: string) => {
    t.skip(name, () => undefined);
    console.log(`  skip ${c.id}: ${name}: ${reason}`);
  };

  t.before(() => ready);

  t('the registry builds it with the role its factory declares', () => {
    const f = adapterRegistry[c.settings(base).adapter];
    assert.is(make().role, f.role);
  });

  t('a call acts once and returns contract-valid milestones', async () => {
    let r: StepResult = {};
    const n = await effectsAfter(c, async () => { r = await c.act(make(), ctxOf()); });
    assert.is(n, 1);
    for (const m of r.milestones ?? []) {
      const chk = checkMilestone(m);
      assert.ok(chk.ok, !chk.ok ? `${chk.problem.path}: ${chk.problem.message}` : '');
    }
  });

  t(`the same key twice acts once (${c.dedup})`, async () => {
    const ctx = ctxOf();
    const n = await effectsAfter(c, async () => { await c.act(make(), ctx); await c.act(make(), ctx); });
    assert.is(n, 1);
  });

  if (c.http) {
    t('a lost response (partner acted) then a retry with the same key acts once', async () => {
      const ctx = ctxOf();
      const n = await effectsAfter(c, async () => {
        const e = await failure(c.act(make('drop-response'), ctx));
        assert.is(e.kind, 'retryable');
        await c.act(make(), ctx);
      });
      assert.is(n, 1);
    });
    t('500 is retryable and acts not', async () => {
      let e!: PartnerError;
      const n = await effectsAfter(c, async () => { e = await failure(c.act(make('500'), ctxOf())); });
      assert.is(e.kind, 'retryable');
      assert.is(e.details.status, 500);
      assert.is(n, 0);
    });
    t('429 is retryable with retryAfterMs from Retry-After', async () => {
      const e = await failure(c.act(make('429=2'), ctxOf()));
      assert.is(e.kind, 'retryable');
      assert.is(e.details.retryAfterMs, 2000);
    });
    if (c.retriesClientErrors) {
      t('a 4xx answer is retryable (the protocol says so)', async () => {
        for (const f of ['400', 'refuse']) assert.is((await failure(c.act(make(f), ctxOf()))).kind, 'retryable');
      });
      for (const name of ['400', 'business refusal', 'wrong credentials']) skip(`${name} is permanent`, c.retriesClientErrors);
    } else {
      t('a validation error (400) is permanent with a reason', async () => {
        const e = await failure(c.act(make('400'), ctxOf()));
        assert.is(e.kind, 'permanent');
        assert.ok(e.details.reason, 'reason');
        assert.ok(e.message.length > 3, e.message);
      });
      t('a business refusal is permanent with a business reason', async () => {
        const e = await failure(c.act(make('refuse'), ctxOf()));
        assert.is(e.kind, 'permanent');
        assert.ok(['invalid_address', 'unknown_sku', 'allocation_conflict', 'refused_by_partner'].includes(e.details.reason!), `reason ${e.details.reason}: ${e.message}`);
      });
    }
    t('a timeout is retryable', async () => {
      const started = Date.now();
      const e = await failure(c.act(make('timeout=3000'), ctxOf(undefined, AbortSignal.timeout(150))));
      assert.is(e.kind, 'retryable');
      assert.ok(Date.now() - started < 2000);
    });
    t('a refused connection is retryable', async () => {
      const e = await failure(c.act(make(undefined, 'http://127.0.0.1:9'), ctxOf()));
      assert.is(e.kind, 'retryable');
    });
    if (!c.retriesClientErrors) {
      t('wrong credentials are permanent', async () => {
        const s = c.settings(base);
        const bad = { ...s, credentials: Object.fromEntries(Object.entries(s.credentials).map(([k, v]) => [k, `wrong-${v}`])) };
        const e = await failure(c.act(adapterRegistry[s.adapter].create(bad, io()), ctxOf()));
        assert.is(e.kind, 'permanent');
      });
    }
  } else {
    for (const name of ['lost response then retry', '500', '429 Retry-After', '400', 'business refusal', 'timeout', 'refused connection', 'wrong credentials']) {
      skip(name, 'file exchange: no HTTP between us and the 3PL (its failures are folder errors, tested below and in test/adapters/file-3pl.test.ts)');
    }
    t('an unwritable share is retryable', async () => {
      const blocker = join(dataDir, 'not-a-folder');
      writeFileSync(blocker, 'x');
      const s = { ...c.settings(base), options: { warehouse: 'EU', folder: blocker } };
      const e = await failure(c.act(adapterRegistry[s.adapter].create(s, io()), ctxOf()));
      assert.is(e.kind, 'retryable');
    });
  }

  if (c.dedup === 'idempotency-key' && c.http) {
    t('the same key sent concurrently acts once (after retrying the loser)', async () => {
      const ctx = ctxOf();
      const n = await effectsAfter(c, async () => {
        const rs = await Promise.allSettled([c.act(make(), ctx), c.act(make(), ctx)]);
        for (const r of rs) if (r.status === 'rejected') {
          assert.is((r.reason as PartnerError).kind, 'retryable');
          await c.act(make(), ctx);
        }
      });
      assert.is(n, 1);
    });
  } else {
    skip('the same key sent concurrently acts once', c.dedup === 'file-name'
      ? 'file exchange: the engine never runs two steps of one aggregate at once; the file name is per key'
      : 'no idempotency key at this partner: a lookup by our reference covers sequential retries; the engine serialises an aggregate\'s steps');
  }

  t.run();
}

// Role-specific behaviour beyond the shared contract.
const roles = suite('adapter contract: role operations');
roles.before(() => ready);
const byId = (id: string) => cases.find((c) => c.id === id)!;
const build = (id: string) => adapterRegistry[byId(id).settings(base).adapter].create(byId(id).settings(base), io());

for (const id of ['easypost-sim', 'shippo-sim']) {
  roles(`${id}: cancel refunds the bought label once, a repeated cancel is a no-op; a return label is bought`, async () => {
    const a = build(id) as CarrierAdapter;
    const ev = fresh<'shipment.requested'>('shipment.requested');
    const created = await a.createShipment(ev, ctxOf());
    const label = created.milestones!.find((m) => m.type === 'label.created')!;
    assert.ok(label, 'label.created');
    const cancel = { ...structuredClone(events['shipment.cancelled']), aggregate: ev.aggregate, payload: { ...events['shipment.cancelled'].payload, shipment_ref: (ev.payload as any).shipment_ref } } as any;
    const before = sim(id).effects.get('label_refunded');
    await a.cancelShipment(cancel, ctxOf(undefined, undefined, created.data));
    await a.cancelShipment(cancel, ctxOf(undefined, undefined, created.data));
    assert.is(sim(id).effects.get('label_refunded') - before, 1);
    const r = await a.createReturnLabel(fresh('return.requested'), ctxOf());
    assert.is(r.milestones?.[0]?.type, 'label.created');
    assert.ok(checkMilestone(r.milestones![0]).ok);
  });
  roles(`${id}: an undeliverable address is a permanent invalid_address`, async () => {
    const ev = fresh<'shipment.requested'>('shipment.requested');
    (ev.payload as any).ship_to.street1 = 'INVALID street';
    const e = await failure((build(id) as CarrierAdapter).createShipment(ev, ctxOf()));
    assert.is(e.kind, 'permanent');
    assert.is(e.details.reason, 'invalid_address');
  });
}

roles('wms-sim: cancel once, a cancel after shipping is refused (allocation_conflict); unknown SKU is permanent unknown_sku; returns announced once; inventory polled', async () => {
  const a = build('wms-sim') as WarehouseAdapter;
  const wms = sim('wms-sim') as WmsSim;
  const ev = fresh<'order.released'>('order.released');
  const rel = await a.releaseOrder(ev, ctxOf());
  assert.is(rel.milestones?.[0]?.type, 'order.accepted');
  const cancel = { ...structuredClone(events['order.cancelled']), aggregate: ev.aggregate, payload: { ...events['order.cancelled'].payload, picking_ref: (ev.payload as any).picking_ref } } as any;
  const before = wms.effects.get('order_cancelled');
  await a.cancelOrder(cancel, ctxOf(undefined, undefined, rel.data));
  await a.cancelOrder(cancel, ctxOf(undefined, undefined, rel.data));
  assert.is(wms.effects.get('order_cancelled') - before, 1);

  const ev2 = fresh<'order.released'>('order.released');
  const rel2 = await a.releaseOrder(ev2, ctxOf());
  const order = [...wms.orders.values()].find((o) => o.reference_id === (ev2.payload as any).picking_ref)!;
  order.status = 'Fulfilled';
  const cancel2 = { ...cancel, payload: { ...cancel.payload, picking_ref: (ev2.payload as any).picking_ref } };
  const e = await failure(a.cancelOrder(cancel2, ctxOf(undefined, undefined, rel2.data)));
  assert.is(e.kind, 'permanent');
  assert.is(e.details.reason, 'allocation_conflict');

  const ev3 = fresh<'order.released'>('order.released');
  (ev3.payload as any).lines[0].sku = 'NOT_A_SKU';
  const e3 = await failure(a.releaseOrder(ev3, ctxOf()));
  assert.is(e3.details.reason, 'unknown_sku');

  const ret = fresh<'return.requested'>('return.requested');
  const rb = wms.effects.get('return_expected');
  await a.expectReturn(ret, ctxOf());
  await a.expectReturn(ret, ctxOf());
  assert.is(wms.effects.get('return_expected') - rb, 1);

  const inv = await a.collectUpdates!({ signal: AbortSignal.timeout(2000) });
  assert.ok(inv.length >= 2);
  for (const m of inv) assert.ok(checkMilestone(m).ok);
  assert.is(inv[0].type, 'inventory.level');
});

roles('shippo-sim: findShipment (the engine\'s reconciliation) gives the same label.created as the purchase', async () => {
  const a = build('shippo-sim') as CarrierAdapter;
  const ev = fresh<'shipment.requested'>('shipment.requested');
  const bought = await a.createShipment(ev, ctxOf());
  const found = await a.findShipment!((ev.payload as any).shipment_ref, { ...ctxOf(), correlationId: ev.id });
  assert.ok(found, 'found');
  assert.equal(found!.milestones, bought.milestones!.map((m) => ({ ...m, occurred_at: found!.milestones![0].occurred_at })));
  assert.is(await a.findShipment!('NO/SUCH/REF', ctxOf()), undefined);
});

roles('easypost-sim: several parcels are refused with a reason (not silently reduced to one)', async () => {
  const ev = fresh<'shipment.requested'>('shipment.requested');
  (ev.payload as any).parcels.push(structuredClone((ev.payload as any).parcels[0]));
  const e = await failure((build('easypost-sim') as CarrierAdapter).createShipment(ev, ctxOf()));
  assert.is(e.kind, 'permanent');
  assert.match(e.message, /2 parcels/);
});

roles('wms-sim: polled inventory reaches Odoo only when a level changed', async () => {
  const wms = sim('wms-sim') as WmsSim;
  const a = build('wms-sim') as WarehouseAdapter;
  const first = await a.collectUpdates!({ signal: AbortSignal.timeout(2000) });
  assert.ok(first.length >= 2);
  assert.equal(await a.collectUpdates!({ signal: AbortSignal.timeout(2000) }), []);
  wms.stock.get('FURN_7800')!.on_hand += 5;
  const changed = await a.collectUpdates!({ signal: AbortSignal.timeout(2000) });
  assert.equal(changed.map((m) => (m.payload as any).sku), ['FURN_7800']);
});

roles('wms-sim: with poll_shipments, a shipment confirmed without a webhook is collected, with the same id as its webhook', async () => {
  const wms = sim('wms-sim') as WmsSim;
  const s = byId('wms-sim').settings(base);
  const a = adapterRegistry[s.adapter].create({ ...s, options: { ...s.options, poll_shipments: true } }, io()) as WarehouseAdapter;
  const ev = fresh<'order.released'>('order.released');
  await a.releaseOrder(ev, ctxOf());
  let sent: string | undefined;
  const realSend = wms.send;
  (wms as any).send = async (batch: { body: string }[]) => { sent = batch[0].body; return [200]; };
  try {
    await wms.ship((ev.payload as any).picking_ref, { shipped: { FURN_0269: 1 } });
  } finally {
    (wms as any).send = realSend;
  }
  const polled = (await a.collectUpdates!({ signal: AbortSignal.timeout(2000) })).filter((m) => m.type === 'shipment.dispatched' && m.aggregate === ev.aggregate);
  assert.is(polled.length, 1);
  assert.ok(checkMilestone(polled[0]).ok);
  const { webhookToMilestones } = await import('../../bridge/src/adapters/wms/map.ts');
  const viaHook = webhookToMilestones(JSON.parse(sent!), { partnerId: 'wms-sim', receivedAt: new Date(), resolve: () => undefined }, { warehouse: 'WH' });
  assert.is(viaHook[0].id, polled[0].id);
  assert.equal((polled[0].payload as any).lines.find((l: any) => l.sku === 'FURN_0269').backorder_quantity, { value: 4, uom: 'Units' });
  const again = (await a.collectUpdates!({ signal: AbortSignal.timeout(2000) })).filter((m) => m.type === 'shipment.dispatched');
  assert.is(again.length, 1, 'the minute of overlap re-reads it; same id, deduplicated downstream');
});

roles('files-3pl-eu: a confirmation file comes back as shipment.dispatched with backorders, once', async () => {
  const a = build('files-3pl-eu') as WarehouseAdapter;
  const f = sim('files-3pl-eu') as File3plSim;
  const ev = fresh<'order.released'>('order.released');
  await a.releaseOrder(ev, ctxOf());
  await f.tick();
  await f.ship((ev.payload as any).picking_ref, { shipped: { FURN_0269: 3 }, duplicate: true });
  const ms = await a.collectUpdates!({ signal: AbortSignal.timeout(2000) });
  assert.is(ms.length, 1);
  assert.ok(checkMilestone(ms[0]).ok);
  const lines = (ms[0].payload as any).lines;
  assert.equal(lines.find((l: any) => l.sku === 'FURN_0269').backorder_quantity, { value: 2, uom: 'Units' });
  assert.is(ms[0].aggregate, ev.aggregate);
  assert.equal(await a.collectUpdates!({ signal: AbortSignal.timeout(2000) }), []);
});

roles('notify-sim: 410 Gone disables the endpoint; later calls fail permanently without calling it', async () => {
  const sw = sim('notify-sim') as Simulator & { run: { gone?: boolean } };
  const dir = mkdtempSync(join(tmpdir(), 'sw-gone-'));
  const s = byId('notify-sim').settings(base);
  let calls = 0;
  const counting: AdapterIO = { fetch: (u, i) => { calls++; return fetch(u, i); }, now: () => new Date(), dataDir: dir };
  const a = adapterRegistry[s.adapter].create(s, counting) as VisibilityAdapter;
  sw.run.gone = true;
  try {
    const e = await failure(a.publishMilestone(freshLabel(), ctxOf()));
    assert.is(e.kind, 'permanent');
    assert.is(e.details.status, 410);
    const e2 = await failure(a.publishMilestone(freshLabel(), ctxOf()));
    assert.is(e2.kind, 'permanent');
    assert.is(calls, 1);
  } finally {
    sw.run.gone = false;
    rmSync(dir, { recursive: true, force: true });
  }
});

roles.after(() => {
  server.close();
  (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
  rmSync(dataDir, { recursive: true, force: true });
});
roles.run();
