/** Metrics: the exposition parses, names and labels follow Prometheus conventions and stay bounded, figures move. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createMetrics, quantile, EXPECTATIONS } from '../../bridge/src/observability/metrics.ts';
import { metricsRoutes, overviewRoutes } from '../../bridge/src/routes/metrics.ts';
import { createMemoryStore } from '../../bridge/src/store/memory.ts';
import { EVENT_STATES_OUTBOX, OUTBOX } from '../../bridge/src/odoo/outbox.ts';
import { stateLogs } from '../../bridge/src/store/state-logs.ts';
import { sampleEvent } from '../helpers/fixtures.ts';

interface Sample { name: string; labels: Record<string, string>; value: number }
/** A strict parser for the text format: every sample line must parse, every family has HELP and TYPE. */
function parse(text: string) {
  const help = new Map<string, string>();
  const type = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    let m = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)$/.exec(line);
    if (m) { help.set(m[1], m[2]); continue; }
    m = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (m) { type.set(m[1], m[2]); continue; }
    m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (-?(?:\d+(?:\.\d+)?(?:e[+-]?\d+)?|NaN|\+Inf|-Inf))$/.exec(line);
    assert.ok(m, `unparseable exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m![2] ?? '').match(/[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*"/g) ?? []) {
      const i = l.indexOf('=');
      labels[l.slice(0, i)] = l.slice(i + 2, -1);
    }
    samples.push({ name: m![1], labels, value: Number(m![3]) });
  }
  return { help, type, samples };
}
const family = (name: string) => name.replace(/_(bucket|sum|count)$/, '');
const value = (samples: Sample[], name: string, labels: Record<string, string> = {}) =>
  samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((n, s) => n + s.value, 0);

async function scrape(m: ReturnType<typeof createMetrics>) {
  return parse(await m.exposition());
}

test('the exposition parses and every family has HELP and TYPE, named after Prometheus conventions', async () => {
  const store = createMemoryStore();
  await store.open();
  const m = createMetrics({ store, partners: ['wms'] });
  m.partnerCall('wms', 'success', 0.1);
  const { help, type, samples } = await scrape(m);
  assert.ok(type.size >= 20, `expected the product's metric families, got ${type.size}`);
  for (const [name, t] of type) {
    assert.ok(help.get(name)?.length, `${name} has help`);
    assert.match(name, /^logistics_bridge_[a-z0-9_]+$/, 'prefixed snake_case');
    if (t === 'counter') assert.match(name, /_total$/, `${name}: counters end in _total`);
    if (t !== 'counter') assert.not.match(name, /_total$/, `${name}: only counters end in _total`);
    if (/latency|duration|_lag|_age/.test(name)) assert.match(name, /_seconds$/, `${name}: times are in seconds`);
  }
  for (const s of samples) assert.ok(type.has(family(s.name)) || type.has(s.name), `${s.name} belongs to a declared family`);
  for (const s of samples) for (const l of Object.keys(s.labels)) assert.not.match(l, /(^|_)(id|ref|key|aggregate|event)$/, `${s.name} has no id-like label (${l})`);
  await store.close();
});

test('labels stay bounded: unknown partners, types and reasons become "other", never new series per value', async () => {
  const m = createMetrics({ partners: ['wms', 'easypost'] });
  for (let i = 0; i < 500; i++) {
    m.partnerCall(`partner-${i}`, 'retryable', 0.2);
    m.eventsReceived(`type-${i}`, 'rejected');
    m.deadLettered('business', `reason ${i}`);
    m.orderRelease(`ord-${crypto.randomUUID()}`, false);
  }
  const { samples } = await scrape(m);
  const labelValues = (label: string) => new Set(samples.map((s) => s.labels[label]).filter((v) => v !== undefined));
  for (const p of labelValues('partner')) assert.ok(['wms', 'easypost', 'other'].includes(p), `partner label ${p}`);
  for (const t of labelValues('type')) assert.ok(!t.startsWith('type-'), `type label ${t}`);
  for (const r of labelValues('reason')) assert.ok(!r.startsWith('reason '), `reason label ${r}`);
  assert.is(value(samples, 'logistics_bridge_partner_calls_total', { partner: 'other' }), 500);
  assert.ok(samples.length < 400, `series stay few (${samples.length})`);
});

