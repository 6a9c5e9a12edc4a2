/**
 * The audit trail: a real adapter (EasyPost) and real publishers (Standard Webhooks, AfterShip)
 * against their simulators in-process, so the requests recorded are the ones sent.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { adapterRegistry } from '../../bridge/src/adapters/registry.ts';
import { parseConfig } from '../../bridge/src/config/load.ts';
import { redact, redactUrl } from '../../bridge/src/core/audit.ts';
import { createAfterShipSim } from '../../bridge/src/simulators/aftership/app.ts';
import { createEasyPostSim } from '../../bridge/src/simulators/easypost/app.ts';
import { createStandardWebhooksSim } from '../../bridge/src/simulators/standard-webhooks/app.ts';
import { event, fakeClock, harness } from './helpers.ts';

const EP_KEY = 'EZTKaudit0000000000secretkey';
const NOTIFY_SECRET = `whsec_${Buffer.from('audit notify secret, 32 bytes!!!').toString('base64')}`;
const AS_KEY = 'asat_audit_secret_key_123';

/** The three partners behind one fetch; `fault(url)` may answer instead of the simulator. */
function partners(fault: (url: URL, n: number) => Response | undefined = () => undefined) {
  const clock = fakeClock();
  const ep = createEasyPostSim({ apiKey: EP_KEY, now: clock.now });
  const notify = createStandardWebhooksSim({ secrets: [NOTIFY_SECRET], now: clock.now });
  const as = createAfterShipSim({ apiKey: AS_KEY, now: clock.now });
  const hosts: Record<string, { app: { fetch: (r: Request) => Response | Promise<Response> } }> = { 'ep.test': ep, 'notify.test': notify, 'as.test': as };
  let n = 0;
  const fetch = (async (input: string | URL | Request, init?: RequestInit) => {
    const url = new URL(String(input));
    const injected = fault(url, ++n);
    if (injected) return injected;
    return hosts[url.host].app.fetch(new Request(url, init));
  }) as typeof globalThis.fetch;
  const config = parseConfig({
    partners: [
      { id: 'ep', adapter: 'easypost', role: 'carrier', base_url: 'http://ep.test/v2', credentials: { api_key: { env: 'EP_KEY' } }, options: { service_map: { GROUND: { carrier: 'USPS', service: 'GroundAdvantage' } } } },
      { id: 'notify', adapter: 'standard-webhooks', role: 'visibility', base_url: 'http://notify.test/webhooks/bridge', credentials: { webhook_secret: { env: 'NOTIFY_SECRET' } } },
      { id: 'as', adapter: 'aftership', role: 'visibility', base_url: 'http://as.test', credentials: { api_key: { env: 'AS_KEY' } }, milestones: ['label.created'] },
    ],
    routes: [{ events: ['shipment.requested'], partners: ['ep'] }],
  }, { EP_KEY, NOTIFY_SECRET, AS_KEY });
  return { fetch, config, ep, notify, as, clock };
}

test('one retry then success: submission, the request built from the event, attempt (failed, retryable), attempt (ok), every state, in order', async () => {
  const p = partners((url, n) => (n === 1 ? new Response(JSON.stringify({ error: { code: 'INTERNAL', message: 'try again' } }), { status: 500 }) : undefined));
  const h = await harness({ config: p.config, registry: adapterRegistry, fetch: p.fetch, clock: p.clock });
  const e = event('shipment.requested', 'stock.picking:700', 1);
  await h.publish(e);
  assert.is(await h.state(e.id), 'retrying');
  await h.advance(1_000);
  assert.is(await h.state(e.id), 'delivered');
  const all = await h.engine.audit({ event_id: e.id });
  const own = all.filter((a) => a.target === e.id);
  assert.equal(own.map((a) => [a.action, a.action === 'state' ? a.to : a.action === 'attempt' ? a.outcome : a.action === 'transformed' ? `${a.request!.method} ${a.request!.path.replace(/shp_\w+/, 'shp_*')}` : a.actor]), [
    ['submitted', 'odoo'],
    ['state', 'queued'],
    ['attempt', 'started'],
    ['state', 'delivering'],
    ['transformed', 'POST /v2/shipments'],
    ['attempt', 'retryable'],
    ['state', 'retrying'],
    ['attempt', 'started'],
    ['state', 'delivering'],
    ['transformed', 'POST /v2/shipments/shp_*/buy'],
    ['attempt', 'success'],
    ['state', 'delivered'],
  ]);
  const [started, fail, , ok] = own.filter((a) => a.action === 'attempt');
  assert.equal([started.call, started.key, started.partner], [1, `${e.id}:ep`, 'ep'], 'the attempt is on record before its request leaves');
  assert.equal([fail.partner, fail.step, fail.key, fail.call, fail.error_class, fail.status], ['ep', 'ep', `${e.id}:ep`, 1, 'technical', 500]);
  assert.match(fail.error!, /try again/);
  assert.equal([ok.call, ok.error_class, ok.requests!.map((r) => r.status)], [2, undefined, [404, 201, 200]], "in doubt after a 500: looked up by our reference first, then created and bought");
  assert.ok(typeof ok.duration_ms === 'number');
  const sent = own.find((a) => a.action === 'transformed')!.request!;
  assert.is((sent.body as any).shipment.reference, (e.payload as any).shipment_ref, 'the mapped request, as sent');
  assert.match(sent.sha256!, /^[0-9a-f]{64}$/);
  const states = own.filter((a) => a.action === 'state');
  assert.equal(states.map((s) => s.from), [undefined, 'queued', 'delivering', 'retrying', 'delivering']);
  // The label milestone went to both visibility partners: their attempts are in the event's trail too.
  assert.equal(all.filter((a) => a.action === 'attempt' && a.outcome !== 'started' && a.target !== e.id).map((a) => a.partner).sort(), ['as', 'notify']);
});

