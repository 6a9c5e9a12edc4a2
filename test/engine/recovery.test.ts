/** Crash recovery, stored answers, reconcile; milestones: ownership, visibility outages, write-back queueing. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createEngine } from '../../bridge/src/core/engine.ts';
import { AGGREGATES, JOBS, type AggregateRow, type Job } from '../../bridge/src/core/jobs.ts';
import { stateLogs, type StateLogs } from '../../bridge/src/store/state-logs.ts';
import { createMemoryStore } from '../../bridge/src/store/memory.ts';
import type { Store } from '../../bridge/src/store/types.ts';
import { loadFixtures } from '../helpers/fixtures.ts';
import { event, fakeClock, fakeRegistry, harness, quietLogger, testConfig } from './helpers.ts';

/** A view of the store that stops writing (forever pending) once `crash()` is called: a dead process. */
function crashable(store: Store) {
  let crashed = false;
  const never = new Promise<never>(() => {});
  const guard = <F extends (...a: any[]) => Promise<any>>(f: F) => ((...a: any[]) => (crashed ? never : f(...a))) as F;
  const view: Store = {
    ...store,
    open: () => store.open(),
    close: () => store.close(),
    get isOpen() { return store.isOpen; },
    ingest: guard(store.ingest.bind(store)),
    get: store.get.bind(store),
    list: store.list.bind(store),
    setStatus: guard(store.setStatus.bind(store)),
    patchStatus: guard(store.patchStatus.bind(store)),
    unfinished: store.unfinished.bind(store),
    onAccepted: (l) => store.onAccepted((e) => { if (!crashed) l(e); }),
    collection: (name) => {
      const c = store.collection<any>(name);
      return { get: c.get, all: c.all, put: guard(c.put), delete: guard(c.delete) };
    },
    log: (name) => {
      const l = store.log<any>(name);
      return { append: guard(l.append), query: l.query };
    },
    prune: store.prune.bind(store),
  };
  // The engine's own logs (jobs, aggregates, audit) stop writing too.
  const real = stateLogs(store);
  const logs: StateLogs = {
    async keyed<T>(name: string, o?: object) {
      const l = await real.keyed<T>(name, o);
      return { ...l, get size() { return l.size; }, put: guard(l.put), delete: guard(l.delete) };
    },
    async history<T>(name: string, o?: object) {
      const l = await real.history<T>(name, o);
      return { ...l, append: guard(l.append), query: l.query, prune: l.prune, close: l.close };
    },
    close: async () => {},
  };
  return { store: view, logs, crash: () => { crashed = true; } };
}

/** The jobs the engine has written for this (memory) store. */
async function writtenJobs(store: Store): Promise<Job[]> {
  const out: Job[] = [];
  for await (const j of (await stateLogs(store).keyed<Job>(JOBS)).values()) out.push(j);
  return out;
}

const fastTimeout = (withFallback = false) => testConfig({
  partners: [
    { id: 'wms', adapter: 'fake-wms', role: 'warehouse', limits: { timeout_ms: 30 } },
    { id: 'ups', adapter: 'fake-carrier', role: 'carrier', limits: { timeout_ms: 30 } },
    { id: 'vis', adapter: 'fake-vis', role: 'visibility', limits: { backoff: { base_ms: 1000, cap_ms: 4000 } } },
  ],
  routes: [
    { events: ['order.released', 'order.cancelled'], partners: ['wms'] },
    { events: ['shipment.requested'], partners: ['ups'], ...(withFallback ? {} : {}) },
  ],
  ownership: { inventory: { WH: 'wms' }, shipments: { trusted: [] } },
});