test('without a configured list, at most 64 well-formed partner ids become label values', async () => {
  const m = createMetrics();
  for (let i = 0; i < 200; i++) m.rateLimited(`p${i}`);
  m.rateLimited('Not A Partner Id!');
  const { samples } = await scrape(m);
  const partners = new Set(samples.filter((s) => s.name === 'logistics_bridge_partner_rate_limited_total').map((s) => s.labels.partner));
  assert.is(partners.size, 65);
  assert.ok(partners.has('other'));
  assert.is(value(samples, 'logistics_bridge_partner_rate_limited_total'), 201);
});

test('counters and histograms move when the recording functions are called', async () => {
  const now = new Date('2026-11-26T10:00:10Z');
  const m = createMetrics({ partners: ['wms', 'easypost'], now: () => now, slaSeconds: { wms: 0.5 } });
  m.eventsReceived('order.released', 'accepted', 3);
  m.eventsReceived('order.released', 'duplicate');
  m.partnerCall('wms', 'success', 0.2);
  m.partnerCall('wms', 'success', 0.9);
  m.partnerCall('wms', 'permanent', 0.1);
  m.partnerCall('easypost', 'retryable', 2);
  m.partnerCall('easypost', 'circuit_open', 0);
  m.rateLimited('easypost');
  m.rateLimitHeadroom('easypost', 25, 100);
  m.circuitState('easypost', 'open');
  m.deadLettered('business', 'invalid_address');
  m.orderRelease('wms', true);
  m.orderRelease('wms', false);
  m.labelRequest('easypost', false);
  m.firstPartnerRequest({ type: 'order.released', occurred_at: '2026-11-26T10:00:00Z' });
  m.milestonesWritten([
    { type: 'shipment.proof_of_delivery', occurred_at: '2026-11-26T10:00:07Z', aggregate: 'stock.picking:1' },
    { type: 'inventory.level', occurred_at: '2026-11-26T10:00:09Z', aggregate: 'inventory:WH' },
  ]);
  m.writebackRefused('states', 'conflict');
  m.writebackRefused('states', 'conflict');
  m.writebackRefused('milestones', 'permanent');
  const { samples: s } = await scrape(m);
  assert.is(value(s, 'logistics_bridge_writeback_refusals_total', { queue: 'states', refusal: 'conflict' }), 2);
  assert.is(value(s, 'logistics_bridge_writeback_refusals_total', { queue: 'milestones', refusal: 'permanent' }), 1);
  assert.is(value(s, 'logistics_bridge_events_received_total', { type: 'order.released', outcome: 'accepted' }), 3);
  assert.is(value(s, 'logistics_bridge_events_received_total', { outcome: 'duplicate' }), 1);
  assert.is(value(s, 'logistics_bridge_partner_calls_total', { partner: 'wms', outcome: 'success', error_class: 'none' }), 2);
  assert.is(value(s, 'logistics_bridge_partner_calls_total', { partner: 'wms', error_class: 'business' }), 1);
  assert.is(value(s, 'logistics_bridge_partner_calls_total', { partner: 'easypost', error_class: 'technical' }), 2);
  assert.is(value(s, 'logistics_bridge_partner_call_duration_seconds_count', { partner: 'wms' }), 3);
  assert.is(value(s, 'logistics_bridge_partner_call_duration_seconds_count', { partner: 'easypost' }), 1, 'a call the breaker refused took no time');
  assert.is(value(s, 'logistics_bridge_partner_calls_within_sla_total', { partner: 'wms' }), 1);
  assert.is(value(s, 'logistics_bridge_partner_rate_limited_total', { partner: 'easypost' }), 1);
  assert.is(value(s, 'logistics_bridge_partner_rate_limit_headroom_ratio', { partner: 'easypost' }), 0.25);
  assert.is(value(s, 'logistics_bridge_partner_circuit_state', { partner: 'easypost', state: 'open' }), 1);
  assert.is(value(s, 'logistics_bridge_partner_circuit_state', { partner: 'easypost', state: 'closed' }), 0);
  assert.is(value(s, 'logistics_bridge_dead_lettered_total', { error_class: 'business', reason: 'invalid_address' }), 1);
  assert.is(value(s, 'logistics_bridge_order_releases_total', { outcome: 'success' }), 1);
  assert.is(value(s, 'logistics_bridge_carrier_label_requests_total', { outcome: 'failed' }), 1);
  assert.is(value(s, 'logistics_bridge_commit_to_partner_seconds_sum', { type: 'order.released' }), 10);
  assert.is(value(s, 'logistics_bridge_pod_propagated_total'), 1);
  assert.is(value(s, 'logistics_bridge_pod_propagation_seconds_sum'), 3);
  assert.is(value(s, 'logistics_bridge_inventory_update_latency_seconds_sum'), 1);
  assert.is(value(s, 'logistics_bridge_writeback_milestones_total'), 2);
  const f = await m.figures();
  assert.is(f.order_release_success_rate, 0.5);
  assert.is(f.label_failures, 1);
  const wms = f.partners.find((p) => p.partner === 'wms')!;
  assert.equal([wms.calls, wms.success, wms.business_errors, wms.technical_errors, wms.within_sla], [3, 2, 1, 0, 0.5]);
  assert.is(f.partners.find((p) => p.partner === 'easypost')!.circuit, 'open');
});

