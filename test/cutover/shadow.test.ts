/**
 * Shadow (dual-run) validation against a recorded legacy feed (test/fixtures/shadow/easypost-legacy.jsonl:
 * what an old EasyPost integration logged for WH/OUT/00101..00103): the EasyPost adapter's requests
 * are built against the in-process simulator and compared, nothing is sent anywhere.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { runCli } from '../../bridge/src/cli.ts';
import { shadowReports } from '../../bridge/src/cutover/shadow-reports.ts';
import { shadowRoutes } from '../../bridge/src/routes/shadow.ts';
import { createMemoryStore } from '../../bridge/src/store/memory.ts';
import { ADMIN, observedBridge } from '../observability/helpers.ts';
import { join } from 'node:path';
import { adapterRegistry } from '../../bridge/src/adapters/registry.ts';
import { parseConfig } from '../../bridge/src/config/load.ts';
import { diffBodies, normalPath, parseLegacyFeed, shadowRun } from '../../bridge/src/cutover/shadow.ts';
import type { Event } from '../../shared/src/index.ts';
import { loadFixtures } from '../helpers/fixtures.ts';

const ship = loadFixtures<Event>('events', 'valid').find(([n]) => n === 'shipment.requested')![1];
const config = parseConfig({
  partners: [{
    id: 'easypost', adapter: 'easypost', role: 'carrier', base_url: 'https://api.easypost.com/v2', credentials: { api_key: { env: 'K' } },
    options: { service_map: { GROUND: { carrier: 'USPS', service: 'GroundAdvantage' } } },
  }],
  routes: [{ events: ['shipment.requested'], partners: ['easypost'] }],
}, { K: 'EZTKshadow' });
const shipment = (ref: string, i: number) => ({
  ...structuredClone(ship), id: `00000000-0000-4000-8000-0000000001${String(i).padStart(2, '0')}`, aggregate: `stock.picking:${101 + i}`,
  payload: { ...structuredClone(ship.payload), shipment_ref: ref },
}) as Event;
const legacy = parseLegacyFeed(readFileSync(join(import.meta.dirname, '../fixtures/shadow/easypost-legacy.jsonl'), 'utf8'));

test('a shadow run shows matches, field differences and requests only one side sent; nothing leaves the process', async () => {
  const realFetch = globalThis.fetch;
  let escaped = 0;
  globalThis.fetch = (async () => { escaped++; throw new Error('a shadow run must not send'); }) as typeof fetch;
  try {
    const events = ['WH/OUT/00101', 'WH/OUT/00102', 'WH/OUT/00104'].map(shipment);
    // The rate id is chosen by the carrier on each run: ignored, as an operator would.
    const r = await shadowRun({ config, registry: adapterRegistry, partnerId: 'easypost', events, legacy, ignore: ['rate.id'] });
    assert.equal(r.counts, { match: 1, differ: 1, only_bridge: 1, only_legacy: 1, refused: 0 });
    const by = Object.fromEntries(r.items.map((i) => [i.ref, i]));
    assert.is(by['WH/OUT/00101'].outcome, 'match');
    assert.equal(by['WH/OUT/00101'].requests.map((q) => [q.bridge?.method, q.bridge?.path]), [['POST', '/shipments'], ['POST', '/shipments/:id/buy']]);
    assert.is(by['WH/OUT/00102'].outcome, 'differ');
    assert.equal(by['WH/OUT/00102'].requests[0].differences, [
      { path: 'shipment.parcel.weight', bridge: 440.92, legacy: 441 },
      { path: 'shipment.to_address.phone', bridge: '(603)-996-3829' },
    ]);
    assert.equal(by['WH/OUT/00102'].requests[1].differences, [], 'the buy is the same once the rate id is ignored');
    assert.is(by['WH/OUT/00103'].outcome, 'only_legacy', 'the legacy shipped something the bridge has no event for');
    assert.is(by['WH/OUT/00104'].outcome, 'only_bridge');
    assert.is(escaped, 0);
  } finally {
    globalThis.fetch = realFetch;
  }
});

test('without the ignore rule the carrier-chosen rate id shows as a difference', async () => {
  const r = await shadowRun({ config, registry: adapterRegistry, partnerId: 'easypost', events: [shipment('WH/OUT/00101', 0)], legacy });
  const item = r.items.find((i) => i.ref === 'WH/OUT/00101')!;
  assert.is(item.outcome, 'differ');
  assert.equal(item.requests[1].differences.map((d) => d.path), ['rate.id']);
});

test('shadow helpers: ids in paths, wildcard ignores, bad feed lines and unknown partners are named', async () => {
  assert.is(normalPath('/v2/shipments/shp_123abc/buy?x=1', '/v2'), '/shipments/:id/buy');
  assert.equal(diffBodies({ a: { b: 1, c: 2 } }, { a: { b: 1, c: 3 } }, ['a.*']), []);
  assert.equal(diffBodies({ a: [1, 2] }, { a: [1] }), [{ path: 'a.1', bridge: 2 }]);
  assert.throws(() => parseLegacyFeed('{"ref":"x","method":"POST","path":"/a"}\nnot json'), /line 2: not JSON/);
  assert.throws(() => parseLegacyFeed('{"ref":"x"}'), /line 1: needs "ref", "method" and "path"/);
  await shadowRun({ config, registry: adapterRegistry, partnerId: 'nope', events: [], legacy: [] }).then(() => assert.unreachable(), (e) => assert.match(e.message, /no partner "nope".*easypost/));
});

test('npm run cli -- shadow: a summary naming each difference, exit 1; bad input exits 2 naming the line', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'olb-shadow-'));
  try {
    writeFileSync(join(dir, 'bridge.json'), JSON.stringify({
      partners: [{ id: 'easypost', adapter: 'easypost', role: 'carrier', base_url: 'https://api.easypost.com/v2', credentials: { api_key: { env: 'K' } }, options: { service_map: { GROUND: { carrier: 'USPS', service: 'GroundAdvantage' } } } }],
      routes: [{ events: ['shipment.requested'], partners: ['easypost'] }],
    }));
    writeFileSync(join(dir, 'events.jsonl'), ['WH/OUT/00101', 'WH/OUT/00102'].map((r, i) => JSON.stringify({ event: shipment(r, i) })).join('\n'));
    const out: string[] = [];
    const err: string[] = [];
    const io = { env: { K: 'EZTKshadow' }, fetch: globalThis.fetch, out: (l: string) => out.push(l), err: (l: string) => err.push(l) };
    const args = ['shadow', '--config', join(dir, 'bridge.json'), '--partner', 'easypost', '--events', join(dir, 'events.jsonl'), '--legacy', join(import.meta.dirname, '../fixtures/shadow/easypost-legacy.jsonl'), '--ignore', 'rate.id'];
    assert.is(await runCli(args, io), 1, err.join('\n'));
    assert.match(out[0], /shadow easypost: 1 match, 1 differ, 0 only the bridge, 1 only the legacy, 0 refused/);
    assert.ok(out.some((l) => /WH\/OUT\/00102\s+differ/.test(l)));
    assert.ok(out.some((l) => /shipment\.parcel\.weight: bridge 440\.92 legacy 441/.test(l)));
    writeFileSync(join(dir, 'bad.jsonl'), '{"id": "x"}\n');
    assert.is(await runCli([...args.slice(0, 5), '--events', join(dir, 'bad.jsonl'), ...args.slice(7)], io), 2);
    assert.match(err.at(-1)!, /bad\.jsonl line 1: /);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a shadow run over the stored events, from the operator API, shown on the dashboard Cutover page', async () => {
  const store = createMemoryStore();
  await store.open();
  await store.ingest(['WH/OUT/00101', 'WH/OUT/00102'].map(shipment));
  const reports = shadowReports({ store, config, registry: adapterRegistry });
  const api = shadowRoutes({ reports });
  const legacyText = readFileSync(join(import.meta.dirname, '../fixtures/shadow/easypost-legacy.jsonl'), 'utf8');
  const post = (body: unknown) => api.request('/shadow', { method: 'POST', headers: { 'content-type': 'application/json', 'x-operator': 'ops' }, body: JSON.stringify(body) });
  const bad = await post({ partner: 'easypost', since: 'yesterday', legacy: legacyText });
  assert.is(bad.status, 400);
  assert.match((await bad.json()).error.message, /since must be an RFC 3339/);
  const res = await post({ partner: 'easypost', since: '2026-01-01T00:00:00Z', until: '2027-01-01T00:00:00Z', legacy: legacyText, ignore: ['rate.id'] });
  assert.is(res.status, 200);
  const report = await res.json();
  assert.equal(report.counts, { match: 1, differ: 1, only_bridge: 0, only_legacy: 1, refused: 0 });
  assert.is(report.actor, 'ops');
  assert.equal((await (await api.request('/shadow')).json()).items.map((r: { id: string }) => r.id), [report.id]);
  const b = await observedBridge({ store, dashboard: { shadow: reports } });
  try {
    const login = await fetch(`${b.url}/dashboard/login`, { method: 'POST', body: new URLSearchParams({ name: 'ops', token: ADMIN }), redirect: 'manual' });
    const cookie = login.headers.get('set-cookie')!.split(';')[0];
    const list = await (await fetch(`${b.url}/dashboard/shadow`, { headers: { cookie } })).text();
    assert.match(list, /Cutover: shadow runs/);
    assert.ok(list.includes(`/dashboard/shadow/${report.id}`));
    const one = await (await fetch(`${b.url}/dashboard/shadow/${report.id}`, { headers: { cookie } })).text();
    assert.match(one, /WH\/OUT\/00102/);
    assert.match(one, /shipment\.parcel\.weight/);
    assert.match(one, /440\.92/);
    assert.match(one, /only_legacy/);
  } finally {
    await b.close();
  }
});

test.run();
