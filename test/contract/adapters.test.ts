/**
 * The one contract every adapter passes, each against its simulator over real HTTP on 127.0.0.1
 * (simulators that honour only what the partner documents: no idempotency header anywhere):
 * every step declares its safety rule with the doc it rests on; a step whose answer was lost acts
 * once when retried in doubt with the same key (lookup or the partner's documented dedup), with the
 * same milestone ids; failures are sorted at the boundary (5xx, 429, timeouts, lost responses,
 * refused connections -> retryable; validation and business refusals -> permanent with a reason),
 * and whatever milestones come back satisfy the canonical contract.
 * A test that does not apply to an adapter is skipped with its reason printed.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import type { AddressInfo } from 'node:net';
import { checkMilestone, type Event, type Milestone } from '../../shared/src/index.ts';
import { adapterRegistry } from '../../bridge/src/adapters/registry.ts';
import { PartnerError, type AdapterIO, type CallContext, type CarrierAdapter, type PartnerAdapter, type PartnerSettings, type SafetyRule, type StepResult, type VisibilityAdapter, type WarehouseAdapter } from '../../bridge/src/adapters/types.ts';
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
/** The same call again after an answer that never arrived: the engine retries with the same key, in doubt. */
const inDoubt = (ctx: CallContext): CallContext => ({ ...ctx, signal: AbortSignal.timeout(5000), inDoubt: true });
/** I/O whose requests carry `fault` (all of them, or only the `only`-th request of this adapter, 1-based). */
const io = (fault?: string, only?: number): AdapterIO => {
  let n = 0;
  return {
    fetch: (url, init) => {
      n += 1;
      const hit = fault && (only === undefined || only === n);
      return fetch(url, hit ? { ...init, headers: { ...(init?.headers as Record<string, string>), 'x-sim-fault': fault } } : init);
    },
    now: () => new Date(),
    dataDir,
  };
};
const ids = (r: StepResult) => (r.milestones ?? []).map((m) => m.id);

/** One effectful step of a role, as the contract drives it. */
interface Step {
  /** The effect the simulator counts for it. */
  effect: string;
  /** What must exist before (an order to cancel, a label to refund); returns the data bag the step gets. */
  setup?: (a: PartnerAdapter, key: string) => Promise<Record<string, unknown>>;
  act: (a: PartnerAdapter, ctx: CallContext) => Promise<StepResult>;
}

interface Case {
  id: string;
  settings: (baseUrl: string) => PartnerSettings;
  /** The call with an effect at the partner, and the effect's name. */
  act: (a: PartnerAdapter, ctx: CallContext) => Promise<StepResult>;
  effect: string;
  /** How a repeated call is kept from acting twice. */
  dedup: 'idempotency-key' | 'lookup-by-reference' | 'documented-duplicate-error' | 'file-name';
  http: boolean;
  /** Why 4xx answers are retried rather than permanent, where the partner's protocol says so. */
  retriesClientErrors?: string;
  /** Make the effect visible (file partners act when they poll their folder). */
  settle?: () => Promise<void>;
}

/** A cancel event for the shipment (or order) an earlier fixture event created. */
function cancelFor(name: 'shipment.cancelled' | 'order.cancelled', created: Event): any {
  const c = structuredClone(events[name]) as any;
  const ref = name === 'shipment.cancelled' ? 'shipment_ref' : 'picking_ref';
  return { ...c, id: randomUUID(), aggregate: created.aggregate, payload: { ...c.payload, [ref]: (created.payload as any)[ref] } };
}

