import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadFixtures, sampleEvent } from '../helpers/fixtures.ts';
import { connect, testBridge, upgradeStatus, TOKEN } from '../helpers/bridge.ts';
import { createMemoryStore } from '../../bridge/src/store/memory.ts';

let t: Awaited<ReturnType<typeof testBridge>>;
test.before.each(async () => { t = await testBridge({ maxFrameBytes: 64 * 1024 }); });
test.after.each(async () => { await t.close(); });

test('refuses the upgrade with 401 without the right bearer token, and never logs the token', async () => {
  assert.is(await upgradeStatus(t.wsUrl, {}), 401);
  assert.is(await upgradeStatus(t.wsUrl, { authorization: 'Bearer wrong-token-wrong-token-wrong' }), 401);
  assert.is(await upgradeStatus(t.wsUrl, { authorization: TOKEN }), 401);
  assert.is(await upgradeStatus(t.wsUrl.replace('/v1/odoo', '/v1/other'), { authorization: `Bearer ${TOKEN}` }), 404);
  assert.is(await upgradeStatus(t.wsUrl, { authorization: `Bearer ${TOKEN}` }), 101);
  assert.ok(t.logs.lines.some((l) => l.includes('odoo socket refused')));
  assert.not.ok(t.logs.lines.some((l) => l.includes(TOKEN) || l.includes('wrong-token-wrong')));
});

test('accepts every valid fixture and stores it', async () => {
  const c = await connect(t.wsUrl);
  const events = loadFixtures('events', 'valid').map(([, e]) => e);
  const r = await c.publish(events);
  assert.equal(r, { accepted: events.map((e) => e.id), duplicates: [], rejected: [] });
  for (const e of events) assert.equal((await t.store.get(e.id))?.event, e);
  await c.close();
});

test('stores each event as sent (Python spacing, pretty-printed, escapes, unicode) and reads it back equal', async () => {
  const c = await connect(t.wsUrl);
  const python = (x: unknown) => JSON.stringify(x).replace(/","|":"|":|,"/g, (m) => m.replace(',', ', ').replace(':', ': '));
  const frames = [
    (es: unknown[]) => python({ jsonrpc: '2.0', id: 1, method: 'events.publish', params: { events: es } }),
    (es: unknown[]) => JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'events.publish', params: { events: es } }, null, 2),
    (es: unknown[]) => JSON.stringify({ params: { events: es }, method: 'events.publish', id: 3, jsonrpc: '2.0' }).replace(/"WH"/g, String.raw`"\u0057H"`),
  ];
  for (const make of frames) {
    const events = [sampleEvent({ payload: { ...sampleEvent().payload, notes: 'quote " brace } émoji 🚚' } }), sampleEvent()];
    const reply = await c.raw(make(events));
    assert.equal(reply.result.accepted, events.map((e) => e.id));
    for (const e of events) assert.equal((await t.store.get(e.id))?.event, e);
  }
  await c.close();
});

test('answers duplicates for ids already stored, sequentially and concurrently, storing each once', async () => {
  const c1 = await connect(t.wsUrl);
  const c2 = await connect(t.wsUrl);
  const a = sampleEvent();
  assert.equal((await c1.publish([a])).accepted, [a.id]);
  assert.equal((await c1.publish([a])).duplicates, [a.id]);
  const batch = Array.from({ length: 50 }, () => sampleEvent());
  const [r1, r2] = await Promise.all([c1.publish(batch), c2.publish(batch)]);
  for (const e of batch) {
    const acceptedBy = [r1, r2].filter((r) => r.accepted.includes(e.id)).length;
    const dupBy = [r1, r2].filter((r) => r.duplicates.includes(e.id)).length;
    assert.is(acceptedBy, 1, `${e.id} accepted once`);
    assert.is(dupBy, 1, `${e.id} reported duplicate once`);
  }
  const all = await t.store.list({ limit: 500 });
  assert.is(all.items.length, 51);
  await c1.close(); await c2.close();
});

test('rejects invalid events one by one with the schema path while accepting the valid ones', async () => {
  const c = await connect(t.wsUrl);
  const invalid = loadFixtures<{ path: string; event: any }>('events', 'invalid');
  const good = sampleEvent();
  const r = await c.publish([good, ...invalid.map(([, f]) => f.event)]);
  assert.equal(r.accepted, [good.id]);
  assert.is(r.rejected.length, invalid.length);
  invalid.forEach(([name, f], i) => {
    assert.is(r.rejected[i].path, f.path, name);
    assert.is(r.rejected[i].code, 'invalid_event');
    assert.ok(r.rejected[i].message.includes(f.path || 'event'), `${name}: message names the path`);
  });
  const noId = invalid.find(([n]) => n === 'missing-id')!;
  assert.is(r.rejected[invalid.indexOf(noId)].id, null);
  await c.close();
});

