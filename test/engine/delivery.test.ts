/** Delivery guarantees on an injected clock: routing, order, retries, breaker, limits, fallback. */
import { fakeOdoo } from './fake-odoo.ts';
import { createOdooClient } from '../../bridge/src/odoo/client.ts';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { backoffDelay, TokenBucket } from '../../bridge/src/core/policy.ts';
import { createMetrics } from '../../bridge/src/observability/metrics.ts';
import { event, harness, testConfig } from './helpers.ts';

test('an order goes to the warehouse its route names, with a key derived from event id and step', async () => {
  const h = await harness();
  const e = event('order.released');
  await h.publish(e);
  const wms = h.partner('wms');
  assert.equal(wms.calls.map((c) => [c.action, c.key]), [['releaseOrder', `${e.id}:wms`]]);
  assert.is(await h.state(e.id), 'delivered');
  assert.is(h.partner('ups').calls.length, 0);
  assert.is(h.engine.jobs().length, 0, 'finished jobs are removed');
});

test('an event no route matches goes to manual handling, listed as a dead letter, told to Odoo, counted; replay without a route refuses, discard ends it', async () => {
  const dead: string[] = [];
  const odoo = fakeOdoo();
  const client = createOdooClient({ url: 'http://odoo.test', db: 'lab', api_key: 'secret-key', login: 'bridge', timeout_ms: 200, transport: 'json2', fetch: odoo.fetch });
  const h = await harness({ odoo: client, metrics: { deadLettered: (c: string, r?: string) => dead.push(`${c}/${r}`), eventDelivered() {}, firstPartnerRequest() {} } as any });
  const e = event('order.released', 'stock.picking:5', 1);
  (e.payload as any).warehouse = 'OTHER';
  await h.publish(e);
  const s = await h.store.get(e.id);
  assert.is(s?.state, 'manual');
  assert.is(s?.error_class, 'business');
  assert.match(s?.last_error ?? '', /no partner is routed for this order\.released \(warehouse OTHER[^)]*\): add a route/);
  assert.is(h.partner('wms').calls.length, 0);
  const d = h.engine.deadLetters.get(e.id);
  assert.is(d?.state, 'manual');
  assert.is(d?.reason, 'unrouted');
  assert.equal(d?.partners, []);
  assert.equal(dead, ['business/unrouted']);
  assert.equal([odoo.states.get(e.id)?.state, odoo.states.get(e.id)?.error_class], ['manual', 'business'], 'Odoo shows it (and makes a to-do)');
  const refusal = await h.engine.deadLetters.replay(e.id, { actor: 'ops' }).then(() => undefined, (err) => err);
  assert.is(refusal?.status, 409);
  assert.match(refusal?.message ?? '', /still no route/);
  assert.is(await h.state(e.id), 'manual', 'a refused replay changes nothing');
  // A later event of the same aggregate waits behind it, as behind any event a person must handle.
  const later = event('order.cancelled', 'stock.picking:5', 2);
  await h.publish(later);
  assert.is(await h.state(later.id), 'blocked');
  await h.engine.deadLetters.discard(e.id, { actor: 'ops', note: 'nobody needs it' });
  assert.is(await h.state(e.id), 'discarded');
});

test('an unrouted event is routed when a route exists at replay (after a configuration change and restart)', async () => {
  const first = await harness();
  const e = event('order.released', 'stock.picking:6', 1);
  (e.payload as any).warehouse = 'OTHER';
  await first.publish(e);
  assert.is(await first.state(e.id), 'manual');
  await first.engine.stop();
  const cfg = testConfig();
  cfg.routes.unshift({ ...cfg.routes.find((r) => r.events.includes('order.released'))!, when: { warehouse: ['OTHER'] } } as any);
  const second = await harness({ store: first.store, config: cfg, clock: first.clock });
  assert.is(await second.state(e.id), 'manual', 'still manual after the restart: a person decides');
  await second.engine.deadLetters.replay(e.id, { actor: 'ops' });
  await second.engine.runDue();
  assert.is(await second.state(e.id), 'delivered');
  assert.is(second.partner('wms').calls.length, 1);
});

