/**
 * Replays the exchanges recorded from the real Odoo 19 (test/fixtures/odoo, written by
 * scripts/odoo-record-fixtures.py): CI has no Odoo, so this is where the two halves meet.
 * - websocket: every event Odoo really produced passes the bridge's contract; the bridge's
 *   recorded answers have the events.publish shape the addon's dispatcher reads.
 * - json2 / jsonrpc: the write-back API answers one result per milestone, in order, with the
 *   documented statuses, and the bridge's Odoo client reads those answers (and classifies the
 *   recorded failures) the way it must.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkEvent, checkMilestone } from '../shared/src/index.ts';
import { createOdooClient, OdooError } from '../bridge/src/odoo/client.ts';
import { createWriteback, methodMissing } from '../bridge/src/odoo/outbox.ts';
import { createMemoryStore } from '../bridge/src/store/memory.ts';
import { createLogger } from '../bridge/src/log.ts';

interface Recorded {
  transport: 'websocket' | 'json2' | 'jsonrpc';
  description: string;
  request: { method: string; url: string; headers: Record<string, string>; body: any };
  response: { status: number; body: any };
}

const DIR = join(import.meta.dirname, 'fixtures', 'odoo');
const fixtures: [string, Recorded][] = existsSync(DIR)
  ? readdirSync(DIR).filter((f) => f.endsWith('.json')).sort().map((f) => [f, JSON.parse(readFileSync(join(DIR, f), 'utf8')) as Recorded])
  : [];
const byName = (name: string) => fixtures.find(([f]) => f === `${name}.json`)?.[1];
const STATUSES = ['applied', 'duplicate', 'stale', 'rejected'];

/** A fetch that answers with the recorded responses, in order, and keeps what it was asked. */
function replay(...recorded: Recorded[]) {
  const asked: { url: string; headers: Record<string, string>; body: any }[] = [];
  const fetch = (async (url: string, init: RequestInit) => {
    asked.push({ url: String(url), headers: Object.fromEntries(Object.entries(init.headers ?? {})), body: JSON.parse(String(init.body)) });
    const fx = recorded[Math.min(asked.length - 1, recorded.length - 1)];
    const body = structuredClone(fx.response.body);
    // JSON-RPC ids are per-request bookkeeping: answer with the id the client used, as Odoo does.
    const id = asked[asked.length - 1].body?.id;
    if (fx.transport === 'jsonrpc' && body && typeof body === 'object' && id !== undefined) body.id = id;
    return new Response(JSON.stringify(body), { status: fx.response.status, headers: { 'content-type': 'application/json' } });
  }) as unknown as typeof globalThis.fetch;
  return { fetch, asked };
}
const client = (transport: 'json2' | 'jsonrpc', fetch: typeof globalThis.fetch) =>
  createOdooClient({ url: 'http://127.0.0.1:8069', db: 'lab', transport, login: 'logistics_bridge', api_key: 'recorded-key', timeout_ms: 2000, fetch });

test('fixtures were recorded (scripts/odoo-record-fixtures.py) and carry no secret', () => {
  assert.ok(fixtures.length >= 10, `expected recorded fixtures in ${DIR}`);
  for (const [f, fx] of fixtures) {
    assert.ok(['websocket', 'json2', 'jsonrpc'].includes(fx.transport), f);
    const auth = fx.request.headers.Authorization ?? fx.request.headers.authorization;
    if (auth) assert.match(auth, /<[^>]+>$/, `${f}: the recorded Authorization header must be a placeholder`);
    if (fx.transport === 'jsonrpc' && fx.request.body.params?.service === 'object') {
      const key = fx.request.body.params.args[2];
      assert.ok(key === 'wrong-key' || /^<.*>$/.test(key), `${f}: the API key must be a placeholder`);
    }
  }
});

