import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { sampleEvent } from '../helpers/fixtures.ts';
import { testBridge, TOKEN } from '../helpers/bridge.ts';

let t: Awaited<ReturnType<typeof testBridge>>;
test.before.each(async () => { t = await testBridge(); });
test.after.each(async () => { await t.close(); });

test('healthz answers while up; readyz only while the store is open', async () => {
  const h = await fetch(`${t.bridge.url}/healthz`);
  assert.is(h.status, 200);
  assert.is((await h.json()).status, 'up');
  assert.is((await fetch(`${t.bridge.url}/readyz`)).status, 200);
  await t.store.close();
  assert.is((await fetch(`${t.bridge.url}/readyz`)).status, 503);
  assert.is((await fetch(`${t.bridge.url}/healthz`)).status, 200);
  await t.store.open();
});

test('the operator API wants the admin token, not the socket token', async () => {
  assert.is((await fetch(`${t.bridge.url}/v1/events`)).status, 401);
  assert.is((await fetch(`${t.bridge.url}/v1/events`, { headers: { authorization: `Bearer ${TOKEN}` } })).status, 401);
  assert.is((await t.admin('/v1/events')).status, 200);
});

test('GET /v1/events/:id shows the stored event with its state; 404 for an unknown id', async () => {
  const e = sampleEvent();
  await t.store.ingest([e]);
  const r = await t.admin(`/v1/events/${e.id}`);
  assert.is(r.status, 200);
  const body = await r.json();
  assert.is(body.id, e.id);
  assert.is(body.state, 'received');
  assert.is(body.attempts, 0);
  assert.equal(body.event, e);
  const missing = await t.admin(`/v1/events/${crypto.randomUUID()}`);
  assert.is(missing.status, 404);
  assert.is((await missing.json()).error.code, 'not_found');
});

test('GET /v1/events filters by state, type and aggregate and pages with a cursor', async () => {
  const evs = Array.from({ length: 5 }, (_, i) => sampleEvent({ aggregate: `stock.picking:${i}` }));
  await t.store.ingest(evs);
  await t.store.setStatus(evs[2].id, { state: 'dead', last_error: 'bad address' });
  const dead = await (await t.admin('/v1/events?state=dead')).json();
  assert.equal(dead.items.map((i: any) => i.id), [evs[2].id]);
  assert.is(dead.items[0].last_error, 'bad address');
  const byAgg = await (await t.admin('/v1/events?aggregate=stock.picking:4')).json();
  assert.equal(byAgg.items.map((i: any) => i.id), [evs[4].id]);
  const p1 = await (await t.admin('/v1/events?limit=2&type=order.released')).json();
  const p2 = await (await t.admin(`/v1/events?limit=2&type=order.released&cursor=${p1.next_cursor}`)).json();
  const p3 = await (await t.admin(`/v1/events?limit=2&type=order.released&cursor=${p2.next_cursor}`)).json();
  assert.equal([...p1.items, ...p2.items, ...p3.items].map((i: any) => i.id), evs.map((e) => e.id));
  assert.is(p3.next_cursor, null);
});

test('bad query parameters get 400 naming the parameter', async () => {
  const r = await t.admin('/v1/events?state=lost');
  assert.is(r.status, 400);
  const body = await r.json();
  assert.is(body.error.path, 'state');
  assert.match(body.error.message, /state must be one of/);
  assert.is((await t.admin('/v1/events?limit=0')).status, 400);
  assert.is((await t.admin('/v1/events?limit=9999')).status, 400);
  assert.is((await t.admin('/v1/nothing-here')).status, 404);
  assert.is((await fetch(`${t.bridge.url}/v1/odoo`)).status, 426);
});

test.run();
