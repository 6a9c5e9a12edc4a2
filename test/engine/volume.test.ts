/** Memory follows the work in flight: the admission window, aggregate rows leaving memory and coming back. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { event, harness, testConfig } from './helpers.ts';

test('at most maxActiveEvents events are routed into jobs; the rest wait as received and all go out, in order per aggregate', async () => {
  const h = await harness({ maxActiveEvents: 3 });
  const wms = h.partner('wms');
  wms.otherwise = { retryAfterMs: 60_000 };
  const events = Array.from({ length: 8 }, (_, i) => event('order.released', `stock.picking:${300 + i}`, 1));
  const cancel = event('order.cancelled', 'stock.picking:300', 2);
  for (const e of [...events, cancel]) await h.publish(e);
  assert.equal(h.engine.footprint().active_events, 3, 'three events hold the window');
  assert.is(h.engine.jobs().length, 3);
  const states = await Promise.all([...events, cancel].map((e) => h.state(e.id)));
  assert.equal(states.filter((s) => s === 'retrying').length, 3);
  assert.equal(states.filter((s) => s === 'received').length, 6, 'the others wait in the store, acknowledged');
  assert.ok(h.engine.footprint().backlog);
  wms.otherwise = 'ok';
  await h.advance(60_000);
  for (const e of [...events, cancel]) assert.is(await h.state(e.id), 'delivered', e.id);
  const order = wms.calls.filter((c) => c.action !== 'releaseOrder' || c.subject === events[0].id).map((c) => c.action);
  assert.equal(order.slice(-2), ['releaseOrder', 'cancelOrder'], 'the cancel went after its release');
  assert.equal(h.engine.footprint(), { jobs: 0, active_events: 0, backlog: false, hot_aggregates: 0, aggregates: 8 });
});

test('a batch arriving while the window is full waits; dead letters and blocked events do not hold the window', async () => {
  const h = await harness({ maxActiveEvents: 2 });
  const wms = h.partner('wms');
  wms.script = ['refuse', 'refuse'];
  const dead = [event('order.released', 'stock.picking:320', 1), event('order.released', 'stock.picking:321', 1)];
  const blocked = event('order.cancelled', 'stock.picking:320', 2);
  await h.publish(...dead, blocked);
  assert.is(await h.state(blocked.id), 'blocked');
  const later = Array.from({ length: 4 }, (_, i) => event('order.released', `stock.picking:${330 + i}`, 1));
  await h.publish(...later);
  for (const e of later) assert.is(await h.state(e.id), 'delivered', 'the window was free: two dead letters and a blocked event wait for a person, not for room');
  assert.is(h.engine.footprint().active_events, 0);
});

test('an aggregate\'s row leaves memory when its work is done and comes back from disk: a cancel days later reaches the carrier that bought the label, with its ids', async () => {
  const h = await harness({ config: testConfig() });
  const ship = event('shipment.requested', 'stock.picking:340', 1);
  await h.publish(ship);
  assert.is(await h.state(ship.id), 'delivered');
  assert.equal([h.engine.footprint().hot_aggregates, h.engine.footprint().aggregates], [0, 1], 'on disk only');
  await h.advance(3 * 86_400_000);
  const cancel = event('shipment.cancelled', 'stock.picking:340', 2);
  await h.publish(cancel);
  assert.is(await h.state(cancel.id), 'delivered');
  const call = h.partner('ups').calls.find((c) => c.action === 'cancelShipment')!;
  assert.equal(call.data, { shipment_id: `ups-${ship.id.slice(-4)}` }, 'the data bag of the label step, read back from disk');
  const late = event('shipment.requested', 'stock.picking:340', 1);
  await h.publish(late);
  assert.is(await h.state(late.id), 'dead', 'an older sequence after a newer one was delivered is still caught');
  assert.is(h.engine.deadLetters.get(late.id)?.reason, 'out_of_order');
});

test.run();
