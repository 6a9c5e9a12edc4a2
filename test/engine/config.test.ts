/** The configuration file: errors name their path; secrets only by environment reference; routing by attributes. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig, parseConfig } from '../../bridge/src/config/load.ts';
import { demoConfig, demoWritebackNote, DEMO_ENV } from '../../bridge/src/config/demo.ts';
import { planSteps, ownershipRefusal } from '../../bridge/src/core/routing.ts';
import { adapterRegistry } from '../../bridge/src/adapters/registry.ts';
import { event } from './helpers.ts';

const good = () => ({
  partners: [
    { id: 'wms-be', adapter: 'rest-wms', role: 'warehouse', base_url: 'https://wms.example.com', credentials: { api_key: { env: 'WMS_KEY' } } },
    { id: 'wms-nl', adapter: 'file-3pl', role: 'warehouse' },
    { id: 'ups', adapter: 'easypost', role: 'carrier', limits: { rate: 5, burst: 10, concurrency: 2, timeout_ms: 5000, max_attempts: 4 } },
    { id: 'dhl', adapter: 'shippo', role: 'carrier' },
  ],
  routes: [
    { name: 'belgium', events: ['order.released', 'order.cancelled'], when: { warehouse: ['BE1'] }, partners: ['wms-be'] },
    { events: ['order.released', 'order.cancelled'], when: { warehouse: ['NL1'] }, partners: ['wms-nl'] },
    { events: ['shipment.requested'], when: { carrier: ['bridge_ground'], country: ['US'] }, partners: ['ups'], fallback: ['dhl'] },
    { events: ['shipment.requested'], partners: ['dhl'] },
  ],
  ownership: { inventory: { BE1: 'wms-be' } },
  workflows: { inventory: { mode: 'batch', flush_interval_ms: 300000 } },
  odoo: { url: 'http://localhost:8069', db: 'lab', transport: 'json2', api_key: { env: 'ODOO_KEY' }, batch_size: 200 },
});
const env = { WMS_KEY: 'k1', ODOO_KEY: 'k2' };

function problems(input: unknown, e: Record<string, string> = env): string[] {
  try {
    parseConfig(input, e, 'bridge.json');
  } catch (err) {
    assert.instance(err, ConfigError);
    return (err as ConfigError).problems.map((p) => `${p.path}: ${p.message}`);
  }
  return [];
}

test('a good file loads with secrets resolved from the environment and defaults filled', () => {
  const c = parseConfig(good(), env, 'bridge.json');
  assert.equal(c.partners[0].credentials, { api_key: 'k1' });
  assert.is(c.odoo?.api_key, 'k2');
  assert.is(c.partners[1].limits.max_attempts, 8);
  assert.is(c.partners[2].limits.rate, 5);
  assert.is(c.partners[1].limits.breaker.consecutive_failures, 5);
});

test('errors name the path in the file', () => {
  const bad = good();
  (bad.partners[2].limits as any).rate = 0;
  assert.equal(problems(bad), ['partners[2].limits.rate: must be > 0']);
  const bad2 = good();
  (bad2.partners[1] as any).colour = 'red';
  assert.equal(problems(bad2), ['partners[1].colour: unknown key (check the spelling)']);
  const bad3 = good();
  (bad3.routes[0] as any).events = ['order.shipped'];
  assert.match(problems(bad3)[0], /^routes\[0\]\.events\[0\]: event type must be one of/);
});

test('secrets only by reference: a literal is refused, a missing variable names itself', () => {
  const literal = good();
  (literal.partners[0].credentials as any).api_key = 'sk_live_123';
  assert.match(problems(literal)[0], /^partners\[0\]\.credentials\.api_key: /);
  assert.equal(problems(good(), { ODOO_KEY: 'x' }), ['partners[0].credentials.api_key: environment variable WMS_KEY is not set']);
});

test('cross references: unknown partners, wrong roles, fallbacks of another role, ownership by a carrier', () => {
  const c = good();
  c.routes[0].partners = ['nobody'];
  c.routes[2].partners = ['wms-nl'];
  c.routes[2].fallback = ['ups'];
  (c.ownership.inventory as any).NL1 = 'ups';
  assert.equal(problems(c), [
    'routes[0].partners[0]: unknown partner "nobody"',
    'routes[2].partners[0]: "wms-nl" is a warehouse and cannot take shipment.requested',
    'routes[2].fallback[0]: fallback "ups" is a carrier, not a warehouse',
    'ownership.inventory.NL1: "ups" is a carrier; inventory is owned by a warehouse',
  ]);
  const dup = good();
  dup.partners[1].id = 'wms-be';
  assert.match(problems(dup)[0], /^partners\[1\]\.id: duplicate partner id "wms-be"/);
});

test('loadConfig names the file, and reports unreadable or non-JSON files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
  const path = join(dir, 'bridge.json');
  writeFileSync(path, '{ "partners": [ }');
  assert.throws(() => loadConfig(path, env), (e: Error) => e instanceof ConfigError && e.message.includes(path) && /not valid JSON/.test(e.message));
  assert.throws(() => loadConfig(join(dir, 'missing.json'), env), /cannot read the file: ENOENT/);
  writeFileSync(path, JSON.stringify(good()));
  assert.is(loadConfig(path, env).partners.length, 4);
  assert.throws(() => loadConfig(path, env, { adapters: ['easypost'] }), /partners\[0\]\.adapter: unknown adapter "rest-wms"/);
});

test('routing: per role, the first matching rule wins; warehouse, carrier and country attributes select the partner', () => {
  const c = parseConfig(good(), env);
  const be = event('order.released');
  (be.payload as any).warehouse = 'BE1';
  assert.equal(planSteps(c, be).steps.map((s) => [s.step, s.action]), [['wms-be', 'releaseOrder']]);
  (be.payload as any).warehouse = 'NL1';
  assert.equal(planSteps(c, be).steps.map((s) => s.step), ['wms-nl']);
  const ship = event('shipment.requested');
  assert.equal(planSteps(c, ship).steps.map((s) => s.candidates), [['ups', 'dhl']], 'US ground: ups with dhl as fallback');
  (ship.payload as any).ship_to.country = 'BE';
  assert.equal(planSteps(c, ship).steps.map((s) => s.candidates), [['dhl']], 'elsewhere: the catch-all rule');
  const ret = event('return.requested');
  assert.equal(planSteps(c, ret).steps, [], 'no rule for returns');
});

test('ownership rules decide who may speak', () => {
  const c = parseConfig(good(), env);
  const inv = { id: 'x', type: 'inventory.level', payload: { warehouse: 'BE1' }, aggregate: 'inventory:BE1' } as any;
  assert.is(ownershipRefusal(c, inv, 'wms-be', new Set()), undefined);
  assert.match(ownershipRefusal(c, inv, 'wms-nl', new Set()) ?? '', /owned by wms-be/);
  assert.match(ownershipRefusal(c, { ...inv, payload: { warehouse: 'NL1' } }, 'wms-nl', new Set()) ?? '', /no partner owns/);
});

test('a return reaches its warehouse and a carrier: roles are routed independently', () => {
  const c = parseConfig({
    partners: [{ id: 'wh', adapter: 'a', role: 'warehouse' }, { id: 'ep', adapter: 'b', role: 'carrier' }, { id: 'wh2', adapter: 'a', role: 'warehouse' }],
    routes: [
      { events: ['return.requested'], partners: ['wh'] },
      { events: ['return.requested'], partners: ['wh2', 'ep'] },
    ],
  }, {});
  assert.equal(planSteps(c, event('return.requested')).steps.map((s) => [s.step, s.action]), [['wh', 'expectReturn'], ['ep', 'createReturnLabel']]);
});

test('the demo configuration (simulator partners) loads against the real adapter registry', () => {
  const c = parseConfig(demoConfig({ simBaseUrl: 'http://127.0.0.1:8787' }), DEMO_ENV, 'demo', { adapters: Object.keys(adapterRegistry) });
  assert.ok(c.partners.length >= 4);
  const ship = event('shipment.requested');
  assert.ok(planSteps(c, ship).steps.length >= 1, 'shipments are routed in the demo');
});

test('the demo writes back to the Odoo named by ODOO_URL once its key is set, and says when it does not', () => {
  const adapters = { adapters: Object.keys(adapterRegistry) };
  const env = { ODOO_URL: 'http://127.0.0.1:8069', ODOO_DB: 'lab', ODOO_API_KEY: 'k'.repeat(40) };
  const c = parseConfig(demoConfig({ simBaseUrl: 'http://127.0.0.1:8787', env }), { ...DEMO_ENV, ...env }, 'demo', adapters);
  assert.equal([c.odoo?.url, c.odoo?.db, c.odoo?.api_key, c.odoo?.login], ['http://127.0.0.1:8069', 'lab', 'k'.repeat(40), 'logistics_bridge']);
  assert.match(demoWritebackNote(env), /write-back to http:\/\/127\.0\.0\.1:8069 \(database lab\)/);
  const noKey = { ODOO_URL: 'http://127.0.0.1:8069' };
  assert.is(parseConfig(demoConfig({ simBaseUrl: 'http://x', env: noKey }), { ...DEMO_ENV, ...noKey }, 'demo', adapters).odoo, undefined);
  assert.match(demoWritebackNote(noKey), /ODOO_API_KEY is not/);
  assert.is(parseConfig(demoConfig({ simBaseUrl: 'http://x' }), DEMO_ENV, 'demo', adapters).odoo, undefined);
  assert.match(demoWritebackNote({}), /NO write-back to Odoo: set ODOO_URL/);
});

test('the documented example file (bridge/src/config/example.bridge.json) loads against the real registry', () => {
  const path = join(import.meta.dirname, '..', '..', 'bridge', 'src', 'config', 'example.bridge.json');
  const env = Object.fromEntries(['WMS_BE_TOKEN', 'WMS_BE_WEBHOOK_SECRET', 'EASYPOST_API_KEY', 'EASYPOST_WEBHOOK_SECRET', 'SHIPPO_TOKEN', 'SHIPPO_WEBHOOK_TOKEN', 'NOTIFY_WEBHOOK_SECRET', 'ODOO_API_KEY'].map((k) => [k, 'x']));
  const c = loadConfig(path, env, { adapters: Object.keys(adapterRegistry) });
  const ret = event('return.requested');
  (ret.payload as any).warehouse = 'BE1';
  assert.equal(planSteps(c, ret).steps.map((s) => s.step), ['wms-be', 'easypost'], 'a US ground return: the Belgian warehouse and easypost');
  (ret.payload as any).return_from.country = 'DE';
  assert.equal(planSteps(c, ret).steps.map((s) => s.step), ['wms-be', 'shippo'], 'from Germany: the catch-all carrier');
  assert.throws(() => loadConfig(path, { ...env, ODOO_API_KEY: undefined }), /odoo\.api_key: environment variable ODOO_API_KEY is not set/);
});

test.run();
