/** Partner SLAs from the configuration, and rate-limit headroom, from the engine through the metrics to the dashboard. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Hono } from 'hono';
import { adapterRegistry } from '../../bridge/src/adapters/registry.ts';
import { ConfigError, parseConfig } from '../../bridge/src/config/load.ts';
import { headroomFromHeaders } from '../../bridge/src/core/headroom.ts';
import { dashboardRoutes } from '../../bridge/src/dashboard/index.tsx';
import { createMetrics, slaOf } from '../../bridge/src/observability/metrics.ts';
import { createEasyPostSim } from '../../bridge/src/simulators/easypost/app.ts';
import { event, fakeClock, harness, testConfig } from './helpers.ts';

const ADMIN = 'dashboard-admin-token-0123456789';

/** The dashboard's overview page as an operator sees it. */
async function overview(app: Hono): Promise<string> {
  const login = await app.request('/dashboard/login', { method: 'POST', body: new URLSearchParams({ name: 'ops', token: ADMIN }) });
  const cookie = login.headers.get('set-cookie')!.split(';')[0];
  return (await app.request('/dashboard', { headers: { cookie } })).text();
}
const row = (html: string, partner: string) => new RegExp(`<tr data-partner="${partner}"[^>]*>[\\s\\S]*?</tr>`).exec(html)?.[0] ?? '';

test('sla in the configuration: validated with the path of each problem', () => {
  const file = (sla: unknown) => ({ partners: [{ id: 'ups', adapter: 'fake-carrier', role: 'carrier', sla }] });
  const problems = (sla: unknown) => {
    try {
      parseConfig(file(sla), {});
      return [];
    } catch (e) {
      return (e as ConfigError).problems.map((p) => `${p.path}: ${p.message}`);
    }
  };
  assert.equal(parseConfig(file({ answer_ms: 2000, success_ratio: 0.99 }), {}).partners[0].sla, { answer_ms: 2000, success_ratio: 0.99 });
  assert.equal(problems({ answer_ms: 0 }), ['partners[0].sla.answer_ms: must be >= 1']);
  assert.equal(problems({ success_ratio: 1.5 }), ['partners[0].sla.success_ratio: must be <= 1 (a share, e.g. 0.99)']);
  assert.equal(problems({ answer: 2000 }), ['partners[0].sla.answer: unknown key (check the spelling)']);
  assert.equal(problems({ answer_ms: 1.5 }), ['partners[0].sla.answer_ms: must be an integer number of milliseconds']);
});

test('SLA targets reach the metrics; a partner missing them is red on the dashboard, one meeting them is not', async () => {
  const config = testConfig({
    partners: [
      { id: 'wms', adapter: 'fake-wms', role: 'warehouse', sla: { answer_ms: 500, success_ratio: 0.99 } },
      { id: 'ups', adapter: 'fake-carrier', role: 'carrier', sla: { answer_ms: 5000, success_ratio: 0.5 } },
    ],
    routes: [{ events: ['order.released'], partners: ['wms'] }, { events: ['shipment.requested'], partners: ['ups'] }],
  });
  const metrics = createMetrics({ partners: config.partners.map((p) => p.id), ...slaOf(config.partners) });
  metrics.partnerCall('wms', 'success', 0.2);
  metrics.partnerCall('wms', 'success', 2.0);
  metrics.partnerCall('wms', 'timeout', 5);
  metrics.partnerCall('wms', 'permanent', 0.1);
  metrics.partnerCall('ups', 'success', 0.3);
  metrics.partnerCall('ups', 'success', 0.4);
  metrics.partnerCall('ups', 'permanent', 0.2);
  const text = await metrics.exposition();
  assert.match(text, /logistics_bridge_partner_sla_target_seconds\{partner="wms"\} 0\.5/);
  assert.match(text, /logistics_bridge_partner_sla_success_ratio_target\{partner="ups"\} 0\.5/);
  assert.match(text, /logistics_bridge_partner_calls_within_sla_total\{partner="wms"\} 1/);
  const f = await metrics.figures();
  const wms = f.partners.find((p) => p.partner === 'wms')!;
  const ups = f.partners.find((p) => p.partner === 'ups')!;
  assert.equal([wms.success_ratio, wms.success_target, wms.sla_missed], [2 / 3, 0.99, { answer: true, success: true }], 'a business refusal is not the partner failing');
  assert.equal([ups.success_ratio, ups.sla_missed], [1, { answer: false, success: false }]);
  const h = await harness({ config });
  const app = new Hono().route('/dashboard', dashboardRoutes({ store: h.store, adminToken: ADMIN, engine: h.engine, metrics }));
  const html = await overview(app);
  assert.match(row(html, 'wms'), /class="sla-missed"/);
  assert.match(row(html, 'wms'), /class="num sla-answer missed"/);
  assert.match(row(html, 'wms'), /class="num sla-success missed">66\.7 %<span class="muted"> \/ ≥ 99\.0 %/);
  assert.not.match(row(html, 'ups'), /missed/);
});