test('per aggregate: a later event waits while an earlier one retries, then goes in sequence order', async () => {
  const h = await harness();
  const wms = h.partner('wms');
  wms.script = ['fail500'];
  const release = event('order.released', 'stock.picking:17', 1);
  const cancel = event('order.cancelled', 'stock.picking:17', 2);
  const other = event('order.released', 'stock.picking:99', 1);
  await h.publish(release, cancel, other);
  assert.equal(wms.calls.map((c) => c.subject), [release.id, other.id], 'the cancel did not overtake its retrying release; another aggregate was not held');
  assert.is(await h.state(release.id), 'retrying');
  assert.is(await h.state(cancel.id), 'queued');
  await h.advance(1000); // random 0.5 * min(8000, 1000 * 2^0) = 500 ms
  assert.equal(wms.calls.map((c) => c.subject), [release.id, other.id, release.id, cancel.id]);
  assert.is(await h.state(cancel.id), 'delivered');
  assert.equal(wms.calls[3].data, { releaseOrder_ref: `wms-${release.id.slice(-4)}` }, 'the cancel sees what the release returned');
});

test('backoff is capped exponential with full jitter: within [0, min(cap, base*2^(n-1)))', () => {
  for (let attempt = 1; attempt <= 12; attempt++) {
    const ceiling = Math.min(8000, 1000 * 2 ** (attempt - 1));
    assert.is(backoffDelay(attempt, 1000, 8000, () => 0), 0);
    const hi = backoffDelay(attempt, 1000, 8000, () => 0.999999);
    assert.ok(hi < ceiling && hi >= ceiling - 1, `attempt ${attempt}: ${hi} vs ${ceiling}`);
  }
});

test('the engine schedules retries at exactly the jittered backoff of the injected random', async () => {
  const h = await harness({ random: () => 0.75 });
  const wms = h.partner('wms');
  wms.script = ['fail500', 'fail500'];
  const e = event('order.released', 'stock.picking:1', 1);
  await h.publish(e);
  const job = () => h.engine.jobs().find((j) => j.subject === e.id)!;
  assert.is(Date.parse(job().run_at) - h.clock.ms(), 750); // 0.75 * 1000
  await h.advance(749);
  assert.is(wms.calls.length, 1, 'not before run_at');
  await h.advance(1);
  assert.is(wms.calls.length, 2);
  assert.is(Date.parse(job().run_at) - h.clock.ms(), 1500); // 0.75 * 2000
  assert.is(job().attempts, 2);
  await h.advance(1500);
  assert.is(await h.state(e.id), 'delivered');
});

test('Retry-After is honoured and not counted as a failed attempt', async () => {
  const h = await harness();
  const wms = h.partner('wms');
  wms.script = [{ retryAfterMs: 7000 }, { retryAfterMs: 7000 }, { retryAfterMs: 7000 }, { retryAfterMs: 7000 }];
  const e = event('order.released', 'stock.picking:2', 1);
  await h.publish(e);
  const job = () => h.engine.jobs().find((j) => j.subject === e.id)!;
  assert.is(job().attempts, 0);
  assert.is(Date.parse(job().run_at) - h.clock.ms(), 7000);
  for (let i = 0; i < 3; i++) {
    await h.advance(6999);
    assert.is(wms.calls.length, 1 + i, 'waits the full Retry-After');
    await h.advance(1);
  }
  assert.is(job().attempts, 0, 'four 429s, max_attempts 3, still not dead');
  await h.advance(7000);
  assert.is(await h.state(e.id), 'delivered');
  assert.is((await h.store.get(e.id))?.attempts, 5);
});

test('transient failures exhaust max_attempts into the dead-letter queue; the next event is blocked by it', async () => {
  const h = await harness();
  const wms = h.partner('wms');
  wms.otherwise = 'fail500';
  const first = event('order.released', 'stock.picking:3', 1);
  const second = event('order.cancelled', 'stock.picking:3', 2);
  await h.publish(first, second);
  await h.advance(60_000);
  assert.is(wms.calls.length, 3, 'max_attempts 3');
  const s1 = await h.store.get(first.id);
  assert.is(s1?.state, 'dead');
  assert.is(s1?.error_class, 'technical');
  const s2 = await h.store.get(second.id);
  assert.is(s2?.state, 'blocked');
  assert.is(s2?.blocked_by, first.id);
  const dl = h.engine.deadLetters.list().items;
  assert.equal(dl.map((d) => [d.id, d.reason, d.blocking]), [[first.id, 'attempts_exhausted', [second.id]]]);
});