test('answers -32603 and acknowledges nothing when the store fails, whether it rejects or throws', async () => {
  for (const failing of [() => Promise.reject(new Error('disk full')), () => { throw new Error('disk full'); }]) {
    const store = createMemoryStore();
    await store.open();
    const broken = Object.assign(Object.create(store), { ingest: failing });
    const b = await testBridge({ store: broken });
    const c = await connect(b.wsUrl);
    const reply = await c.raw(JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'events.publish', params: { events: [sampleEvent()] } }));
    assert.is(reply.error.code, -32603);
    assert.match(reply.error.message, /not stored, resend the batch: disk full/);
    assert.is(reply.result, undefined);
    await c.close();
    await b.close();
  }
});

test('answers protocol errors with the standard codes', async () => {
  const c = await connect(t.wsUrl);
  assert.is((await c.raw('{not json')).error.code, -32700);
  assert.is((await c.raw('{"jsonrpc":"2.0","id":1}')).error.code, -32600);
  assert.is((await c.raw('[]')).error.code, -32600);
  assert.is((await c.raw('"hello"')).error.code, -32600);
  assert.is((await c.raw('{"jsonrpc":"2.0","id":2,"method":"events.delete","params":{}}')).error.code, -32601);
  const noEvents = await c.raw('{"jsonrpc":"2.0","id":3,"method":"events.publish","params":{"events":[]}}');
  assert.is(noEvents.error.code, -32602);
  assert.match(noEvents.error.message, /at least 1 event/);
  const tooMany = await c.raw(JSON.stringify({ jsonrpc: '2.0', id: 4, method: 'events.publish', params: { events: Array(501).fill({}) } }));
  assert.is(tooMany.error.code, -32602);
  assert.match(tooMany.error.message, /at most 500/);
  assert.is((await c.raw('{"jsonrpc":"2.0","id":5,"method":"events.publish","params":{"events":[],"extra":1}}')).error.code, -32602);
  await c.close();
});

test('answers a batch element by element, including invalid elements, and nothing for notifications', async () => {
  const c = await connect(t.wsUrl);
  const e = sampleEvent();
  const reply = await c.raw(JSON.stringify([
    { jsonrpc: '2.0', id: 'a', method: 'events.publish', params: { events: [e] } },
    null,
    { jsonrpc: '2.0', id: 'b', method: 'nope' },
    { jsonrpc: '2.0', method: 'bridge.ping' },
    42,
  ]));
  assert.ok(Array.isArray(reply));
  assert.is(reply.length, 4);
  assert.equal(reply[0], { jsonrpc: '2.0', id: 'a', result: { accepted: [e.id], duplicates: [], rejected: [] } });
  assert.is(reply[1].error.code, -32600);
  assert.is(reply[2].error.code, -32601);
  assert.is(reply[3].error.code, -32600);
  const single = await c.raw(JSON.stringify([{ jsonrpc: '2.0', id: 7, method: 'bridge.ping' }]));
  assert.ok(Array.isArray(single), 'a one-element batch is answered with an array');
  await c.close();
});

test('closes the socket with 1009 on an oversized frame and keeps serving others', async () => {
  const c = await connect(t.wsUrl);
  const closed = new Promise<number>((ok) => c.ws.once('close', (code) => ok(code)));
  c.ws.send('x'.repeat(70 * 1024));
  assert.is(await closed, 1009);
  const d = await connect(t.wsUrl);
  const e = sampleEvent();
  assert.equal((await d.publish([e])).accepted, [e.id]);
  await d.close();
});

test('survives hostile input: binary frames, deep nesting, huge numbers, odd unicode', async () => {
  const c = await connect(t.wsUrl);
  const closed = new Promise<number>((ok) => c.ws.once('close', (code) => ok(code)));
  c.ws.send(Buffer.from([1, 2, 3]), { binary: true });
  assert.is(await closed, 1003);
  const d = await connect(t.wsUrl);
  const deep = '['.repeat(5000) + ']'.repeat(5000);
  assert.is((await d.raw(deep))[0].error.code, -32600);
  const weird = { ...sampleEvent(), sequence: 1e308, payload: { order_ref: '\u0000\ud800' } };
  const r = await d.raw(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'events.publish', params: { events: [weird, null, 'x', [], { id: {} }] } }));
  assert.is(r.result.rejected.length, 5);
  const e = sampleEvent();
  assert.equal((await d.publish([e])).accepted, [e.id]);
  await d.close();
});

test.run();
