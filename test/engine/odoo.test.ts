/** Write-back to Odoo: both transports, timeouts, error classes, and the outbox's guarantees. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Milestone } from '../../shared/src/index.ts';
import { classifyOdooException, createOdooClient, OdooError } from '../../bridge/src/odoo/client.ts';
import { createWriteback } from '../../bridge/src/odoo/outbox.ts';
import { createMemoryStore } from '../../bridge/src/store/memory.ts';
import { loadFixtures } from '../helpers/fixtures.ts';
import { fakeOdoo } from './fake-odoo.ts';
import { event, fakeClock, harness, quietLogger, stableId } from './helpers.ts';

const transit = loadFixtures<Milestone>('milestones', 'valid').find(([n]) => n === 'shipment.in_transit')![1];
function milestones(n: number, aggregates = 3): Milestone[] {
  return Array.from({ length: n }, (_, i) => ({ ...structuredClone(transit), id: stableId('m', String(i)), aggregate: `stock.picking:${i % aggregates}` }));
}
const settings = (o: Record<string, unknown> = {}) => ({ url: 'http://odoo.test', db: 'lab', api_key: 'secret-key', login: 'bridge', timeout_ms: 200, ...o });

test('json2: POST /json/2/logistics.bridge.api/apply_milestones with a bearer key, the database header and named arguments', async () => {
  const odoo = fakeOdoo();
  const client = createOdooClient({ ...settings({ transport: 'json2' }), fetch: odoo.fetch });
  const ms = milestones(2);
  const r = await client.applyMilestones(ms);
  assert.equal(r.map((x) => x.status), ['applied', 'applied']);
  const req = odoo.requests[0];
  assert.is(req.url, 'http://odoo.test/json/2/logistics.bridge.api/apply_milestones');
  assert.is(req.headers.authorization, 'bearer secret-key');
  assert.is(req.headers['x-odoo-database'], 'lab');
  assert.equal(req.body, { milestones: ms });
});

test('jsonrpc: authenticates the integration user once, then execute_kw with positional arguments', async () => {
  const odoo = fakeOdoo();
  const client = createOdooClient({ ...settings({ transport: 'jsonrpc' }), fetch: odoo.fetch });
  await client.applyMilestones(milestones(1));
  await client.applyMilestones(milestones(2));
  const calls = odoo.requests.map((r) => `${r.body.params.service}.${r.body.params.method}`);
  assert.equal(calls, ['common.authenticate', 'object.execute_kw', 'object.execute_kw']);
  const args = odoo.requests[1].body.params.args;
  assert.equal(args.slice(0, 5), ['lab', 7, 'secret-key', 'logistics.bridge.api', 'apply_milestones']);
  assert.is(args[5][0].length, 1);
  assert.is(odoo.requests[1].body.jsonrpc, '2.0');
});

test('auto picks json2 on Odoo 19 and jsonrpc before', async () => {
  for (const [version, expected] of [[19, 'json2'], [17, 'jsonrpc']] as const) {
    const odoo = fakeOdoo({ version });
    const client = createOdooClient({ ...settings({ transport: 'auto' }), fetch: odoo.fetch });
    await client.applyMilestones(milestones(1));
    assert.is(client.transport(), expected);
    assert.is(odoo.applied.size, 1);
  }
});

test('a jsonrpc reply with the wrong id does not hang: the call times out as transient', async () => {
  const odoo = fakeOdoo();
  odoo.wrongId = true;
  const client = createOdooClient({ ...settings({ transport: 'jsonrpc', timeout_ms: 50 }), fetch: odoo.fetch });
  try {
    await client.applyMilestones(milestones(1));
    assert.unreachable();
  } catch (e) {
    assert.instance(e, OdooError);
    assert.is((e as OdooError).kind, 'transient');
    assert.match((e as Error).message, /within 50 ms/);
  }
});

test('errors are classified: refused key = auth, serialization failure and unreachable = transient', async () => {
  for (const transport of ['json2', 'jsonrpc'] as const) {
    const odoo = fakeOdoo();
    const client = createOdooClient({ ...settings({ transport }), fetch: odoo.fetch });
    odoo.conflicts = 1;
    await client.applyMilestones(milestones(1)).then(() => assert.unreachable(), (e) => assert.is(e.kind, 'transient', transport));
    odoo.down = true;
    await client.applyMilestones(milestones(1)).then(() => assert.unreachable(), (e) => assert.is(e.kind, 'transient', transport));
    odoo.down = false;
    odoo.key = 'rotated';
    await client.applyMilestones(milestones(1)).then(() => assert.unreachable(), (e) => assert.is(e.kind, 'auth', transport));
  }
});

function outbox(o: { batch_size?: number; max_in_flight?: number; target?: number; transport?: 'json2' | 'jsonrpc' } = {}) {
  const clock = fakeClock();
  const odoo = fakeOdoo({ advance: (ms) => clock.advance(ms) });
  const store = createMemoryStore({ now: clock.now });
  const client = createOdooClient({ ...settings({ transport: o.transport ?? 'json2' }), fetch: odoo.fetch });
  const wb = createWriteback({
    store, client, logger: quietLogger(), io: { now: clock.now, random: () => 0.5, setTimeout: clock.setTimeout, clearTimeout: clock.clearTimeout },
    settings: { url: 'http://odoo.test', db: 'lab', transport: 'json2', api_key: 'secret-key', api_key_env: 'ODOO_API_KEY', model: 'logistics.bridge.api', batch_size: o.batch_size ?? 10, max_in_flight: o.max_in_flight ?? 2, timeout_ms: 200, target_latency_ms: o.target ?? 1000 },
  });
  return { clock, odoo, store, wb };
}

test('batches keep per-aggregate order and write every milestone once', async () => {
  const { odoo, store, wb } = outbox({ batch_size: 10 });
  await store.open();
  wb.start();
  const ms = milestones(45, 4);
  await wb.enqueue(ms);
  await wb.enqueue(ms.slice(0, 5)); // queued twice: not stored twice
  await wb.runDue();
  assert.is(odoo.applied.size, 45);
  assert.ok([...odoo.applied.values()].every((n) => n === 1));
  for (let a = 0; a < 4; a++) {
    const expected = ms.filter((m) => m.aggregate === `stock.picking:${a}`).map((m) => m.id);
    assert.equal(odoo.order.filter((id) => expected.includes(id)), expected, `aggregate ${a} in order`);
  }
  assert.ok(odoo.batches.length < 45, `batched: ${odoo.batches.join(',')}`);
  assert.is(wb.status().pending, 0);
});

test('Odoo down: milestones wait, then drain after recovery, each written once', async () => {
  const { clock, odoo, store, wb } = outbox();
  await store.open();
  wb.start();
  odoo.down = true;
  await wb.enqueue(milestones(12));
  await wb.runDue();
  assert.is(odoo.applied.size, 0);
  assert.is(wb.status().odoo_down, true);
  assert.is(wb.status().pending, 12);
  const tries = odoo.requests.length;
  clock.advance(10);
  await wb.runDue();
  assert.is(odoo.requests.length, tries, 'waits its backoff, no storm');
  odoo.down = false;
  for (let i = 0; i < 20 && wb.status().pending; i++) {
    clock.advance(30_000);
    await wb.runDue();
  }
  assert.is(odoo.applied.size, 12);
  assert.ok([...odoo.applied.values()].every((n) => n === 1));
  assert.is(wb.status().odoo_down, false);
});

test('serialization conflicts are retried', async () => {
  const { clock, odoo, store, wb } = outbox({ transport: 'jsonrpc' });
  await store.open();
  wb.start();
  odoo.conflicts = 2;
  await wb.enqueue(milestones(3));
  for (let i = 0; i < 5; i++) {
    await wb.runDue();
    clock.advance(5_000);
  }
  assert.is(odoo.applied.size, 3);
  assert.is(odoo.conflicts, 0);
});

test('authentication refused: write-back pauses with an alert, probes rarely, resumes once the key works', async () => {
  const { clock, odoo, store, wb } = outbox();
  await store.open();
  wb.start();
  odoo.key = 'revoked';
  await wb.enqueue(milestones(20));
  await wb.runDue();
  assert.is(wb.status().auth_paused, true);
  assert.match(wb.status().alert ?? '', /ODOO_API_KEY/);
  const tries = odoo.requests.length;
  for (let i = 0; i < 10; i++) {
    clock.advance(5_000);
    await wb.runDue();
  }
  assert.is(odoo.requests.length, tries + 0, 'no retry storm within the probe interval');
  clock.advance(10_000);
  await wb.runDue();
  assert.is(odoo.requests.length, tries + 1, 'one probe after 60 s');
  odoo.key = 'secret-key';
  clock.advance(60_000);
  await wb.runDue();
  for (let i = 0; i < 5; i++) await wb.runDue();
  assert.is(wb.status().auth_paused, false);
  assert.is(wb.status().alert, undefined);
  assert.is(odoo.applied.size, 20);
});

test('an operator resume (POST /v1/odoo/resume) retries at once after the key was fixed', async () => {
  const { odoo, store, wb } = outbox();
  await store.open();
  wb.start();
  odoo.key = 'revoked';
  await wb.enqueue(milestones(5));
  await wb.runDue();
  assert.is(wb.status().auth_paused, true);
  odoo.key = 'secret-key';
  await wb.runDue();
  assert.is(odoo.applied.size, 0, 'still paused: no storm');
  wb.resume();
  await wb.runDue();
  assert.is(odoo.applied.size, 5);
  assert.is(wb.status().auth_paused, false);
});

test('a milestone Odoo rejects becomes a dead letter; replay sends it again, discard drops it', async () => {
  const { odoo, store, wb } = outbox();
  await store.open();
  wb.start();
  const ms = milestones(3);
  odoo.rejectIds.add(ms[1].id);
  await wb.enqueue(ms);
  await wb.runDue();
  assert.equal(wb.rejected().map((r) => [r.id, r.last_error]), [[ms[1].id, 'picking not found']]);
  odoo.rejectIds.clear();
  assert.ok(await wb.replay(ms[1].id));
  await wb.runDue();
  assert.is(odoo.applied.get(ms[1].id), 1);
  assert.is(wb.rejected().length, 0);
  odoo.rejectIds.add(ms[2].id);
  const more = milestones(4).slice(3);
  odoo.rejectIds.add(more[0].id);
  await wb.enqueue(more);
  await wb.runDue();
  assert.ok(await wb.discard(more[0].id));
  assert.is(wb.rejected().length, 0);
});

test('batch size adapts: grows while Odoo answers fast, halves when it is slow', async () => {
  const { odoo, store, wb, clock } = outbox({ batch_size: 100, target: 1000, max_in_flight: 1 });
  await store.open();
  wb.start();
  odoo.latency = () => 100;
  await wb.enqueue(milestones(300, 300));
  await wb.runDue();
  assert.equal(odoo.batches.slice(0, 4), [10, 20, 30, 40], 'additive increase');
  const grown = wb.status().batch_size;
  odoo.latency = (n) => n * 50; // slow
  await wb.enqueue(milestones(400, 300).slice(300));
  await wb.runDue();
  assert.ok(wb.status().batch_size < grown, `shrank from ${grown} to ${wb.status().batch_size}`);
  // while slow the writer also pauses between calls (pace.ts): the rest lands after those pauses
  for (let i = 0; i < 100 && odoo.applied.size < 400; i++) {
    clock.advance(1_000);
    await wb.runDue();
  }
  assert.is(odoo.applied.size, 400);
});

test('event delivery states reach Odoo (dead, delivered) for its screens; a method Odoo lacks turns the push off (both transports)', async () => {
  const clock = fakeClock();
  for (const [hasMethod, transport] of [[true, 'json2'], [false, 'json2'], [true, 'jsonrpc'], [false, 'jsonrpc']] as const) {
    const odoo = fakeOdoo();
    odoo.statesMethod = hasMethod;
    const client = createOdooClient({ ...settings({ transport }), fetch: odoo.fetch });
    const calls = () => odoo.requests.filter((r) => r.url.endsWith('/apply_event_states') || r.body?.params?.args?.[4] === 'apply_event_states').length;
    const h = await harness({ clock, odoo: client });
    h.partner('wms').script = ['refuse'];
    const dead = event('order.released', 'stock.picking:1200', 1);
    const ok = event('order.released', 'stock.picking:1201', 1);
    await h.publish(dead, ok);
    if (hasMethod) {
      assert.equal([odoo.states.get(dead.id)?.state, odoo.states.get(dead.id)?.error_class], ['dead', 'business'], transport);
      assert.is(odoo.states.get(ok.id)?.state, 'delivered', transport);
      assert.ok(odoo.stateResults.flat().every((r) => r.status === 'applied'), transport);
    } else {
      assert.is(calls(), 1, `${transport}: tried once, then off`);
      await h.publish(event('order.released', 'stock.picking:1202', 1));
      assert.is(calls(), 1, transport);
    }
  }
});

test('event states are pushed by one push at a time: concurrent runs of the writer send each state once, in batches', async () => {
  const odoo = fakeOdoo();
  // Odoo takes a moment to answer, so the writer's runs overlap as they do under load.
  const slow: typeof fetch = async (input, init) => { await new Promise((r) => setTimeout(r, 5)); return odoo.fetch(input, init); };
  const client = createOdooClient({ ...settings({ transport: 'json2' }), fetch: slow });
  const store = createMemoryStore();
  await store.open();
  const wb = createWriteback({
    store, client, logger: quietLogger(), io: { now: () => new Date(), random: () => 0.5, setTimeout: () => undefined },
    settings: { url: 'http://odoo.test', db: 'lab', transport: 'json2', api_key: 'secret-key', api_key_env: 'ODOO_API_KEY', model: 'logistics.bridge.api', batch_size: 100, max_in_flight: 2, timeout_ms: 1000, target_latency_ms: 1000 },
  });
  const evs = Array.from({ length: 50 }, (_, i) => event('order.released', `stock.picking:${1300 + i}`, 1));
  await store.ingest(evs);
  const runs: Promise<void>[] = [];
  for (const e of evs) {
    await wb.enqueueState({ id: e.id, state: 'delivered', attempts: 1 });
    runs.push(wb.runDue());
  }
  await Promise.all(runs);
  const sent = odoo.stateResults.flat();
  assert.is(new Set(sent.map((r) => r.id)).size, evs.length, 'every state reached Odoo');
  // Before, every run started its own push of the same first batch, in flight side by side.
  assert.ok(sent.length <= 2 * evs.length, `${sent.length} states sent for ${evs.length} events`);
  await store.close();
});

test('a batch of states Odoo refuses as a whole is split, the bad state is a dead letter, the others are shown, and the push stays on', async () => {
  const odoo = fakeOdoo();
  const client = createOdooClient({ ...settings({ transport: 'json2' }), fetch: odoo.fetch });
  const h = await harness({ odoo: client });
  const first = event('order.released', 'stock.picking:1210', 1);
  odoo.statesError = 'something in this batch is wrong';
  odoo.statesErrorFor = new Set([first.id]);
  await h.publish(first, event('order.released', 'stock.picking:1212', 1));
  assert.is(odoo.states.size, 1, 'the other state is shown');
  const [dl] = h.engine.deadLetters.list({ kind: 'writeback' }).items;
  assert.equal([dl?.id, dl?.event_id], [`writeback:state:${first.id}`, first.id], 'the refused state is a write-back dead letter');
  odoo.statesError = undefined;
  const second = event('order.released', 'stock.picking:1211', 1);
  await h.publish(second);
  assert.is(odoo.states.get(second.id)?.state, 'delivered', 'still pushing after a refused batch');
  await h.engine.deadLetters.replay(dl.id, { actor: 'test' });
  await h.engine.runDue();
  assert.ok(odoo.states.has(first.id), 'replayed after the fix');
  assert.is(h.engine.deadLetters.list({ kind: 'writeback' }).items.length, 0);
});

test('states of events Odoo does not know are answered unknown per item; the others are shown', async () => {
  const odoo = fakeOdoo();
  const client = createOdooClient({ ...settings({ transport: 'json2' }), fetch: odoo.fetch });
  const h = await harness({ odoo: client });
  const foreign = event('order.released', 'stock.picking:1220', 1);
  const known = event('order.released', 'stock.picking:1221', 1);
  odoo.unknownEvents.add(foreign.id);
  await h.publish(foreign, known);
  const answers = odoo.stateResults.flat();
  assert.ok(answers.some((r) => r.id === foreign.id && r.status === 'unknown'));
  assert.is(odoo.states.get(known.id)?.state, 'delivered');
  assert.not.ok(odoo.states.has(foreign.id));
  await h.publish(event('order.released', 'stock.picking:1222', 1));
  assert.ok(odoo.stateResults.length >= 2, 'the push stays on');
});

test('the fake Odoo keeps the addon contract: an older state never replaces a newer one, the same one is a duplicate', async () => {
  const odoo = fakeOdoo();
  const client = createOdooClient({ ...settings({ transport: 'json2' }), fetch: odoo.fetch });
  const id = stableId('ev', 'order');
  const delivered = { id, state: 'delivered', attempts: 2, at: '2026-11-26T12:00:00.900Z' };
  const retrying = { id, state: 'retrying', attempts: 1, last_error: '503', at: '2026-11-26T12:00:00.100Z' };
  const r = await client.call<{ status: string }[]>('apply_event_states', { states: [delivered, retrying, delivered, { id }] }, []);
  assert.equal(r.map((x) => x.status), ['applied', 'stale', 'duplicate', 'rejected']);
  assert.is(odoo.states.get(id).state, 'delivered');
});

test('a milestone Odoo rejects is an operator dead letter: listed, replayed with an edited payload (validated), audited', async () => {
  const odoo = fakeOdoo();
  const client = createOdooClient({ ...settings({ transport: 'json2' }), fetch: odoo.fetch });
  const h = await harness({ odoo: client });
  const s1 = event('shipment.requested', 'stock.picking:1300', 1);
  odoo.rejectIds.add(stableIdOf(s1));
  await h.publish(s1);
  const [dl] = h.engine.deadLetters.list({ kind: 'writeback' }).items;
  assert.is(dl.id, `writeback:${stableIdOf(s1)}`);
  assert.is(dl.last_error, 'picking not found');
  const payload = { ...(dl.body as any).payload, tracking_url: 'not a url' };
  await h.engine.deadLetters.replay(dl.id, { actor: 'ops', payload }).then(() => assert.unreachable(), (e) => assert.is(e.path, 'payload.tracking_url'));
  odoo.rejectIds.clear();
  const fixed = { ...(dl.body as any).payload, tracking_url: 'https://track.example.com/x' };
  await h.engine.deadLetters.replay(dl.id, { actor: 'ops', payload: fixed });
  await h.engine.runDue();
  assert.is(odoo.applied.get(stableIdOf(s1)), 1);
  assert.is(h.engine.deadLetters.list().items.length, 0);
  const [entry] = await h.engine.audit({ target: dl.id });
  assert.equal([entry.actor, (entry.after as any).tracking_url], ['ops', 'https://track.example.com/x']);
});
/** The fake carrier's label milestone id for an event (stable per partner and event). */
const stableIdOf = (e: { id: string }) => stableId('ups', e.id);