test('a permanent refusal goes straight to the dead-letter queue as a business exception', async () => {
  const h = await harness();
  h.partner('wms').script = ['refuse'];
  const e = event('order.released', 'stock.picking:4', 1);
  await h.publish(e);
  assert.is(h.partner('wms').calls.length, 1);
  const s = await h.store.get(e.id);
  assert.is(s?.state, 'dead');
  assert.is(s?.error_class, 'business');
  assert.match(s?.last_error ?? '', /address is not deliverable/);
  assert.is(h.engine.deadLetters.list({ error_class: 'business' }).items[0].reason, 'invalid_address');
});

test('circuit breaker: opens after consecutive failures, holds calls, probes after half_open_after_ms on the clock', async () => {
  const config = testConfig({
    partners: [{ id: 'wms', adapter: 'fake-wms', role: 'warehouse', limits: { max_attempts: 50, backoff: { base_ms: 10, cap_ms: 10 }, breaker: { consecutive_failures: 3, half_open_after_ms: 60_000 } } }],
    routes: [{ events: ['order.released'], partners: ['wms'] }],
  });
  const h = await harness({ config });
  const wms = h.partner('wms');
  wms.script = ['fail500', 'fail500', 'fail500', 'fail500'];
  const e = event('order.released', 'stock.picking:6', 1);
  await h.publish(e);
  for (let i = 0; i < 5; i++) await h.advance(10);
  assert.is(wms.calls.length, 3, 'three failures opened the circuit');
  assert.is(h.engine.status().partners.wms.circuit, 'open');
  await h.advance(59_000);
  assert.is(wms.calls.length, 3, 'nothing goes while open');
  assert.is(h.engine.jobs()[0].attempts, 3, 'waiting on an open circuit is not an attempt');
  await h.advance(1_000);
  assert.is(wms.calls.length, 4, 'one half-open probe');
  assert.is(h.engine.status().partners.wms.circuit, 'open', 'the failed probe opened it again');
  await h.advance(60_000);
  assert.is(wms.calls.length, 5);
  assert.is(h.engine.status().partners.wms.circuit, 'closed', 'a good probe closes it');
  assert.is(await h.state(e.id), 'delivered');
});

test('rate limit: never more than `rate` calls per second after the burst; concurrency cap holds', async () => {
  const config = testConfig({
    partners: [{ id: 'wms', adapter: 'fake-wms', role: 'warehouse', limits: { rate: 2, burst: 2, concurrency: 1 } }],
    routes: [{ events: ['order.released'], partners: ['wms'] }],
  });
  const h = await harness({ config });
  const events = Array.from({ length: 10 }, (_, i) => event('order.released', `stock.picking:${100 + i}`, 1));
  await h.publish(...events);
  assert.is(h.partner('wms').calls.length, 2, 'the burst');
  for (let t = 0; t < 10; t++) await h.advance(250);
  const times = h.partner('wms').calls.map((c) => c.at);
  assert.is(times.length, 7, '2 burst + 2/s over 2.5 s');
  // Any window of 1 s holds at most burst + rate calls, and any window after the burst at most rate.
  for (const t of times) assert.ok(times.filter((u) => u >= t && u < t + 1000).length <= 2 + 2);
  const after = times.slice(2);
  for (let i = 2; i < after.length; i++) assert.ok(after[i] - after[i - 2] >= 1000, `calls ${after.join(',')} exceed 2/s`);
  assert.is(h.partner('wms').maxInFlight, 1);
  await h.advance(5_000);
  for (const e of events) assert.is(await h.state(e.id), 'delivered');
});

test('concurrency: no more than `concurrency` calls in flight at once', async () => {
  const config = testConfig({
    partners: [{ id: 'wms', adapter: 'fake-wms', role: 'warehouse', limits: { concurrency: 3, timeout_ms: 600_000 } }],
    routes: [{ events: ['order.released'], partners: ['wms'] }],
  });
  const h = await harness({ config });
  const wms = h.partner('wms');
  wms.otherwise = 'hang';
  const events = Array.from({ length: 8 }, (_, i) => event('order.released', `stock.picking:${200 + i}`, 1));
  await h.store.ingest(events);
  // Wait (by event-loop turns, not by time) until the engine has started what it may.
  for (let i = 0; i < 1000 && wms.calls.length < 3; i++) await new Promise((r) => setImmediate(r));
  assert.is(wms.inFlight, 3);
  wms.otherwise = 'ok';
  for (let i = 0; i < 10_000 && h.engine.jobs().length; i++) {
    wms.release();
    await new Promise((r) => setImmediate(r));
  }
  assert.is(wms.maxInFlight, 3);
  assert.is(wms.calls.length, 8);
});

