/**
 * Operators with roles (issue 17 item 3): named tokens from the configuration, viewer / operator /
 * admin on the operator API and the dashboard, actions audited under the token's owner, a malformed
 * Authorization header answered 401 like a wrong token; /metrics for loopback only without a token.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBridge } from '../../bridge/src/bridge.ts';
import { extendWith } from '../../bridge/src/runtime.ts';
import { createMemoryStore } from '../../bridge/src/store/memory.ts';
import { ADMIN, TOKEN, captureLogs } from '../helpers/bridge.ts';

const VIEWER = 'v'.repeat(32);
const OPERATOR = 'o'.repeat(32);

async function bridgeWithOperators() {
  const dir = mkdtempSync(join(tmpdir(), 'olb-ops-'));
  writeFileSync(join(dir, 'bridge.json'), JSON.stringify({
    partners: [{ id: 'wms', adapter: 'rest-wms', role: 'warehouse', base_url: 'http://127.0.0.1:9/api', credentials: { api_token: { env: 'WMS_TOKEN' } }, options: { warehouse: 'WH' } }],
    routes: [{ events: ['order.released'], partners: ['wms'] }],
    operators: [{ name: 'vera', role: 'viewer', token: { env: 'OPS_VERA' } }, { name: 'otto', role: 'operator', token: { env: 'OPS_OTTO' } }],
  }));
  const store = createMemoryStore();
  await store.open();
  const logs = captureLogs();
  const { extend } = extendWith({ store, logger: logs.logger, adminToken: ADMIN, dataDir: dir, configPath: join(dir, 'bridge.json'), env: { WMS_TOKEN: 'w', OPS_VERA: VIEWER, OPS_OTTO: OPERATOR } });
  const bridge = await startBridge({ store, token: TOKEN, adminToken: ADMIN, logger: logs.logger, port: 0, extend });
  const call = (token: string | undefined, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => fetch(`${bridge.url}${path}`, {
    method, headers: { ...(token !== undefined && { authorization: token }), ...(body !== undefined && { 'content-type': 'application/json' }), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body), redirect: 'manual',
  });
  return { bridge, call, async close() { await bridge.close(); await store.close(); rmSync(dir, { recursive: true, force: true }); } };
}

test('viewer reads, operator acts on deliveries, admin does the rest; 403 names the role needed', async () => {
  const b = await bridgeWithOperators();
  try {
    assert.is((await b.call(`Bearer ${VIEWER}`, 'GET', '/v1/dead-letters')).status, 200);
    const refused = await b.call(`Bearer ${VIEWER}`, 'POST', '/v1/dead-letters/x/replay', {});
    assert.is(refused.status, 403);
    assert.match((await refused.json()).error.message, /vera is a viewer: POST \/v1\/dead-letters\/x\/replay needs the operator role/);
    assert.is((await b.call(`Bearer ${OPERATOR}`, 'POST', '/v1/dead-letters/x/replay', {})).status, 404, 'an operator may replay (this id is unknown)');
    assert.is((await b.call(`Bearer ${OPERATOR}`, 'POST', '/v1/odoo/resume', {})).status, 403, 'lifting the key pause is for admins');
    assert.is.not((await b.call(`Bearer ${ADMIN}`, 'POST', '/v1/odoo/resume', {})).status, 403);
  } finally {
    await b.close();
  }
});

test('missing, malformed and wrong tokens are all 401', async () => {
  const b = await bridgeWithOperators();
  try {
    for (const header of [undefined, `Token ${ADMIN}`, `Bearer`, `Bearer ${ADMIN} extra`, 'Bearer wrong-token-wrong-token-wrong']) {
      const r = await b.call(header, 'GET', '/v1/dead-letters');
      assert.is(r.status, 401, String(header));
      assert.is((await r.json()).error.code, 'unauthorized');
    }
  } finally {
    await b.close();
  }
});

test('an operator\'s action is recorded under the token\'s owner, not a name it declares', async () => {
  const b = await bridgeWithOperators();
  try {
    const r = await b.call(`Bearer ${OPERATOR}`, 'POST', '/v1/shadow', { partner: 'wms', since: '2026-01-01T00:00:00Z', legacy: [] }, { 'x-operator': 'mallory' });
    assert.is(r.status, 200);
    assert.is((await r.json()).actor, 'otto');
    const a = await b.call(`Bearer ${ADMIN}`, 'POST', '/v1/shadow', { partner: 'wms', since: '2026-01-01T00:00:00Z', legacy: [] }, { 'x-operator': 'alice' });
    assert.is((await a.json()).actor, 'alice', 'the shared admin token records the name it is given');
  } finally {
    await b.close();
  }
});

test('the dashboard: a viewer logs in with its token, sees no replay button and is refused the action', async () => {
  const b = await bridgeWithOperators();
  try {
    const login = await fetch(`${b.bridge.url}/dashboard/login`, { method: 'POST', body: new URLSearchParams({ name: 'anyone', token: VIEWER }), redirect: 'manual' });
    assert.is(login.status, 303);
    const cookie = login.headers.get('set-cookie')!.split(';')[0];
    const home = await (await fetch(`${b.bridge.url}/dashboard`, { headers: { cookie } })).text();
    assert.match(home, /vera \(viewer\)/, 'the name is the token owner\'s, with its role');
    assert.match(home, /class="role-viewer"/);
    const act = await fetch(`${b.bridge.url}/dashboard/dead-letters/x/replay`, { headers: { cookie }, redirect: 'manual' });
    assert.is(act.status, 403);
    assert.match(await act.text(), /vera is a viewer/);
  } finally {
    await b.close();
  }
});

test('a configured bridge serves no simulator and no fault control (demo mode only)', async () => {
  const b = await bridgeWithOperators();
  try {
    for (const path of ['/_sim/effects', '/_sim/easypost-sim/_control', '/_sim/wms-sim/order']) {
      assert.is((await b.call(undefined, 'POST', path, {})).status, 404, path);
      assert.is((await b.call(undefined, 'GET', path)).status, 404, path);
    }
  } finally {
    await b.close();
  }
});

test('/metrics without METRICS_TOKEN answers loopback clients only', async () => {
  const { metricsRoutes } = await import('../../bridge/src/routes/metrics.ts');
  const app = metricsRoutes({ metrics: { exposition: async () => '# ok\n', contentType: 'text/plain' } as never });
  const from = (remoteAddress: string) => app.request('/metrics', {}, { incoming: { socket: { remoteAddress } } });
  assert.is((await from('127.0.0.1')).status, 200);
  assert.is((await from('::1')).status, 200);
  const far = await from('10.1.2.3');
  assert.is(far.status, 403);
  assert.match((await far.json()).error.message, /unless METRICS_TOKEN is set/);
});

test.run();