async function crashMidCall(options: { keys: boolean; withFind: boolean; type: 'order.released' | 'shipment.requested' }) {
  const clock = fakeClock();
  const real = createMemoryStore({ now: clock.now });
  await real.open();
  const a = crashable(real);
  const config = fastTimeout();
  const fakes = fakeRegistry(clock, { honoursKeys: options.keys, withFind: options.withFind });
  const io = { now: clock.now, random: () => 0.5, setTimeout: clock.setTimeout, clearTimeout: clock.clearTimeout };
  const first = createEngine({ store: a.store, logs: a.logs, config, registry: fakes.registry, logger: quietLogger(), io });
  await first.start();
  const partnerId = options.type === 'order.released' ? 'wms' : 'ups';
  const partner = fakes.partner(partnerId);
  partner.script = ['act-then-hang'];
  const e = event(options.type, 'stock.picking:500', 1);
  // The partner acts, and the process dies before its answer arrives.
  partner.script[0] = (async (ctx: any, body: any) => {
    partner.effects.set(body.id, (partner.effects.get(body.id) ?? 0) + 1);
    if (options.keys) partner.answers.set(ctx.idempotencyKey, { data: { acted: true } });
    a.crash();
    return new Promise(() => {});
  }) as any;
  await a.store.ingest([e]);
  for (let i = 0; i < 100 && partner.calls.length === 0; i++) await new Promise((r) => setImmediate(r));
  assert.is(partner.calls.length, 1);
  assert.is((await real.get(e.id))?.state, 'delivering', 'left delivering by the crash');
  assert.equal(await writtenJobs(real).then((js) => js.map((j) => j.state)), ['running'], 'the job is written as running');
  // A new process on the same data.
  const second = createEngine({ store: real, config, registry: fakes.registry, logger: quietLogger(), io });
  await second.start();
  // An interrupted call is taken up no sooner than its timeout after it left.
  clock.advance(60_000);
  await second.runDue();
  return { e, partner, real, second };
}

test('crash mid-call, partner honours keys: resumed on start with the same key, one effect', async () => {
  const { e, partner, real } = await crashMidCall({ keys: true, withFind: false, type: 'order.released' });
  assert.equal(partner.calls.map((c) => c.key), [`${e.id}:wms`, `${e.id}:wms`]);
  assert.is(partner.effects.get(e.id), 1);
  assert.is((await real.get(e.id))?.state, 'delivered', 'nothing left delivering');
  assert.is((await writtenJobs(real)).length, 0);
});

test('crash mid-call, a lookup-before-retry step: the resumed call looks up our reference and adopts the label instead of buying a second', async () => {
  const { e, partner, real } = await crashMidCall({ keys: false, withFind: true, type: 'shipment.requested' });
  assert.equal(partner.calls.map((c) => c.action), ['createShipment', 'createShipment', 'findShipment']);
  assert.is(partner.effects.get(e.id), 1);
  assert.is((await real.get(e.id))?.state, 'delivered');
});

test('crash mid-call, an unsafe step (no key, no lookup): manual with may_have_applied, never called again; the interrupted call is audited', async () => {
  const { e, partner, real, second } = await crashMidCall({ keys: false, withFind: false, type: 'shipment.requested' });
  assert.is(partner.effects.get(e.id), 1);
  assert.is(partner.calls.length, 1, 'not called blindly again');
  const s = await real.get(e.id);
  assert.is(s?.state, 'manual');
  assert.match(s?.last_error ?? '', /may have acted.*check the partner/);
  assert.is(second.deadLetters.get(e.id)?.reason, 'may_have_applied');
  const attempts = (await second.audit({ event_id: e.id })).filter((a) => a.action === 'attempt').map((a) => [a.call, a.outcome]);
  assert.equal(attempts, [[1, 'started'], [1, 'interrupted']]);
  // The operator checked the partner: it did not act. A replay calls once more.
  partner.script = [];
  await second.deadLetters.replay(e.id, { actor: 'ops' });
  await second.runDue();
  assert.is((await real.get(e.id))?.state, 'delivered');
  assert.is(partner.effects.get(e.id), 2, 'the replay is the operator\'s decision');
});