test('every event the real Odoo produced passes the contract; the refused one fails at the recorded path', () => {
  const ws = fixtures.filter(([, fx]) => fx.transport === 'websocket');
  const types = new Set<string>();
  for (const [f, fx] of ws) {
    assert.is(fx.request.body.method, 'events.publish', f);
    const answer = fx.response.body.result;
    assert.ok(answer && Array.isArray(answer.accepted) && Array.isArray(answer.duplicates) && Array.isArray(answer.rejected), f);
    for (const event of fx.request.body.params.events) {
      const checked = checkEvent(event);
      const refused = answer.rejected.find((r: { id: string }) => r.id === event.id);
      if (refused) {
        assert.not.ok(checked.ok, `${f}: the bridge refused ${event.id}, the contract must too`);
        if (!checked.ok) assert.is(checked.problem.path, refused.path, f);
      } else {
        assert.ok(checked.ok, `${f}: ${checked.ok ? '' : `${checked.problem.path}: ${checked.problem.message}`}`);
        assert.ok(answer.accepted.includes(event.id) || answer.duplicates.includes(event.id), f);
        types.add(event.type);
      }
    }
  }
  assert.equal([...types].sort(), ['order.cancelled', 'order.released', 'return.requested', 'shipment.cancelled', 'shipment.requested']);
});

test('write-back answers: one result per milestone, same order, documented statuses', () => {
  for (const [f, fx] of fixtures) {
    if (fx.response.status !== 200) continue;
    const input = fx.transport === 'json2' ? (fx.request.body.milestones ?? fx.request.body.levels) : fx.request.body.params?.args?.[4] === 'apply_milestones' ? fx.request.body.params.args[5][0] : undefined;
    if (!Array.isArray(input)) continue;
    const results = fx.transport === 'json2' ? fx.response.body : fx.response.body.result;
    if (!Array.isArray(results)) continue; // an error answer (bad key), covered below
    assert.is(results.length, input.length, f);
    results.forEach((r: { id: string; status: string; message: string }, i: number) => {
      assert.is(r.id, input[i].id, f);
      assert.ok(STATUSES.includes(r.status), `${f}: ${r.status}`);
      const checked = checkMilestone(input[i]);
      // what the contract refuses, Odoo refuses too
      if (!checked.ok) assert.is(r.status, 'rejected', `${f}: ${input[i].id}`);
    });
  }
  const mixed = byName('json2-apply-milestones-mixed');
  assert.ok(mixed, 'json2-apply-milestones-mixed.json');
  assert.equal(mixed!.response.body.map((r: { status: string }) => r.status), ['duplicate', 'stale', 'rejected', 'rejected', 'applied']);
});

test('json2: the bridge client reads the recorded answers', async () => {
  for (const name of ['json2-apply-milestones-applied', 'json2-apply-milestones-mixed']) {
    const fx = byName(name)!;
    const { fetch, asked } = replay(fx);
    const results = await client('json2', fetch).applyMilestones(fx.request.body.milestones);
    assert.equal(results, fx.response.body, name);
    assert.is(new URL(asked[0].url).pathname, fx.request.url, name);
    assert.equal(asked[0].body, fx.request.body, name);
  }
});

test('json2: the recorded 401 of a wrong key is an auth error (write-back pauses, no retry storm)', async () => {
  const fx = byName('json2-bad-api-key')!;
  assert.is(fx.response.status, 401);
  try {
    await client('json2', replay(fx).fetch).applyMilestones(fx.request.body.milestones);
    assert.unreachable('should have thrown');
  } catch (e) {
    assert.instance(e, OdooError);
    assert.is((e as OdooError).kind, 'auth');
  }
});

test('jsonrpc: authenticate then execute_kw, as recorded', async () => {
  const auth = byName('jsonrpc-authenticate')!;
  const call = byName('jsonrpc-execute-kw-apply-milestones')!;
  const { fetch, asked } = replay(auth, call);
  const milestones = call.request.body.params.args[5][0];
  const results = await client('jsonrpc', fetch).applyMilestones(milestones);
  assert.equal(results, call.response.body.result);
  assert.equal(asked.map((a) => `${a.body.params.service}.${a.body.params.method}`), ['common.authenticate', 'object.execute_kw']);
  assert.equal(asked[1].body.params.args.slice(3, 5), ['logistics.bridge.api', 'apply_milestones']);
});