test('store-derived gauges: events by state, dead letters by class, oldest pending, write-back backlog and lag', async () => {
  let now = new Date('2026-11-26T12:00:00Z');
  const store = createMemoryStore();
  await store.open();
  const m = createMetrics({ store, now: () => now });
  const [a, b, c, d] = [sampleEvent(), sampleEvent(), sampleEvent(), sampleEvent()];
  await store.ingest([a, b, c, d]);
  await store.setStatus(a.id, { state: 'dead', error_class: 'business', last_error: 'unknown SKU' });
  await store.setStatus(b.id, { state: 'manual', error_class: 'technical', last_error: 'no carrier' });
  await store.setStatus(c.id, { state: 'delivered' });
  await store.setStatus(d.id, { state: 'queued' });
  const received = Date.parse((await store.get(d.id))!.received_at);
  now = new Date(received + 90_000);
  const m1 = { type: 'shipment.delivered', occurred_at: now.toISOString(), aggregate: 'stock.picking:1' };
  await store.collection<any>(OUTBOX).put([
    { id: 'm1', milestone: m1, aggregate: 'x', seq: 1, attempts: 0, run_at: '', state: 'pending', created_at: new Date(now.getTime() - 42_000).toISOString(), updated_at: '' },
    { id: 'm2', milestone: m1, aggregate: 'x', seq: 2, attempts: 0, run_at: '', state: 'pending', created_at: new Date(now.getTime() - 5_000).toISOString(), updated_at: '' },
    { id: 'm3', milestone: m1, aggregate: 'x', seq: 3, attempts: 1, run_at: '', state: 'rejected', created_at: now.toISOString(), updated_at: '' },
  ]);
  await store.collection<any>(EVENT_STATES_OUTBOX).put([
    { id: 'ev-1', item: { id: 'ev-1', state: 'dead', attempts: 3, at: now.toISOString() }, aggregate: 'ev-1', seq: 1, attempts: 1, run_at: '', state: 'rejected', created_at: now.toISOString(), updated_at: '' },
    { id: 'ev-2', state: 'delivered', attempts: 1, at: now.toISOString() }, // stored by the previous version: the bare state
  ]);
  const { samples: s } = await scrape(m);
  assert.is(value(s, 'logistics_bridge_writeback_dead_letters', { queue: 'milestones' }), 1);
  assert.is(value(s, 'logistics_bridge_writeback_dead_letters', { queue: 'states' }), 1, 'an event state Odoo refused');
  assert.is(value(s, 'logistics_bridge_writeback_states_backlog'), 1);
  assert.is(value(s, 'logistics_bridge_events', { state: 'dead' }), 1);
  assert.is(value(s, 'logistics_bridge_events', { state: 'manual' }), 1);
  assert.is(value(s, 'logistics_bridge_events', { state: 'queued' }), 1);
  assert.is(value(s, 'logistics_bridge_events', { state: 'retrying' }), 0, 'every unfinished state is present, zero or not');
  assert.is(value(s, 'logistics_bridge_dead_letters', { error_class: 'business', state: 'dead' }), 3, 'the dead event, the milestone and the event state Odoo refused');
  assert.is(value(s, 'logistics_bridge_dead_letters', { error_class: 'technical', state: 'manual' }), 1);
  assert.is(value(s, 'logistics_bridge_oldest_pending_event_age_seconds'), 90);
  assert.is(value(s, 'logistics_bridge_writeback_backlog'), 2);
  assert.is(value(s, 'logistics_bridge_writeback_lag_seconds'), 42);
  await store.close();
});