test('rate-limit headers: X-RateLimit-*, RateLimit-* and the structured RateLimit field', () => {
  assert.is(headroomFromHeaders(new Headers({ 'x-ratelimit-remaining': '25', 'x-ratelimit-limit': '100' })), 0.25);
  assert.is(headroomFromHeaders(new Headers({ 'ratelimit-remaining': '3', 'ratelimit-limit': '4' })), 0.75);
  assert.is(headroomFromHeaders(new Headers({ ratelimit: 'limit=10, remaining=1, reset=5' })), 0.1);
  assert.is(headroomFromHeaders(new Headers({ ratelimit: '"default";r=50;t=30', 'ratelimit-policy': '"default";q=200;w=60' })), 0.25);
  assert.is(headroomFromHeaders(new Headers({ 'x-ratelimit-remaining': '5' })), undefined, 'no limit, no ratio');
  assert.is(headroomFromHeaders(new Headers()), undefined);
});

test('headroom from the token bucket: spent by calls, refilled by time, on /metrics and the dashboard', async () => {
  const config = testConfig({
    partners: [{ id: 'wms', adapter: 'fake-wms', role: 'warehouse', limits: { rate: 1, burst: 4 } }, { id: 'ups', adapter: 'fake-carrier', role: 'carrier' }],
    routes: [{ events: ['order.released'], partners: ['wms'] }],
  });
  const h = await harness({ config });
  const metrics = createMetrics({ partners: ['wms', 'ups'], engineStatus: () => h.engine.status() });
  assert.is(h.engine.status().partners.wms.headroom, 1, 'a full bucket');
  assert.is(h.engine.status().partners.ups.headroom, undefined, 'no rate limit, nothing said by the partner: unknown');
  await h.publish(...Array.from({ length: 3 }, (_, i) => event('order.released', `stock.picking:${900 + i}`, 1)));
  assert.is(h.engine.status().partners.wms.headroom, 0.25);
  assert.match(await metrics.exposition(), /logistics_bridge_partner_rate_limit_headroom_ratio\{partner="wms"\} 0\.25/);
  const app = new Hono().route('/dashboard', dashboardRoutes({ store: h.store, adminToken: ADMIN, engine: h.engine, metrics }));
  assert.match(row(await overview(app), 'wms'), /class="num headroom"[^>]*>25\.0 %/);
  h.clock.advance(2_000);
  assert.is(h.engine.status().partners.wms.headroom, 0.75, 'refilled at 1 per second');
});

test('headroom from a partner\'s rate-limit headers, when lower than our own bucket', async () => {
  const clock = fakeClock();
  const sim = createEasyPostSim({ apiKey: 'ep-key-123456', now: clock.now });
  let remaining = 90;
  const fetch = (async (input: string | URL | Request, init?: RequestInit) => {
    const url = new URL(String(input));
    const res = await sim.app.fetch(new Request(url, init));
    const headers = new Headers(res.headers);
    headers.set('x-ratelimit-limit', '100');
    headers.set('x-ratelimit-remaining', String((remaining -= 1)));
    return new Response(res.body, { status: res.status, headers });
  }) as typeof globalThis.fetch;
  const config = parseConfig({
    partners: [{ id: 'ep', adapter: 'easypost', role: 'carrier', base_url: 'http://ep.test/v2', credentials: { api_key: { env: 'K' } }, limits: { rate: 100, burst: 100 },
      options: { service_map: { GROUND: { carrier: 'USPS', service: 'GroundAdvantage' } } } }],
    routes: [{ events: ['shipment.requested'], partners: ['ep'] }],
  }, { K: 'ep-key-123456' });
  const h = await harness({ config, registry: adapterRegistry, fetch, clock });
  await h.publish(event('shipment.requested', 'stock.picking:910', 1));
  assert.is(sim.effects.get('label_purchased'), 1);
  assert.is(h.engine.status().partners.ep.headroom, 0.88, 'the partner said 88 of 100 left (our bucket has 99 of 100)');
  h.clock.advance(61_000);
  assert.is(h.engine.status().partners.ep.headroom, 1, 'a minute later the partner\'s figure is stale; our bucket is full again');
});

test.run();