test('jsonrpc: recorded AccessDenied (wrong key) and AccessError (missing right) are auth errors', async () => {
  const auth = byName('jsonrpc-authenticate')!;
  for (const name of ['jsonrpc-execute-kw-bad-key', 'jsonrpc-execute-kw-access-error']) {
    const fx = byName(name)!;
    assert.ok(fx.response.body.error, name);
    try {
      await client('jsonrpc', replay(auth, fx).fetch).call('apply_milestones', {}, [[]]);
      assert.unreachable('should have thrown');
    } catch (e) {
      assert.instance(e, OdooError, name);
      assert.is((e as OdooError).kind, 'auth', name);
    }
  }
});

test('event states: one result per item, in order, each documented status as the real Odoo answered it', () => {
  const fx = byName('json2-apply-event-states')!;
  const states = fx.request.body.states;
  const results = fx.response.body as { id: string; status: string; message: string }[];
  assert.is(results.length, states.length);
  results.forEach((r, i) => assert.is(r.id, states[i].id));
  assert.equal(results.map((r) => r.status), ['applied', 'applied', 'duplicate', 'stale', 'unknown', 'rejected']);
  assert.match(results[5].message, /\/state/);
  const rpc = byName('jsonrpc-execute-kw-apply-event-states')!;
  assert.equal(rpc.response.body.result.map((r: { status: string }) => r.status), ['applied']);
});

test('the bridge client sends event states as recorded and reads the answers (json2 and jsonrpc)', async () => {
  const fx = byName('json2-apply-event-states')!;
  const { fetch, asked } = replay(fx);
  const states = fx.request.body.states;
  assert.equal(await client('json2', fetch).call('apply_event_states', { states }, [states]), fx.response.body);
  assert.equal(asked[0].body, fx.request.body);
  assert.is(new URL(asked[0].url).pathname, fx.request.url);
  const auth = byName('jsonrpc-authenticate')!;
  const rpc = byName('jsonrpc-execute-kw-apply-event-states')!;
  const replayed = replay(auth, rpc);
  const rpcStates = rpc.request.body.params.args[5][0];
  assert.equal(await client('jsonrpc', replayed.fetch).call('apply_event_states', { states: rpcStates }, [rpcStates]), rpc.response.body.result);
  assert.equal(replayed.asked[1].body.params.args.slice(3), rpc.request.body.params.args.slice(3));
});

test('only a method Odoo really lacks (recorded 404 / AttributeError) reads as missing; other refusals do not', async () => {
  const auth = byName('jsonrpc-authenticate')!;
  const cases: [string, 'json2' | 'jsonrpc', Recorded[], boolean][] = [
    ['json2-unknown-method', 'json2', [byName('json2-unknown-method')!], true],
    ['jsonrpc-execute-kw-unknown-method', 'jsonrpc', [auth, byName('jsonrpc-execute-kw-unknown-method')!], true],
    ['jsonrpc-execute-kw-access-error', 'jsonrpc', [auth, byName('jsonrpc-execute-kw-access-error')!], false],
    ['json2-bad-api-key', 'json2', [byName('json2-bad-api-key')!], false],
  ];
  for (const [name, transport, fxs, missing] of cases) {
    try {
      await client(transport, replay(...fxs).fetch).call('apply_event_states', { states: [] }, [[]]);
      assert.unreachable(name);
    } catch (e) {
      assert.instance(e, OdooError, name);
      assert.is(methodMissing(e as OdooError), missing, name);
    }
  }
});

test("the write-back keeps pushing states against the real Odoo's answers, and stops only on a missing method", async () => {
  for (const [name, on] of [['json2-apply-event-states', true], ['json2-unknown-method', false]] as const) {
    const store = createMemoryStore();
    await store.open();
    const wb = createWriteback({
      store, client: client('json2', replay(byName(name)!).fetch), logger: createLogger({ level: 'silent' }),
      io: { now: () => new Date('2026-11-26T12:00:00Z'), random: () => 0.5, setTimeout: () => 0 },
    });
    await wb.enqueueState({ id: byName('json2-apply-event-states')!.request.body.states[0].id, state: 'delivered', attempts: 1 });
    await wb.runDue();
    await wb.enqueueState({ id: 'second', state: 'delivered', attempts: 1 });
    const queued = store.collection('odoo_event_states').all().length;
    assert.is(queued, on ? 1 : 0, `${name}: ${on ? 'still queuing states' : 'push off'}`);
    await store.close();
  }
});

test.run();