test('an answer stored but not yet applied (crash in between) is applied on start, without calling again', async () => {
  const clock = fakeClock();
  const store = createMemoryStore({ now: clock.now });
  await store.open();
  const e = event('shipment.requested', 'stock.picking:501', 1);
  await store.ingest([e]);
  const now = clock.now().toISOString();
  const label = loadFixtures('milestones', 'valid').find(([n]) => n === 'label.created')![1];
  await (await stateLogs(store).keyed<Job>(JOBS)).put([{
    id: `${e.id}/ups`, kind: 'event', subject: e.id, event_id: e.id, type: e.type, aggregate: e.aggregate, group: e.aggregate, seq: 1, step: 'ups',
    action: 'createShipment', candidates: ['ups'], candidate: 0, key: `${e.id}:ups`, attempts: 0, max_attempts: 8, calls: 1, run_at: now,
    state: 'done', in_doubt: false, applied: false, result: { data: { shipment_id: 'shp_1' }, milestones: [{ ...label, source: { partner: 'ups' }, aggregate: e.aggregate }] },
    replays: 0, rekeys: 0, created_at: now, updated_at: now,
  }]);
  const h = await harness({ store, clock, config: fastTimeout() });
  assert.is(h.partner('ups').calls.length, 0, 'not asked again');
  assert.is(await h.state(e.id), 'delivered');
  assert.is(h.engine.writeback.status().pending, 1, 'its milestone reached the outbox');
});

test('a two-step event with one step answered before a crash runs its other step on start, not delivered early', async () => {
  const clock = fakeClock();
  const store = createMemoryStore({ now: clock.now });
  await store.open();
  const config = testConfig({
    partners: [{ id: 'wms', adapter: 'fake-wms', role: 'warehouse' }, { id: 'ups', adapter: 'fake-carrier', role: 'carrier' }],
    routes: [{ events: ['return.requested'], partners: ['wms', 'ups'] }],
  });
  const e = event('return.requested', 'stock.picking:503', 1);
  await store.ingest([e]);
  const now = clock.now().toISOString();
  await (await stateLogs(store).keyed<Job>(JOBS)).put([{
    id: `${e.id}/wms`, kind: 'event', subject: e.id, event_id: e.id, type: e.type, aggregate: e.aggregate, group: e.aggregate, seq: 1, step: 'wms',
    action: 'expectReturn', candidates: ['wms'], candidate: 0, key: `${e.id}:wms`, attempts: 0, max_attempts: 8, calls: 1, run_at: now,
    state: 'done', in_doubt: false, result: { data: { rma: 'R1' } }, replays: 0, rekeys: 0, created_at: now, updated_at: now,
  }]);
  const h = await harness({ store, clock, config });
  await h.engine.runDue();
  assert.equal(h.partner('wms').calls.length, 0, 'the answered step is not asked again');
  assert.equal(h.partner('ups').calls.map((c) => c.action), ['createReturnLabel']);
  assert.is(await h.state(e.id), 'delivered');
});

test('events acknowledged but never routed (crash right after ingest) are routed on start', async () => {
  const clock = fakeClock();
  const store = createMemoryStore({ now: clock.now });
  await store.open();
  const e = event('order.released', 'stock.picking:502', 1);
  await store.ingest([e]);
  const h = await harness({ store, clock, config: fastTimeout() });
  await h.engine.runDue();
  assert.is(h.partner('wms').calls.length, 1);
  assert.is(await h.state(e.id), 'delivered');
});

test('label milestones go to the Odoo outbox and the visibility partner; a visibility outage never blocks execution', async () => {
  const h = await harness({ config: fastTimeout() });
  const vis = h.partner('vis');
  vis.otherwise = 'fail500';
  const s1 = event('shipment.requested', 'stock.picking:510', 1);
  const s2 = event('shipment.requested', 'stock.picking:511', 1);
  await h.publish(s1, s2);
  assert.is(await h.state(s1.id), 'delivered');
  assert.is(await h.state(s2.id), 'delivered');
  assert.is(h.engine.writeback.status().pending, 2);
  for (let i = 0; i < 40; i++) await h.advance(30_000);
  assert.ok(vis.calls.length > 8 * 2, `publishing kept trying past max_attempts (8) behind its breaker: ${vis.calls.length} calls`);
  assert.is(h.engine.deadLetters.list().items.length, 0, 'an outage is not a dead letter');
  vis.otherwise = 'ok';
  await h.advance(60_000);
  assert.is(vis.effects.size, 2, 'both published once the platform is back');
  assert.equal([...vis.effects.values()], [1, 1]);
  assert.is(h.engine.jobs().length, 0);
});