// Recorded exchanges of the real Odoo (scripts/odoo-record-fixtures.py writes test/fixtures/odoo/*.json as
// {transport, description, request: {method, url, headers, body}, response: {status, body}}), replayed
// through the client: same request shape out, same results (or the same error class) back.
const recorded = join(import.meta.dirname, '..', 'fixtures', 'odoo');
test('recorded Odoo exchanges replay through the client (nothing to replay until test/fixtures/odoo exists)', async () => {
  if (!existsSync(recorded)) return;
  assert.ok((await replayRecorded(recorded)) >= 3, 'test/fixtures/odoo holds the apply_milestones exchanges');
});

test('every error the real Odoo recorded is classified as the write-back needs it', () => {
  if (!existsSync(recorded)) return;
  let checked = 0;
  for (const f of readdirSync(recorded).filter((x) => /^json(2|rpc)-.*\.json$/.test(x))) {
    const fx = JSON.parse(readFileSync(join(recorded, f), 'utf8'));
    const err = fx.response.body?.error?.data ?? ((fx.response.status ?? 200) >= 400 ? fx.response.body : undefined);
    if (!err) continue;
    const kind = classifyOdooException(err.name, String(err.message ?? ''), fx.response.status >= 400 ? fx.response.status : undefined);
    if (/AccessDenied|AccessError|Unauthorized/.test(err.name ?? '')) assert.is(kind, 'auth', f);
    else assert.is.not(kind, 'auth', f);
    checked += 1;
  }
  assert.ok(checked >= 3, `only ${checked} recorded errors`);
});