test('milestone completeness: a shipment without its label past due is counted; a later status settles it', async () => {
  let now = new Date('2026-11-26T12:00:00Z');
  const store = createMemoryStore();
  await store.open();
  const m = createMetrics({ store, now: () => now });
  m.eventDelivered({ type: 'shipment.requested', aggregate: 'stock.picking:7' });
  m.eventDelivered({ type: 'shipment.requested', aggregate: 'stock.picking:8' });
  m.eventDelivered({ type: 'order.released', aggregate: 'stock.picking:9' });
  await new Promise((r) => setTimeout(r, 10));
  const missing = async (milestone: string) => value((await scrape(m)).samples, 'logistics_bridge_shipments_missing_milestone', { milestone });
  assert.is(await missing('label.created'), 0, 'not due yet');
  now = new Date(now.getTime() + 2 * 3_600_000);
  assert.is(await missing('label.created'), 2);
  assert.is(await missing('order.accepted'), 1);
  m.milestonesSeen([{ type: 'label.created', aggregate: 'stock.picking:7' }, { type: 'order.rejected', aggregate: 'stock.picking:9' }]);
  await new Promise((r) => setTimeout(r, 10));
  assert.is(await missing('label.created'), 1);
  assert.is(await missing('order.accepted'), 0, 'a rejection answers the release too');
  now = new Date(now.getTime() + 3 * 86_400_000);
  assert.is(await missing('shipment.in_transit'), 2);
  m.milestonesWritten([{ type: 'shipment.delivered', occurred_at: now.toISOString(), aggregate: 'stock.picking:8' }]);
  await new Promise((r) => setTimeout(r, 10));
  assert.is(await missing('shipment.in_transit'), 1, 'delivered implies in transit');
  assert.is(await missing('label.created'), 0);
  const log = await stateLogs(store).keyed<any>(EXPECTATIONS);
  const keys: string[] = [];
  for await (const k of log.keysStampedBefore(Infinity)) keys.push(k);
  assert.equal(keys, ['stock.picking:7'], 'one row per aggregate with open expectations, in a log beside the store');
  assert.equal(Object.keys((await log.get('stock.picking:7')).due).sort(), ['shipment.delivered', 'shipment.in_transit']);
  await store.close();
});