test('a partner removed from the configuration: its queued work becomes a visible dead letter on start, and replay says why it cannot', async () => {
  const clock = fakeClock();
  const store = createMemoryStore({ now: clock.now });
  await store.open();
  const first = await harness({ store, clock, config: fastTimeout() });
  first.partner('wms').otherwise = 'fail500';
  const e = event('order.released', 'stock.picking:530', 1);
  await first.publish(e);
  assert.is(await first.state(e.id), 'retrying');
  await first.engine.stop();
  const config = testConfig({ partners: [{ id: 'ups', adapter: 'fake-carrier', role: 'carrier' }], routes: [{ events: ['shipment.requested'], partners: ['ups'] }] });
  const second = await harness({ store, clock, config });
  assert.is(await second.state(e.id), 'dead');
  assert.match(second.engine.deadLetters.list().items[0].last_error, /partner wms is not in the configuration/);
  try {
    await second.engine.deadLetters.replay(e.id, { actor: 'ops' });
    assert.unreachable();
  } catch (err) {
    assert.is((err as { code?: string }).code, 'partner_not_configured');
  }
});

test('a publish the visibility partner refuses for good is a dead letter that does not hold back later news', async () => {
  const h = await harness({ config: fastTimeout() });
  const vis = h.partner('vis');
  vis.script = ['refuse'];
  const s1 = event('shipment.requested', 'stock.picking:540', 1);
  await h.publish(s1);
  const delivered = loadFixtures<any>('milestones', 'valid').find(([n]) => n === 'shipment.delivered')![1];
  const later = { ...delivered, source: { partner: 'ups' }, aggregate: 'stock.picking:540' };
  assert.equal((await h.engine.acceptMilestones([later], { partner: 'ups' })).accepted, [later.id]);
  await h.engine.runDue();
  const dl = h.engine.deadLetters.list({ kind: 'publish' }).items;
  assert.is(dl.length, 1);
  assert.is(dl[0].error_class, 'business');
  assert.is(vis.effects.get(later.id), 1, 'the later milestone was published');
});

test('aggregate memory is kept across restarts and forgotten after its retention once idle', async () => {
  const clock = fakeClock();
  const store = createMemoryStore({ now: clock.now });
  await store.open();
  const first = await harness({ store, clock, config: fastTimeout(), aggregateRetentionMs: 10 * 86_400_000 });
  await first.publish(event('shipment.requested', 'stock.picking:550', 1));
  await first.engine.stop();
  const log = await stateLogs(store).keyed<AggregateRow>(AGGREGATES);
  const rows = async () => { const out: AggregateRow[] = []; for await (const r of log.values()) out.push(r); return out; };
  assert.equal((await rows()).map((r) => [r.id, r.partners]), [['stock.picking:550', ['ups']]]);
  const delivered = loadFixtures<any>('milestones', 'valid').find(([n]) => n === 'shipment.delivered')![1];
  const late = { ...delivered, source: { partner: 'ups' }, aggregate: 'stock.picking:550' };
  clock.advance(9 * 86_400_000);
  const second = await harness({ store, clock, config: fastTimeout(), aggregateRetentionMs: 10 * 86_400_000 });
  assert.equal((await second.engine.acceptMilestones([late], { partner: 'ups' })).accepted, [late.id], 'nine days later the carrier still speaks for it');
  await second.engine.stop();
  clock.advance(2 * 86_400_000);
  const third = await harness({ store, clock, config: fastTimeout(), aggregateRetentionMs: 10 * 86_400_000 });
  assert.is((await rows()).length, 0, 'forgotten after ten idle days');
  assert.is((await third.engine.acceptMilestones([{ ...late, id: '5c1d2e3f-4a5b-4c6d-8e7f-0000000000cc' }], { partner: 'ups' })).refused.length, 1);
});