const carrierSteps: Record<string, Step> = {
  createShipment: { effect: 'label_purchased', act: (a, ctx) => (a as CarrierAdapter).createShipment(eventFor(ctx.idempotencyKey, 'shipment.requested'), ctx) },
  createReturnLabel: { effect: 'return_label_purchased', act: (a, ctx) => (a as CarrierAdapter).createReturnLabel(eventFor(ctx.idempotencyKey, 'return.requested'), ctx) },
  cancelShipment: {
    effect: 'label_refunded',
    setup: async (a, key) => (await (a as CarrierAdapter).createShipment(eventFor(`${key}:created`, 'shipment.requested'), ctxOf())).data ?? {},
    act: (a, ctx) => (a as CarrierAdapter).cancelShipment(cancelFor('shipment.cancelled', eventFor(`${ctx.idempotencyKey}:created`, 'shipment.requested')), ctx),
  },
};
const warehouseSteps = (settle?: () => Promise<void>): Record<string, Step> => ({
  releaseOrder: { effect: 'order_released', act: (a, ctx) => (a as WarehouseAdapter).releaseOrder(eventFor(ctx.idempotencyKey, 'order.released'), ctx) },
  expectReturn: { effect: 'return_expected', act: (a, ctx) => (a as WarehouseAdapter).expectReturn(eventFor(ctx.idempotencyKey, 'return.requested'), ctx) },
  cancelOrder: {
    effect: 'order_cancelled',
    setup: async (a, key) => {
      const data = (await (a as WarehouseAdapter).releaseOrder(eventFor(`${key}:created`, 'order.released'), ctxOf())).data ?? {};
      await settle?.();
      return data;
    },
    act: (a, ctx) => (a as WarehouseAdapter).cancelOrder(cancelFor('order.cancelled', eventFor(`${ctx.idempotencyKey}:created`, 'order.released')), ctx),
  },
});
const visibilitySteps: Record<string, Step> = {
  publishMilestone: { effect: 'milestone_published', act: (a, ctx) => (a as VisibilityAdapter).publishMilestone(labelFor(ctx.idempotencyKey), ctx) },
};
const stepsOf = (c: Case, role: PartnerAdapter['role']): Record<string, Step> =>
  role === 'carrier' ? carrierSteps : role === 'warehouse' ? warehouseSteps(c.settle) : visibilitySteps;