test('a call that exceeds timeout_ms is abandoned and retried under the same key', async () => {
  const config = testConfig({
    partners: [{ id: 'wms', adapter: 'fake-wms', role: 'warehouse', limits: { timeout_ms: 20, backoff: { base_ms: 100, cap_ms: 100 } } }],
    routes: [{ events: ['order.released'], partners: ['wms'] }],
  });
  const h = await harness({ config });
  const wms = h.partner('wms');
  wms.script = ['hang'];
  const e = event('order.released', 'stock.picking:7', 1);
  await h.publish(e);
  const job = h.engine.jobs()[0];
  assert.is(job.attempts, 1);
  assert.match(job.last_error ?? '', /no answer within 20 ms/);
  assert.ok(job.in_doubt, 'a timed-out call may have acted');
  await h.advance(100);
  assert.is(await h.state(e.id), 'delivered');
  assert.equal(wms.calls.map((c) => c.key), [`${e.id}:wms`, `${e.id}:wms`]);
});

const carriers = () => testConfig({
  partners: [
    { id: 'wms', adapter: 'fake-wms', role: 'warehouse' },
    { id: 'ups', adapter: 'fake-carrier', role: 'carrier', limits: { max_attempts: 2, backoff: { base_ms: 10, cap_ms: 10 }, breaker: { consecutive_failures: 2, half_open_after_ms: 60_000 } } },
    { id: 'dhl', adapter: 'fake-carrier', role: 'carrier' },
  ],
  routes: [{ events: ['shipment.requested', 'shipment.cancelled'], when: { carrier: ['bridge_ground'] }, partners: ['ups'], fallback: ['dhl'] }],
});

test('fallback: a carrier whose circuit is open is skipped for the alternate; the cancel follows the label', async () => {
  const h = await harness({ config: carriers() });
  const ups = h.partner('ups');
  ups.script = ['fail500', 'fail500'];
  const a = event('shipment.requested', 'stock.picking:30', 1);
  await h.publish(a);
  await h.advance(10);
  assert.is(ups.calls.length, 2);
  assert.is(h.engine.status().partners.ups.circuit, 'open');
  const b = event('shipment.requested', 'stock.picking:31', 1);
  const cancel = event('shipment.cancelled', 'stock.picking:31', 2);
  await h.publish(b, cancel);
  await h.advance(10);
  assert.is(ups.calls.length, 2, 'no call to an open circuit');
  assert.equal(h.partner('dhl').calls.map((c) => [c.action, c.subject]), [
    ['createShipment', a.id], ['createShipment', b.id], ['cancelShipment', cancel.id],
  ], 'the first fell back after exhausting ups, the second at once; the cancel went to dhl which bought the label');
  assert.is(await h.state(b.id), 'delivered');
  assert.is(h.engine.writeback.status().pending, 2, 'label.created milestones queued for Odoo');
});

test('fallback on a retryable refusal (503) goes to the alternate at once', async () => {
  const h = await harness({ config: carriers() });
  h.partner('ups').script = [{ status: 503 }];
  const a = event('shipment.requested', 'stock.picking:32', 1);
  await h.publish(a);
  assert.is(h.partner('ups').calls.length, 1);
  assert.is(h.partner('dhl').calls.length, 1);
  assert.is(await h.state(a.id), 'delivered');
});

test('no carrier left: the shipment goes to manual handling, visible as such, and blocks its aggregate', async () => {
  const config = testConfig({
    partners: [{ id: 'ups', adapter: 'fake-carrier', role: 'carrier', limits: { max_attempts: 5, backoff: { base_ms: 10, cap_ms: 10 }, breaker: { consecutive_failures: 2, half_open_after_ms: 60_000 } } }],
    routes: [{ events: ['shipment.requested', 'shipment.cancelled'], partners: ['ups'] }],
  });
  const h = await harness({ config });
  h.partner('ups').otherwise = 'fail500';
  const a = event('shipment.requested', 'stock.picking:33', 1);
  const c = event('shipment.cancelled', 'stock.picking:33', 2);
  await h.publish(a, c);
  await h.advance(10);
  assert.is(h.partner('ups').calls.length, 2);
  assert.is(await h.state(a.id), 'manual');
  assert.is((await h.store.get(c.id))?.blocked_by, a.id);
  const dl = h.engine.deadLetters.list({ state: 'manual' }).items;
  assert.equal(dl.map((d) => [d.id, d.reason]), [[a.id, 'no_carrier_available']]);
});