test('the replayer itself: exchanges in the recorder format replay (a batch on each transport, a refused key)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'odoo-fx-'));
  const ms = milestones(2);
  const results = [{ id: ms[0].id, status: 'applied', message: '' }, { id: ms[1].id, status: 'rejected', message: 'picking not found' }];
  writeFileSync(join(dir, 'json2.json'), JSON.stringify({
    transport: 'json2', description: 'batch', request: { method: 'POST', url: 'http://127.0.0.1:8069/json/2/logistics.bridge.api/apply_milestones', headers: {}, body: { milestones: ms } },
    response: { status: 200, body: results },
  }));
  writeFileSync(join(dir, 'jsonrpc.json'), JSON.stringify({
    transport: 'jsonrpc', description: 'batch', request: { method: 'POST', url: 'http://127.0.0.1:8069/jsonrpc', headers: {}, body: { jsonrpc: '2.0', method: 'call', id: 99, params: { service: 'object', method: 'execute_kw', args: ['lab', 7, '<key>', 'logistics.bridge.api', 'apply_milestones', [ms]] } } },
    response: { status: 200, body: { jsonrpc: '2.0', id: 99, result: results } },
  }));
  writeFileSync(join(dir, 'denied.json'), JSON.stringify({
    transport: 'json2', description: 'revoked key', request: { method: 'POST', url: 'http://127.0.0.1:8069/json/2/logistics.bridge.api/apply_milestones', headers: {}, body: { milestones: ms } },
    response: { status: 401, body: { name: 'werkzeug.exceptions.Unauthorized', message: 'Invalid apikey' } },
  }));
  assert.is(await replayRecorded(dir), 3);
});