const sim = (id: string) => sims[id] as Simulator;
const cases: Case[] = [
  {
    id: 'easypost-sim', dedup: 'lookup-by-reference', http: true, effect: 'label_purchased',
    settings: (b) => ({ id: 'easypost-sim', adapter: 'easypost', base_url: `${b}/_sim/easypost-sim/v2`, credentials: { api_key: E.DEMO_EASYPOST_API_KEY }, options: {} }),
    act: (a, ctx) => (a as CarrierAdapter).createShipment(eventFor(ctx.idempotencyKey, 'shipment.requested'), ctx),
  },
  {
    id: 'shippo-sim', dedup: 'lookup-by-reference', http: true, effect: 'label_purchased',
    settings: (b) => ({ id: 'shippo-sim', adapter: 'shippo', base_url: `${b}/_sim/shippo-sim`, credentials: { api_token: E.DEMO_SHIPPO_TOKEN }, options: { service_map: { GROUND: 'ups_ground' } } }),
    act: (a, ctx) => (a as CarrierAdapter).createShipment(eventFor(ctx.idempotencyKey, 'shipment.requested'), ctx),
  },
  {
    id: 'wms-sim', dedup: 'documented-duplicate-error', http: true, effect: 'order_released',
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
    id: 'aftership-sim', dedup: 'documented-duplicate-error', http: true, effect: 'milestone_published',
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

async function effectsAfter(c: Case, fn: () => Promise<unknown>, effect = c.effect): Promise<number> {
  const before = sim(c.id).effects.get(effect);
  await fn();
  await c.settle?.();
  return sim(c.id).effects.get(effect) - before;
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

  t(`the same key twice, the second in doubt, acts once (${c.dedup})`, async () => {
    const ctx = ctxOf();
    let a: StepResult = {}, b: StepResult = {};
    const n = await effectsAfter(c, async () => { a = await c.act(make(), ctx); b = await c.act(make(), inDoubt(ctx)); });
    assert.is(n, 1);
    assert.equal(ids(b), ids(a));
  });

  t('it declares a safety rule for every step of its role, resting on a partner doc (or saying why it is unsafe)', () => {
    const a = make();
    const steps = Object.keys(stepsOf(c, a.role));
    assert.equal(Object.keys(a.safety).sort(), [...steps].sort(), 'one entry per step of the role, no more');
    for (const [step, s] of Object.entries(a.safety as Record<string, { rule: SafetyRule; doc: string }>)) {
      assert.ok(['partner-deduplicates', 'lookup-before-retry', 'unsafe'].includes(s.rule), `${step}: rule ${s.rule}`);
      if (s.rule === 'unsafe') assert.ok(s.doc.trim().length >= 15 && !/not yet reviewed/i.test(s.doc), `${step}: an unsafe step says why (got "${s.doc}")`);
      else assert.match(s.doc, /https:\/\/\S+|bridge\/src\/simulators\/\S+#contract/, `${step}: ${s.rule} names the partner doc (URL, or the written contract of a made-up partner)`);
    }
  });

  for (const [step, st] of Object.entries(stepsOf(c, make().role))) {
    const rule = (make().safety as Record<string, { rule: SafetyRule }>)[step].rule;
    if (rule === 'unsafe') {
      skip(`${step}: a lost answer then a retry in doubt acts once`, 'declared unsafe: the engine sends an interrupted call to a person');
      continue;
    }
    t(`${step} (${rule}): a lost answer then retries in doubt with the same key act once, with the same milestone ids`, async () => {
      const key = randomUUID();
      const ctx = ctxOf(key, undefined, await st.setup?.(make(), key));
      let r1: StepResult = {}, r2: StepResult = {};
      const n = await effectsAfter(c, async () => {
        if (c.http) {
          const e = await failure(st.act(make('drop-response'), ctx));
          assert.is(e.kind, 'retryable', e.message);
        } else {
          await st.act(make(), ctx); // the call acted; its answer is what gets lost (a crash before recording it)
          await c.settle?.();
        }
        r1 = await st.act(make(), inDoubt(ctx));
        r2 = await st.act(make(), inDoubt(ctx));
      }, st.effect);
      assert.is(n, 1, `${st.effect} at the partner`);
      assert.equal(ids(r2), ids(r1));
      for (const m of r1.milestones ?? []) assert.ok(checkMilestone(m).ok);
    });
  }

  if (c.http) {
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
    // Only a receiver that dedups by a documented key (Standard Webhooks' webhook-id) can take the same call twice at once.
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
      : 'no idempotency key at this partner: a lookup by our reference or its documented duplicate refusal covers sequential retries; the engine serialises an aggregate\'s steps');
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

/** A shipment of `count` parcels (copies of the fixture's first, a little heavier each). */
function multiParcel(count: number): Extract<Event, { type: 'shipment.requested' }> {
  const ev = fresh<'shipment.requested'>('shipment.requested');
  const first = (ev.payload as any).parcels[0];
  (ev.payload as any).parcels = Array.from({ length: count }, (_, i) => ({ ...structuredClone(first), weight: { ...first.weight, value: first.weight.value + i } }));
  return ev;
}

for (const id of ['easypost-sim', 'shippo-sim']) {
  roles(`${id}: a 3-parcel shipment gets 3 labels, 3 tracking numbers, 3 label.created milestones (parcel i of 3); a cancel refunds all 3`, async () => {
    const a = build(id) as CarrierAdapter;
    const ev = multiParcel(3);
    let r: StepResult = {};
    const bought = sim(id).effects.get('label_purchased');
    r = await a.createShipment(ev, ctxOf());
    assert.is(sim(id).effects.get('label_purchased') - bought, 3);
    const labels = r.milestones!.filter((m) => m.type === 'label.created');
    assert.is(labels.length, 3);
    for (const m of labels) assert.ok(checkMilestone(m).ok, JSON.stringify(checkMilestone(m)));
    assert.equal(labels.map((m) => (m.payload as any).parcel), [1, 2, 3].map((index) => ({ index, count: 3 })));
    assert.is(new Set(labels.map((m) => (m.payload as any).tracking_number)).size, 3);
    assert.is(new Set(labels.map((m) => (m.payload as any).label.url)).size, 3);
    assert.is(new Set(labels.map((m) => m.id)).size, 3);
    const before = sim(id).effects.get('label_refunded');
    await a.cancelShipment(cancelFor('shipment.cancelled', ev), ctxOf(undefined, undefined, r.data));
    assert.is(sim(id).effects.get('label_refunded') - before, 3, 'every parcel\'s label refunded');
  });
}

// A step of several requests whose answer is lost in the middle: the retry in doubt completes it, acting once per parcel.
const midStep: { id: string; what: string; parcels: number; drop: number }[] = [
  { id: 'easypost-sim', what: 'the create answered, the buy\'s answer lost', parcels: 1, drop: 2 },
  { id: 'easypost-sim', what: 'parcel 1 bought, parcel 2\'s create answer lost', parcels: 3, drop: 3 },
  { id: 'easypost-sim', what: 'parcel 2 created, its buy answer lost', parcels: 3, drop: 4 },
  { id: 'shippo-sim', what: 'the shipment answered, the purchase\'s answer lost', parcels: 1, drop: 2 },
  { id: 'shippo-sim', what: 'the multi-piece purchase answered, the listing of its labels lost', parcels: 3, drop: 3 },
];
for (const m of midStep) {
  roles(`${m.id}: ${m.parcels} parcel(s), ${m.what}: the retry in doubt buys each label once, with the ids of an undisturbed retry`, async () => {
    const ev = m.parcels === 1 ? fresh<'shipment.requested'>('shipment.requested') : multiParcel(m.parcels);
    const s = byId(m.id).settings(base);
    const ctx = ctxOf();
    const before = sim(m.id).effects.get('label_purchased');
    const e = await failure((adapterRegistry[s.adapter].create(s, io('drop-response', m.drop)) as CarrierAdapter).createShipment(ev, ctx));
    assert.is(e.kind, 'retryable');
    const r1 = await (build(m.id) as CarrierAdapter).createShipment(ev, inDoubt(ctx));
    const r2 = await (build(m.id) as CarrierAdapter).createShipment(ev, inDoubt(ctx));
    assert.is(sim(m.id).effects.get('label_purchased') - before, m.parcels);
    assert.is(r1.milestones!.length, m.parcels);
    assert.equal(ids(r2), ids(r1));
  });
}

roles('easypost-sim: the create acted, then the buy answers 429: the error drops the status (the step acted), and the retry in doubt adopts the shipment', async () => {
  const ev = fresh<'shipment.requested'>('shipment.requested');
  const s = byId('easypost-sim').settings(base);
  const ctx = ctxOf();
  const ep = sim('easypost-sim');
  const created = ep.effects.get('shipment_created');
  const e = await failure((adapterRegistry[s.adapter].create(s, io('429=1', 2)) as CarrierAdapter).createShipment(ev, ctx));
  assert.is(e.kind, 'retryable');
  assert.is(e.details.status, undefined, 'a status here would tell the engine the partner did not act');
  assert.is(e.details.retryAfterMs, 1000);
  await (build('easypost-sim') as CarrierAdapter).createShipment(ev, inDoubt(ctx));
  assert.is(ep.effects.get('shipment_created') - created, 1);
});

roles('kit: latencyRangeMs makes every request wait a random time in the range', async () => {
  const { createEasyPostSim } = await import('../../bridge/src/simulators/easypost/app.ts');
  const draws = [0, 1];
  const slow = createEasyPostSim({ latencyRangeMs: [100, 250], random: () => draws.shift() ?? 0.5 });
  for (const want of [100, 250]) {
    const t0 = Date.now();
    const res = await slow.app.fetch(new Request('http://sim/v2/shipments/shp_x', { headers: { authorization: `Basic ${Buffer.from('k:').toString('base64')}` } }));
    const took = Date.now() - t0;
    assert.is(res.status, 404);
    assert.ok(took >= want - 5 && took < want + 150, `took ${took} ms, wanted about ${want}`);
  }
});

roles('easypost-sim and shippo-sim do not honour an Idempotency-Key header (neither documents one): two creates with the same header make two', async () => {
  const key = randomUUID();
  const ep = sim('easypost-sim');
  const auth = { authorization: `Basic ${Buffer.from(`${E.DEMO_EASYPOST_API_KEY}:`).toString('base64')}`, 'content-type': 'application/json', 'idempotency-key': key };
  const body = JSON.stringify({ shipment: { reference: `idem-${key}`, to_address: { street1: '1 A St', city: 'X', zip: '94523', country: 'US' }, from_address: { street1: '2 B St', city: 'Y', zip: '94105', country: 'US' }, parcel: { weight: 10 } } });
  const before = ep.effects.get('shipment_created');
  const a = await (await fetch(`${base}/_sim/easypost-sim/v2/shipments`, { method: 'POST', headers: auth, body })).json() as any;
  const b = await (await fetch(`${base}/_sim/easypost-sim/v2/shipments`, { method: 'POST', headers: auth, body })).json() as any;
  assert.is(ep.effects.get('shipment_created') - before, 2);
  assert.is.not(a.id, b.id);

  const sh = sim('shippo-sim');
  const sauth = { authorization: `ShippoToken ${E.DEMO_SHIPPO_TOKEN}`, 'content-type': 'application/json', 'idempotency-key': key };
  const shipment = await (await fetch(`${base}/_sim/shippo-sim/shipments/`, { method: 'POST', headers: sauth, body: JSON.stringify({ address_from: { street1: '2 B St' }, address_to: { street1: '1 A St' }, parcels: [{ weight: '1' }] }) })).json() as any;
  const buy = JSON.stringify({ rate: shipment.rates[0].object_id, metadata: `idem-${key}` });
  const lb = sh.effects.get('label_purchased');
  const t1 = await (await fetch(`${base}/_sim/shippo-sim/transactions/`, { method: 'POST', headers: sauth, body: buy })).json() as any;
  const t2 = await (await fetch(`${base}/_sim/shippo-sim/transactions/`, { method: 'POST', headers: sauth, body: buy })).json() as any;
  assert.is(sh.effects.get('label_purchased') - lb, 2);
  assert.is.not(t1.tracking_number, t2.tracking_number);
});

roles('files-3pl-eu: the 3PL imports a file name once, even when the same file is written again (its documented dedup, not only ours)', async () => {
  const a = build('files-3pl-eu') as WarehouseAdapter;
  const f = sim('files-3pl-eu') as File3plSim;
  const ev = fresh<'order.released'>('order.released');
  const ctx = ctxOf();
  const before = f.effects.get('order_released');
  const r = await a.releaseOrder(ev, ctx);
  await f.tick();
  // Our own record of the hand-over is gone (a crash between the rename and the copy): the retry writes the same name again.
  rmSync(join(dataDir, 'files-3pl-eu', 'sent', String(r.data!.order_file)));
  const again = await a.releaseOrder(ev, inDoubt(ctx));
  assert.is(again.data!.order_file_written, true);
  await f.tick();
  assert.is(f.effects.get('order_released') - before, 1);
  assert.ok(readdirSync(join(dataDir, 'files-3pl-eu', 'outbound', 'archive')).some((n) => n.startsWith(String(r.data!.order_file)) && n.endsWith('.dup')));
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