test('millisecond latencies resolve: partner calls and commit-to-partner have buckets from 5 ms', async () => {
  const m = createMetrics();
  for (const s of [0.004, 0.007, 0.008, 0.02]) m.partnerCall('wms', 'success', s);
  const occurred = new Date(Date.now() - 7);
  m.firstPartnerRequest({ type: 'shipment.requested', occurred_at: occurred.toISOString() }, new Date(occurred.getTime() + 7));
  const { samples } = await scrape(m);
  const bucket = (name: string, le: string) => value(samples, name, { le });
  assert.is(bucket('logistics_bridge_partner_call_duration_seconds_bucket', '0.005'), 1);
  assert.is(bucket('logistics_bridge_partner_call_duration_seconds_bucket', '0.01'), 3);
  assert.is(bucket('logistics_bridge_partner_call_duration_seconds_bucket', '0.025'), 4);
  const calls = samples.filter((s) => s.name === 'logistics_bridge_partner_call_duration_seconds_bucket').map((s) => ({ ...s, metricName: s.name }));
  assert.ok(quantile(calls, 0.5)! < 0.01, 'the median of 4-20 ms calls is under 10 ms');
  assert.is(bucket('logistics_bridge_commit_to_partner_seconds_bucket', '0.005'), 0);
  assert.is(bucket('logistics_bridge_commit_to_partner_seconds_bucket', '0.01'), 1);
});

test('quantile follows histogram_quantile: linear inside the bucket that holds the rank', () => {
  const b = (le: string, value: number) => ({ labels: { le }, value, metricName: 'x_bucket' });
  assert.is(quantile([b('1', 0), b('2', 10), b('+Inf', 10)], 0.5), 1.5);
  assert.is(quantile([b('1', 5), b('2', 10), b('+Inf', 10)], 0.95), 1.9);
  assert.is(quantile([b('1', 0), b('+Inf', 0)], 0.5), undefined);
});

test('GET /metrics answers the text format; with METRICS_TOKEN it needs that bearer token', async () => {
  const m = createMetrics();
  m.partnerCall('wms', 'success', 0.1);
  const open = metricsRoutes({ metrics: m });
  const r = await open.request('/metrics');
  assert.is(r.status, 200);
  assert.match(r.headers.get('content-type')!, /^text\/plain; version=0\.0\.4/);
  assert.match(await r.text(), /logistics_bridge_partner_calls_total\{partner="wms",outcome="success",error_class="none"\} 1/);
  const closed = metricsRoutes({ metrics: m, token: 'scrape-token-123' });
  assert.is((await closed.request('/metrics')).status, 401);
  assert.is((await closed.request('/metrics', { headers: { authorization: 'Bearer wrong-token-1234' } })).status, 401);
  assert.is((await closed.request('/metrics', { headers: { authorization: 'Bearer scrape-token-123' } })).status, 200);
});

test('GET /v1/overview gives Odoo its overview: counts by state and age, oldest pending, dead letters by class, write-back', async () => {
  const store = createMemoryStore();
  await store.open();
  const [a, b, c] = [sampleEvent(), sampleEvent(), sampleEvent()];
  await store.ingest([a, b, c]);
  await store.setStatus(a.id, { state: 'dead', error_class: 'business' });
  await store.setStatus(b.id, { state: 'retrying' });
  await store.setStatus(c.id, { state: 'delivered' });
  const received = Date.parse((await store.get(b.id))!.received_at);
  const now = new Date(received + 20 * 60_000);
  await store.collection<any>(OUTBOX).put([{ id: 'm1', milestone: {}, aggregate: 'x', seq: 1, attempts: 0, run_at: '', state: 'pending', created_at: new Date(now.getTime() - 30_000).toISOString(), updated_at: '' }]);
  const r = await overviewRoutes({ store, now: () => now }).request('/overview');
  assert.is(r.status, 200);
  const o = await r.json();
  assert.equal(o.by_state.retrying, { count: 1, age: { lt_1m: 0, lt_15m: 0, lt_1h: 1, lt_1d: 0, ge_1d: 0 } });
  assert.is(o.by_state.dead.count, 1);
  assert.is(o.by_state.delivered, undefined, 'finished events are not listed');
  assert.equal([o.oldest_pending.id, o.oldest_pending.state, o.oldest_pending.age_seconds], [b.id, 'retrying', 1200]);
  assert.equal(o.dead_letters, { business: 1, technical: 0 });
  assert.equal(o.writeback, { backlog: 1, lag_seconds: 30, states_backlog: 0, dead_letters: 0 });
  await store.close();
});

test.run();