async function replayRecorded(dir: string): Promise<number> {
  const recorded = dir;
  let replayed = 0;
  for (const f of readdirSync(recorded).filter((x) => x.endsWith('.json'))) {
    const fx = JSON.parse(readFileSync(join(recorded, f), 'utf8'));
    const url: string = fx?.request?.url ?? '';
    const json2 = /\/json\/2\/logistics\.bridge\.api\/apply_milestones$/.test(url);
    const args = fx?.request?.body?.params?.args;
    const rpc = url.endsWith('/jsonrpc') && fx.request.body?.params?.method === 'execute_kw' && args?.[4] === 'apply_milestones';
    if (!json2 && !rpc) continue;
    const input: unknown[] = json2 ? fx.request.body.milestones : args[5][0];
    const sent: any[] = [];
    const fetch = (async (_u: string, init: RequestInit) => {
      const body = JSON.parse(String(init.body));
      sent.push(body);
      if (rpc && body.params?.service === 'common') return new Response(JSON.stringify({ jsonrpc: '2.0', id: body.id, result: args[1] }));
      const answer = rpc ? { ...fx.response.body, id: body.id } : fx.response.body;
      return new Response(typeof answer === 'string' ? answer : JSON.stringify(answer), { status: fx.response.status ?? 200 });
    }) as unknown as typeof globalThis.fetch;
    const client = createOdooClient({ ...settings({ transport: json2 ? 'json2' : 'jsonrpc' }), fetch });
    const expected = json2 ? fx.response.body : fx.response.body?.result;
    try {
      const r = await client.applyMilestones(input as Milestone[]);
      assert.equal(r, expected, `${f}: results as recorded`);
    } catch (e) {
      assert.instance(e, OdooError, f);
      assert.ok((fx.response.status ?? 200) >= 400 || fx.response.body?.error, `${f}: failed although Odoo answered ${fx.response.status}`);
      const name = fx.response.body?.error?.data?.name ?? fx.response.body?.name ?? '';
      if (fx.response.status === 401 || /AccessDenied|AccessError/.test(name)) assert.is((e as OdooError).kind, 'auth', `${f}: a refused key pauses write-back`);
    }
    const out = sent.at(-1);
    if (json2) assert.equal(out, { milestones: input }, `${f}: same request body`);
    else assert.equal(out.params.args.slice(3), args.slice(3), `${f}: same execute_kw arguments`);
    replayed += 1;
  }
  return replayed;
}

test.run();