test('a store failure outside the partner call does not lose the step: it runs again later', async () => {
  const clock = fakeClock();
  const real = createMemoryStore({ now: clock.now });
  await real.open();
  // The attempt's own write fails once (before the request would leave): the event's body is in
  // memory, so the jobs log is the store the step touches first.
  let failPuts = 1;
  const inner = stateLogs(real);
  const logs: StateLogs = {
    async keyed<T>(name: string, o?: object) {
      const l = await inner.keyed<T>(name, o);
      if (name !== JOBS) return l;
      return { ...l, get size() { return l.size; }, put: async (rs: T[]) => { if (failPuts-- > 0) throw new Error('EIO: disk write failed'); return l.put(rs); } };
    },
    history: (name, o) => inner.history(name, o),
    close: async () => {},
  };
  const h = await harness({ store: real, clock, config: fastTimeout(), logs });
  const e = event('order.released', 'stock.picking:560', 1);
  await h.publish(e);
  assert.is(h.partner('wms').calls.length, 0);
  await h.advance(5_000);
  assert.is(h.partner('wms').calls.length, 1);
  assert.is(await real.get(e.id).then((s) => s?.state), 'delivered');
});

test('a store failure reading an event no longer in memory (a replayed dead letter) does not lose the step: it runs again later', async () => {
  const clock = fakeClock();
  const real = createMemoryStore({ now: clock.now });
  await real.open();
  let failGets = 0;
  const flaky: Store = Object.assign(Object.create(Object.getPrototypeOf(real)), real, {
    get: async (id: string) => {
      if (failGets-- > 0) throw new Error('EIO: disk read failed');
      return real.get(id);
    },
  });
  const h = await harness({ store: flaky, clock, config: fastTimeout() });
  h.partner('wms').script = ['refuse'];
  const e = event('order.released', 'stock.picking:561', 1);
  await h.publish(e);
  assert.is(await h.state(e.id), 'dead');
  // Dead: its body left memory; the replayed step reads it from the store, which fails once.
  failGets = 1;
  await h.engine.deadLetters.replay(e.id, { actor: 'alice' });
  await h.engine.runDue();
  assert.is(h.partner('wms').calls.length, 1);
  await h.advance(5_000);
  assert.is(h.partner('wms').calls.length, 2);
  assert.is(await real.get(e.id).then((s) => s?.state), 'delivered');
});

test('ownership: inventory only from the owning warehouse; shipment milestones only from partners that own the shipment', async () => {
  const h = await harness({ config: fastTimeout() });
  const inv = loadFixtures<any>('milestones', 'valid').find(([n]) => n === 'inventory.level')![1];
  const mine = { ...inv, source: { partner: 'wms' }, payload: { ...inv.payload, warehouse: 'WH' } };
  const notMine = { ...inv, id: '5c1d2e3f-4a5b-4c6d-8e7f-0000000000aa', source: { partner: 'ups' }, payload: { ...inv.payload, warehouse: 'WH' } };
  assert.equal((await h.engine.acceptMilestones([mine], { partner: 'wms' })).accepted, [inv.id]);
  const refused = await h.engine.acceptMilestones([notMine], { partner: 'ups' });
  assert.match(refused.refused[0].reason, /owned by wms, not ups/);
  const delivered = loadFixtures<any>('milestones', 'valid').find(([n]) => n === 'shipment.delivered')![1];
  const fromUps = { ...delivered, source: { partner: 'ups' }, aggregate: 'stock.picking:520' };
  assert.match((await h.engine.acceptMilestones([fromUps], { partner: 'ups' })).refused[0]?.reason ?? '', /does not own stock.picking:520/);
  await h.publish(event('shipment.requested', 'stock.picking:520', 1));
  assert.equal((await h.engine.acceptMilestones([fromUps], { partner: 'ups' })).accepted, [fromUps.id], 'the carrier that bought the label may speak for it');
  const spoofed = { ...fromUps, id: '5c1d2e3f-4a5b-4c6d-8e7f-0000000000ab', source: { partner: 'dhl' } };
  assert.match((await h.engine.acceptMilestones([spoofed], { partner: 'ups' })).refused[0].reason, /came from ups/);
  const invalid = { ...fromUps, id: 'nope' };
  assert.match((await h.engine.acceptMilestones([invalid], { partner: 'ups' })).refused[0].reason, /^id: /);
});

test.run();
