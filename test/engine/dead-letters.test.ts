/** Dead letters: replay with and without a new key, edited payloads, bulk replay, discard, audit. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ApiError } from '../../bridge/src/errors.ts';
import { OPERATOR_ACTIONS } from '../../bridge/src/core/jobs.ts';
import { event, harness } from './helpers.ts';

async function deadRelease(aggregate = 'stock.picking:60') {
  const h = await harness();
  h.partner('wms').script = ['refuse'];
  const e = event('order.released', aggregate, 1);
  const next = event('order.cancelled', aggregate, 2);
  await h.publish(e, next);
  assert.is(await h.state(e.id), 'dead');
  assert.is(await h.state(next.id), 'blocked');
  return { h, e, next };
}

test('replay keeps the original idempotency key and unblocks the aggregate once delivered', async () => {
  const { h, e, next } = await deadRelease();
  const r = await h.engine.deadLetters.replay(e.id, { actor: 'alice' });
  assert.ok(['queued', 'delivering'].includes((r as { state: string }).state), 'the replay answers once durable, before delivery');
  await h.engine.runDue();
  const keys = h.partner('wms').calls.map((c) => [c.subject, c.key]);
  assert.equal(keys, [[e.id, `${e.id}:wms`], [e.id, `${e.id}:wms`], [next.id, `${next.id}:wms`]]);
  assert.is(await h.state(e.id), 'delivered');
  assert.is(await h.state(next.id), 'delivered');
  const audit = await h.engine.audit({ event_id: e.id, actions: OPERATOR_ACTIONS });
  assert.is(audit.length, 1);
  assert.is(audit[0].actor, 'alice');
  assert.is(audit[0].action, 'replay');
  assert.is(audit[0].new_key, false);
  assert.equal(audit[0].keys, { before: [`${e.id}:wms`], after: [`${e.id}:wms`] });
  assert.ok(Date.parse(audit[0].at) === h.clock.ms(), 'when, on the injected clock');
});

test('replay with new_key issues a different key, recorded in the audit', async () => {
  const { h, e } = await deadRelease('stock.picking:61');
  await h.engine.deadLetters.replay(e.id, { actor: 'bob', new_key: true });
  await h.engine.runDue();
  const calls = h.partner('wms').calls.filter((c) => c.subject === e.id);
  assert.is(calls.length, 2);
  assert.is(calls[1].key, `${e.id}:wms:r1`);
  assert.is.not(calls[1].key, calls[0].key);
  const [entry] = await h.engine.audit({ event_id: e.id, actions: OPERATOR_ACTIONS });
  assert.equal(entry.keys, { before: [`${e.id}:wms`], after: [`${e.id}:wms:r1`] });
  assert.is(entry.new_key, true);
});

test('an edited payload is validated before anything changes, then used for the call; the audit holds before and after', async () => {
  const { h, e } = await deadRelease('stock.picking:62');
  const bad = { ...structuredClone(e.payload), ship_to: { ...(e.payload as any).ship_to, country: 'Belgium' } };
  try {
    await h.engine.deadLetters.replay(e.id, { actor: 'carol', payload: bad });
    assert.unreachable('an invalid payload was accepted');
  } catch (err) {
    assert.instance(err, ApiError);
    assert.is((err as ApiError).status, 400);
    assert.is((err as ApiError).path, 'payload.ship_to.country');
  }
  assert.is(await h.state(e.id), 'dead', 'nothing changed');
  assert.is((await h.engine.audit({ event_id: e.id, actions: OPERATOR_ACTIONS })).length, 0);
  let seen: any;
  h.partner('wms').script = [(_ctx, body) => { seen = body; return {}; }];
  const good = { ...structuredClone(e.payload), ship_to: { ...(e.payload as any).ship_to, street1: '78 Santa Barbara Rd' } };
  await h.engine.deadLetters.replay(e.id, { actor: 'carol', payload: good });
  await h.engine.runDue();
  assert.is(seen.payload.ship_to.street1, '78 Santa Barbara Rd');
  assert.is(seen.id, e.id, 'same event, same id');
  const [entry] = await h.engine.audit({ event_id: e.id, actions: OPERATOR_ACTIONS });
  assert.is((entry.before as any).ship_to.street1, '77 Santa Barbara Rd');
  assert.is((entry.after as any).ship_to.street1, '78 Santa Barbara Rd');
  assert.is(((await h.store.get(e.id))?.event.payload as any).ship_to.street1, '77 Santa Barbara Rd', 'the stored event keeps what Odoo sent');
});

test('discard takes it out of the queue, unblocks the next event, and is audited', async () => {
  const { h, e, next } = await deadRelease('stock.picking:63');
  const r = await h.engine.deadLetters.discard(e.id, { actor: 'dave', note: 'cancelled by phone' });
  assert.is(r.state, 'discarded');
  assert.is(await h.state(e.id), 'discarded');
  await h.engine.runDue();
  assert.is(await h.state(next.id), 'delivered');
  assert.is(h.engine.deadLetters.list().items.length, 0);
  const [entry] = await h.engine.audit({ event_id: e.id, actions: OPERATOR_ACTIONS });
  assert.equal([entry.actor, entry.action, entry.note], ['dave', 'discard', 'cancelled by phone']);
});

test('replaying or discarding something not dead is a 409; an unknown id a 404', async () => {
  const { h, next } = await deadRelease('stock.picking:64');
  for (const [id, status] of [[next.id, 409], ['0b7f3c1e-6a5d-4e8b-9f21-999999999999', 404]] as const) {
    try {
      await h.engine.deadLetters.replay(id, { actor: 'x' });
      assert.unreachable();
    } catch (err) {
      assert.is((err as ApiError).status, status);
    }
  }
});

test('bulk replay by filter replays only matching dead letters, each audited', async () => {
  const h = await harness();
  const wms = h.partner('wms');
  wms.script = ['refuse', 'refuse'];
  const a = event('order.released', 'stock.picking:70', 1);
  const b = event('order.released', 'stock.picking:71', 1);
  await h.publish(a, b);
  h.partner('ups').script = ['refuse'];
  const s = event('shipment.requested', 'stock.picking:72', 1);
  await h.publish(s);
  assert.is(h.engine.deadLetters.list().items.length, 3);
  assert.is(h.engine.deadLetters.list({ partner: 'wms' }).items.length, 2);
  const r = await h.engine.deadLetters.replayMany({ partner: 'wms', type: 'order.released' }, { actor: 'eve' });
  await h.engine.runDue();
  assert.equal(r.replayed.sort(), [a.id, b.id].sort());
  assert.is(await h.state(a.id), 'delivered');
  assert.is(await h.state(s.id), 'dead', 'not matched, not replayed');
  assert.is((await h.engine.audit({})).filter((x) => x.actor === 'eve').length, 2);
});

test('list pages with a cursor and get shows the body', async () => {
  const h = await harness();
  h.partner('wms').otherwise = 'refuse';
  const events = Array.from({ length: 5 }, (_, i) => event('order.released', `stock.picking:${80 + i}`, 1));
  await h.publish(...events);
  const p1 = h.engine.deadLetters.list({}, { limit: 2 });
  const p2 = h.engine.deadLetters.list({}, { limit: 2, cursor: p1.next_cursor });
  const p3 = h.engine.deadLetters.list({}, { limit: 2, cursor: p2.next_cursor });
  assert.is(p3.next_cursor, undefined);
  assert.equal([...p1.items, ...p2.items, ...p3.items].map((d) => d.id).sort(), events.map((e) => e.id).sort());
  const one = await h.engine.deadLetters.show(events[0].id);
  assert.is((one?.body as any).id, events[0].id);
});

test.run();