test('single carrier, open circuit: shipments go to manual handling; while a replayed one probes half-open, others wait instead', async () => {
  const config = testConfig({
    partners: [{ id: 'ups', adapter: 'fake-carrier', role: 'carrier', limits: { max_attempts: 10, backoff: { base_ms: 10, cap_ms: 10 }, timeout_ms: 600_000, breaker: { consecutive_failures: 1, half_open_after_ms: 1000 } } }],
    routes: [{ events: ['shipment.requested'], partners: ['ups'] }],
  });
  const h = await harness({ config });
  const ups = h.partner('ups');
  ups.script = ['fail500', 'hang'];
  const a = event('shipment.requested', 'stock.picking:34', 1);
  const b = event('shipment.requested', 'stock.picking:35', 1);
  await h.publish(a);
  assert.is(h.engine.status().partners.ups.circuit, 'open');
  await h.publish(b);
  assert.is(await h.state(b.id), 'manual', 'open, no alternate: manual handling at once');
  await h.advance(1000);
  assert.is(await h.state(a.id), 'manual', 'the failed one too, when its retry found the circuit open');
  assert.is(ups.calls.length, 1);
  const turns = async () => { for (let i = 0; i < 200; i++) await new Promise((r) => setImmediate(r)); };
  await h.engine.deadLetters.replay(b.id, { actor: 'ops' });
  await turns();
  assert.is(ups.calls.length, 2, 'the replay is the half-open probe');
  assert.is(h.engine.status().partners.ups.circuit, 'half-open');
  await h.engine.deadLetters.replay(a.id, { actor: 'ops' });
  await turns();
  assert.is(await h.state(a.id), 'queued', 'waits for the probe instead of going manual again');
  assert.is(ups.calls.length, 2);
  ups.release();
  await h.engine.runDue();
  assert.is(await h.state(b.id), 'delivered');
  assert.is(await h.state(a.id), 'delivered');
  assert.is(h.engine.status().partners.ups.circuit, 'closed');
});

test('a lower sequence arriving after a higher one was delivered is held as out of order, not delivered', async () => {
  const h = await harness();
  const two = event('order.cancelled', 'stock.picking:40', 2);
  const one = event('order.released', 'stock.picking:40', 1);
  await h.publish(two);
  await h.publish(one);
  assert.equal(h.partner('wms').calls.map((c) => c.subject), [two.id]);
  const s = await h.store.get(one.id);
  assert.is(s?.state, 'dead');
  assert.is(h.engine.deadLetters.list().items[0].reason, 'out_of_order');
});

test('batch workflow: events wait for the next flush boundary', async () => {
  const config = testConfig({ workflows: { orders: { mode: 'batch', flush_interval_ms: 60_000 } } });
  const h = await harness({ config });
  h.clock.advance(15_000); // 10:00:15
  const e = event('order.released', 'stock.picking:50', 1);
  await h.publish(e);
  assert.is(h.partner('wms').calls.length, 0);
  await h.advance(44_999);
  assert.is(h.partner('wms').calls.length, 0);
  await h.advance(1);
  assert.is(h.partner('wms').calls.length, 1);
  assert.is(await h.state(e.id), 'delivered');
});

test('metrics: partner calls, labels, dead letters and milestones written reach the observability registry', async () => {
  const metrics = createMetrics({ partners: ['wms', 'ups', 'dhl'] });
  const h = await harness({ metrics, odoo: undefined });
  h.partner('wms').script = ['fail500', 'refuse'];
  await h.publish(event('order.released', 'stock.picking:60', 1), event('shipment.requested', 'stock.picking:61', 1));
  await h.advance(1000);
  const text = await metrics.exposition();
  assert.match(text, /partner="ups",outcome="success"/);
  assert.match(text, /partner="wms",outcome="retryable"/);
  assert.match(text, /partner="wms",outcome="permanent"/);
  assert.match(text, /dead_letter\w*\{error_class="business",reason="invalid_address"\} 1/);
});

test.run();