test('no token, API key or signature ever lands in the audit, even when a partner echoes a key in its error', async () => {
  const basic = Buffer.from(`${EP_KEY}:`).toString('base64');
  const p = partners((url, n) => (n === 1 ? new Response(JSON.stringify({ error: { code: 'APIKEY.INVALID', message: `key ${EP_KEY} was refused for now` } }), { status: 503 }) : undefined));
  const h = await harness({ config: p.config, registry: adapterRegistry, fetch: p.fetch, clock: p.clock });
  const e = event('shipment.requested', 'stock.picking:701', 1);
  await h.publish(e);
  await h.advance(2_000);
  assert.is(await h.state(e.id), 'delivered');
  assert.is(p.notify.effects.get('milestone_published'), 1, 'the signed publish was sent');
  const text = JSON.stringify(await h.engine.audit({ limit: 5000 }));
  assert.ok(text.includes('"attempt"') && text.includes('"transformed"'));
  for (const secret of [EP_KEY, basic, NOTIFY_SECRET, NOTIFY_SECRET.slice(6), AS_KEY]) assert.not.ok(text.includes(secret), `a secret leaked: ${secret.slice(0, 8)}…`);
  assert.not.match(text, /v1,[A-Za-z0-9+/=]{20,}/, 'no Standard Webhooks signature');
  assert.not.match(text, /authorization|as-api-key|webhook-signature/i, 'no request headers at all');
  assert.match(text, /key \[redacted\] was refused/, 'the echoed key was cut out of the partner\'s message');
  assert.not.ok(((await h.store.get(e.id))?.last_error ?? '').includes(EP_KEY));
});

test('redaction: secret-looking fields and query parameters are blanked, credential values cut from any string', () => {
  assert.equal(redact({ api_key: 'x', nested: { Authorization: 'Basic abc', note: 'has s3cr3t-value inside' }, list: ['s3cr3t-value'] }, ['s3cr3t-value']), {
    api_key: '[redacted]', nested: { Authorization: '[redacted]', note: 'has [redacted] inside' }, list: ['[redacted]'],
  });
  assert.is(redactUrl('https://user:pw@hooks.example.com/in?token=abc&x=1&sig=s3cr3t-value', ['s3cr3t-value']), '/in?token=%5Bredacted%5D&x=1&sig=[redacted]');
});

test('the audit is kept on disk apart from the events, and an event\'s trail is read by its id after a restart', async () => {
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { createEmbeddedStore } = await import('../../bridge/src/store/embedded.ts');
  const { createEngine } = await import('../../bridge/src/core/engine.ts');
  const { fakeRegistry, quietLogger, testConfig } = await import('./helpers.ts');
  const dir = mkdtempSync(join(tmpdir(), 'audit-disk-'));
  try {
    const clock = fakeClock();
    const io = { now: clock.now, random: () => 0.5, setTimeout: clock.setTimeout, clearTimeout: clock.clearTimeout };
    const store = createEmbeddedStore({ dir: join(dir, 'data'), pruneEveryMs: 0, now: clock.now });
    await store.open();
    const { registry } = fakeRegistry(clock);
    const first = createEngine({ store, config: testConfig(), registry, logger: quietLogger(), io, stateDir: join(dir, 'state') });
    await first.start();
    const e = event('order.released', 'stock.picking:702', 1);
    await store.ingest([e]);
    await first.runDue();
    await first.stop();
    const second = createEngine({ store, config: testConfig(), registry, logger: quietLogger(), io, stateDir: join(dir, 'state') });
    assert.equal((await second.audit({ event_id: e.id })).map((a) => a.action), ['submitted', 'state', 'attempt', 'state', 'attempt', 'state'], 'readable without starting delivery');
    await second.stop();
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
