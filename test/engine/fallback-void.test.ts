/** A fallback after the first carrier may have bought a label: that label is found and voided, or left for a person. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PartnerError } from '../../bridge/src/adapters/types.ts';
import { event, harness, testConfig } from './helpers.ts';

const config = () => testConfig({
  partners: [
    { id: 'ups', adapter: 'fake-carrier', role: 'carrier', limits: { max_attempts: 1 }, fallback: ['dhl'] },
    { id: 'dhl', adapter: 'fake-carrier', role: 'carrier' },
  ],
  routes: [{ events: ['shipment.requested', 'shipment.cancelled'], partners: ['ups'] }],
});

/** ups buys the label, then its answer is a 500: the bridge cannot know it acted. */
function actsThenFails(h: Awaited<ReturnType<typeof harness>>) {
  const ups = h.partner('ups');
  ups.script = [(_ctx, body: any) => {
    ups.effects.set(body.id, (ups.effects.get(body.id) ?? 0) + 1);
    throw new PartnerError('retryable', 'HTTP 500 after buying', { status: 500 });
  }];
  return ups;
}

test('the first carrier can be searched: its label is found and voided once the fallback bought one', async () => {
  const h = await harness({ config: config(), withFind: true });
  const ups = actsThenFails(h);
  const e = event('shipment.requested', 'stock.picking:950', 1);
  await h.publish(e);
  assert.is(await h.state(e.id), 'delivered');
  assert.equal(h.partner('dhl').calls.map((c) => c.action), ['createShipment']);
  assert.equal(ups.calls.map((c) => c.action), ['createShipment', 'findShipment', 'cancelShipment']);
  const cancel = ups.calls.at(-1)!;
  assert.is(cancel.data.shipment_id, 'ups-found', 'voided with the ids the search returned');
  assert.is(cancel.key, `${e.id}:ups:void`);
  assert.is(h.engine.jobs().length, 0);
  assert.is(h.engine.deadLetters.list().items.length, 0);
  const notes = (await h.engine.audit({ event_id: e.id, actions: ['void_check'] })).map((a) => a.note);
  assert.equal(notes, ['a label was found at ups and voided']);
});

test('nothing found at the first carrier: nothing voided, nothing left', async () => {
  const h = await harness({ config: config(), withFind: true });
  h.partner('ups').script = [{ status: 500 }];
  const e = event('shipment.requested', 'stock.picking:951', 1);
  await h.publish(e);
  assert.equal(h.partner('ups').calls.map((c) => c.action), ['createShipment', 'findShipment']);
  assert.is(h.engine.deadLetters.list().items.length, 0);
  assert.equal((await h.engine.audit({ event_id: e.id, actions: ['void_check'] })).map((a) => a.note), ['no label at ups: nothing to void']);
});

test('a carrier that cannot be searched: a manual entry for a person, which holds nothing back', async () => {
  const h = await harness({ config: config(), withFind: false });
  actsThenFails(h);
  const e = event('shipment.requested', 'stock.picking:952', 1);
  await h.publish(e);
  assert.is(await h.state(e.id), 'delivered');
  const [d] = h.engine.deadLetters.list({ kind: 'void' }).items;
  assert.equal([d.id, d.state, d.error_class, d.reason, d.partners], [`${e.id}~void:ups`, 'manual', 'business', 'voidable_label', ['ups']]);
  assert.match(d.last_error, /ups may hold a label for WH\/OUT\/00012 .* check its account, void the label/);
  const later = event('shipment.cancelled', 'stock.picking:952', 2);
  await h.publish(later);
  assert.is(await h.state(later.id), 'delivered', 'the shipment\'s later events are not blocked');
  assert.equal(h.partner('dhl').calls.map((c) => c.action), ['createShipment', 'cancelShipment'], 'the cancel went to the carrier that holds the shipment');
  await h.engine.deadLetters.discard(d.id, { actor: 'ops', note: 'voided in the UPS portal' });
  assert.is(h.engine.deadLetters.list().items.length, 0);
});

test('no check when the first carrier said no (503) or its circuit was open before any call', async () => {
  const h = await harness({ config: config(), withFind: true });
  h.partner('ups').script = [{ status: 503 }];
  const e = event('shipment.requested', 'stock.picking:953', 1);
  await h.publish(e);
  assert.is(await h.state(e.id), 'delivered');
  assert.equal(h.partner('ups').calls.map((c) => c.action), ['createShipment'], 'a 503 is a refusal: nothing was bought');
  assert.is(h.engine.jobs().length, 0);
});

test.run();
