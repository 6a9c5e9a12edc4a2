/** The admin HTTP API for dead letters and the audit, mounted as server.ts mounts it. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createApp } from '../../bridge/src/app.ts';
import { deadLetterRoutes } from '../../bridge/src/routes/dead-letters.ts';
import { runCli } from '../../bridge/src/cli.ts';
import { event, harness, quietLogger } from './helpers.ts';

async function setup() {
  const h = await harness();
  h.partner('wms').script = ['refuse'];
  const e = event('order.released', 'stock.picking:900', 1);
  await h.publish(e);
  const app = createApp({ store: h.store, adminToken: 'admin-secret', logger: quietLogger(), version: 'test', adminRoutes: [deadLetterRoutes({ engine: h.engine })] });
  const call = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
    app.request(path, { method, headers: { authorization: 'Bearer admin-secret', 'content-type': 'application/json', ...headers }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { h, e, app, call };
}

test('GET /v1/dead-letters lists and filters; the admin token is required', async () => {
  const { e, app, call } = await setup();
  assert.is((await app.request('/v1/dead-letters')).status, 401);
  const r = await call('GET', '/v1/dead-letters');
  assert.is(r.status, 200);
  const list = await r.json();
  assert.equal(list.items.map((d: any) => [d.id, d.error_class, d.reason]), [[e.id, 'business', 'invalid_address']]);
  assert.is((await (await call('GET', '/v1/dead-letters?error_class=technical')).json()).items.length, 0);
  const bad = await call('GET', '/v1/dead-letters?error_class=oops');
  assert.is(bad.status, 400);
  assert.is((await bad.json()).error.path, 'error_class');
});

test('GET /v1/dead-letters/:id shows the event; unknown ids are 404 JSON', async () => {
  const { e, call } = await setup();
  const d = await (await call('GET', `/v1/dead-letters/${e.id}`)).json();
  assert.is(d.body.id, e.id);
  assert.match(d.last_error, /address is not deliverable/);
  const r = await call('GET', '/v1/dead-letters/nope');
  assert.is(r.status, 404);
  assert.is((await r.json()).error.code, 'not_found');
});

test('POST replay with an invalid edited payload: 400 naming the path; a valid one: 202, delivered, audited under X-Operator', async () => {
  const { h, e, call } = await setup();
  const bad = await call('POST', `/v1/dead-letters/${e.id}/replay`, { payload: { ...e.payload, lines: [] } });
  assert.is(bad.status, 400);
  assert.equal((await bad.json()).error.path, 'payload.lines');
  const unknownKey = await call('POST', `/v1/dead-letters/${e.id}/replay`, { newkey: true });
  assert.is(unknownKey.status, 400);
  const ok = await call('POST', `/v1/dead-letters/${e.id}/replay`, { new_key: true }, { 'x-operator': 'maria' });
  assert.is(ok.status, 202);
  await h.engine.runDue();
  assert.is(await h.state(e.id), 'delivered');
  const audit = await (await call('GET', `/v1/audit?event_id=${e.id}&action=replay,discard`)).json();
  assert.equal(audit.items.map((a: any) => [a.actor, a.action, a.new_key]), [['maria', 'replay', true]]);
  const again = await call('POST', `/v1/dead-letters/${e.id}/replay`, {});
  assert.is(again.status, 409);
});

test('POST /v1/dead-letters/replay (bulk by filter) and POST discard; default operator is admin-token', async () => {
  const { h, e, call } = await setup();
  h.partner('wms').script = ['refuse'];
  const e2 = event('order.released', 'stock.picking:901', 1);
  await h.publish(e2);
  const d = await call('POST', `/v1/dead-letters/${e2.id}/discard`, { note: 'duplicate order' });
  assert.is(d.status, 200);
  assert.is((await d.json()).state, 'discarded');
  const bulk = await (await call('POST', '/v1/dead-letters/replay', { filter: { partner: 'wms' } })).json();
  assert.equal(bulk, { replayed: [e.id], failed: [] });
  await h.engine.runDue();
  const audit = await (await call('GET', '/v1/audit?action=replay,discard')).json();
  assert.equal(audit.items.map((a: any) => [a.actor, a.action, a.target]), [['admin-token', 'discard', e2.id], ['admin-token', 'replay', e.id]]);
  const st = await (await call('GET', '/v1/engine')).json();
  assert.is(st.jobs.dead, 0);
});

test('the CLI lists, shows, replays with an edited payload file, and discards through the admin API', async () => {
  const { h, e, app } = await setup();
  const out: string[] = [];
  const err: string[] = [];
  const io = {
    env: { BRIDGE_URL: 'http://bridge.test', BRIDGE_ADMIN_TOKEN: 'admin-secret', USER: 'ops' },
    fetch: ((url: string, init: RequestInit) => app.request(url, init)) as unknown as typeof fetch,
    out: (l: string) => out.push(l), err: (l: string) => err.push(l),
    readFile: () => JSON.stringify({ ...e.payload, notes: 'ring twice' }),
  };
  assert.is(await runCli(['dead-letters', 'list'], io), 0);
  assert.match(out.join('\n'), new RegExp(`${e.id}  dead/business:invalid_address  order.released`));
  assert.is(await runCli(['dead-letters', 'show', e.id], io), 0);
  assert.is(JSON.parse(out.at(-1)!).body.id, e.id);
  assert.is(await runCli(['dead-letters', 'replay', e.id, '--payload', 'fixed.json'], io), 0);
  await h.engine.runDue();
  assert.is(await h.state(e.id), 'delivered');
  const [entry] = await h.engine.audit({ event_id: e.id, actions: ['replay'] });
  assert.is(entry.actor, 'ops');
  assert.is((entry.after as any).notes, 'ring twice');
  assert.is(await runCli(['dead-letters', 'discard', e.id], io), 1, 'not dead any more');
  assert.match(err.at(-1)!, /HTTP 409 not_dead/);
  assert.is(await runCli(['dead-letters', 'list'], { ...io, env: { BRIDGE_URL: 'http://bridge.test' } }), 2);
  assert.is(await runCli(['frobnicate'], io), 2);
});

test.run();
