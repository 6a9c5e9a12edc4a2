/**
 * Fault suite with real processes: a bridge child process (embedded store on disk, or PostgreSQL
 * holding the events and the engine's state, real EasyPost adapter) delivers shipments to the EasyPost simulator, which counts its effects, while this
 * process injects partner 500s, timeouts, 429 with Retry-After, a 400-class refusal, lost
 * responses, duplicate publishing (sequential and concurrent), Odoo unreachable during
 * write-back, and SIGKILLs the bridge 20 times, each time right after the partner acted and
 * before the bridge heard the answer. Ends with exactly one label per event and every milestone
 * once in Odoo.
 *
 * No wall-clock races: kills happen at request counts, faults are per request, and the suite
 * waits for the child's own DONE line (bounded by a generous guard timeout).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { bundleFaultChild } from '../helpers/crash-storm.ts';
import { Hono } from 'hono';
import { serve } from '@hono/node-server';
import { createEasyPostSim } from '../../bridge/src/simulators/easypost/app.ts';
import { createEmbeddedStore } from '../../bridge/src/store/embedded.ts';
import { createPostgresStore } from '../../bridge/src/store/postgres.ts';
import type { Store } from '../../bridge/src/store/types.ts';
import { postgresForTests } from '../helpers/postgres.ts';
import pg_ from 'pg';
import { AGGREGATES, AUDIT, JOBS } from '../../bridge/src/core/jobs.ts';
import type { Event } from '../../shared/src/index.ts';
import { fakeOdoo } from './fake-odoo.ts';
import { event } from './helpers.ts';

const KILLS = 20;

/** Where the child keeps its events and state: `env` for the child, and the store to check afterwards. */
interface Backing { env: Record<string, string>; store: (dataDir: string) => Store }

/**
 * Runs the bridge child until it finishes by itself, injecting the faults and kills, then checks
 * one effect per event at the partner, every event finished in the store, every milestone once in
 * Odoo. Resolves with the child's data folder (removed by the caller).
 */
async function faultScenario(backing: Backing): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'bridge-fault-'));
  const sim = createEasyPostSim({ apiKey: 'ep-test-key' });
  const odoo = fakeOdoo({ key: 'odoo-test-key' });
  let odooDown = true;
  let child: ChildProcess | undefined;
  let kills = 0;
  let epRequests = 0;
  const exited = new Map<ChildProcess, Promise<number | null>>();

  // Faults by request number to the carrier; kills by request number (after the partner acted).
  const faults: Record<number, string> = { 1: '500', 2: 'timeout=5000', 4: '429=1', 6: 'drop-response', 8: '503', 11: '502', 13: 'timeout=5000' };
  // From request 15 on, every other successful request kills the bridge until 20 kills; there is
  // more work than that (30 events, 2 effectful requests each), so all 20 happen mid-delivery.
  const killNow = (n: number) => kills < KILLS && n >= 15 && n % 2 === 1;

  const outer = new Hono();
  outer.all('/ep/*', async (c) => {
    const n = ++epRequests;
    const url = new URL(c.req.url);
    const headers = new Headers(c.req.raw.headers);
    if (faults[n]) headers.set('x-sim-fault', faults[n]);
    const req = new Request(`${url.origin}${url.pathname.slice(3)}${url.search}`, {
      method: c.req.method, headers, body: ['GET', 'HEAD'].includes(c.req.method) ? undefined : await c.req.arrayBuffer(), signal: c.req.raw.signal,
    });
    const res = await sim.app.fetch(req, c.env);
    if (killNow(n) && child && res.status < 300 && child.exitCode === null && !child.killed) {
      // The partner acted; the bridge dies before it hears the answer.
      const dying = child;
      dying.kill('SIGKILL');
      kills += 1;
      await exited.get(dying);
    }
    return res;
  });
  outer.all('/odoo/*', async (c) => {
    if (odooDown) {
      (c.env as { incoming?: { socket?: { destroy(): void } } }).incoming?.socket?.destroy();
      return new Response(null, { status: 503 });
    }
    const url = new URL(c.req.url);
    return odoo.fetch(`${url.origin}${url.pathname.slice(5)}`, { method: c.req.method, headers: Object.fromEntries(c.req.raw.headers), body: await c.req.text() });
  });
  const server = serve({ fetch: outer.fetch, port: 0, hostname: '127.0.0.1' });
  await new Promise((r) => server.once('listening', r));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const configPath = join(dir, 'bridge.json');
  writeFileSync(configPath, JSON.stringify({
    partners: [{
      id: 'ep', adapter: 'easypost', role: 'carrier', base_url: `${origin}/ep/v2`, credentials: { api_key: { env: 'EP_KEY' } },
      options: { service_map: { GROUND: { carrier: 'USPS', service: 'GroundAdvantage' } } },
      limits: { concurrency: 3, timeout_ms: 400, max_attempts: 50, backoff: { base_ms: 20, cap_ms: 100 }, breaker: { consecutive_failures: 100, half_open_after_ms: 100 } },
    }],
    routes: [{ events: ['shipment.requested'], partners: ['ep'] }],
    odoo: { url: `${origin}/odoo`, db: 'lab', transport: 'json2', api_key: { env: 'ODOO_KEY' }, batch_size: 4, timeout_ms: 500 },
  }));
  const events: Event[] = Array.from({ length: 30 }, (_, i) => {
    const e = event('shipment.requested', `stock.picking:${7000 + i}`, 1);
    (e.payload as any).shipment_ref = `WH/OUT/F${i}`;
    return e;
  });
  (events[5].payload as any).ship_to.street1 = 'INVALID street'; // the partner refuses this address: a business exception
  const eventsPath = join(dir, 'events.json');
  writeFileSync(eventsPath, JSON.stringify(events));

  const bundle = await bundleFaultChild(dir);
  const start = () => {
    const c = spawn(process.execPath, [bundle, join(dir, 'data'), configPath, eventsPath], {
      env: { ...process.env, EP_KEY: 'ep-test-key', ODOO_KEY: 'odoo-test-key', ...backing.env }, stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    c.stdout!.on('data', (d) => { out += d; });
    exited.set(c, new Promise((r) => c.once('exit', (code) => r(code))));
    child = c;
    return { c, done: () => out.includes('DONE') };
  };

  try {
    const guard = Date.now() + 18_000;
    let runs = 0;
    // Run the bridge until it finishes by itself; every kill starts a new process on the same data.
    for (;;) {
      assert.ok(Date.now() < guard, `suite guard: ${kills} kills, ${epRequests} partner requests, ${runs} runs`);
      const { c, done } = start();
      if (process.env.FAULT_TRACE) console.error(`run ${runs} at ${Date.now() % 100000} requests ${epRequests} kills ${kills}`);
      runs += 1;
      if (kills >= KILLS / 2) odooDown = false; // Odoo comes back half-way through the kills.
      const code = await exited.get(c);
      if (code === 0 && done()) break;
      assert.is(code, null, 'the child only ever ends by our SIGKILL or by finishing');
    }
    assert.is(kills, KILLS, 'the bridge was killed mid-delivery 20 times');

    // Exactly one effect per event at the partner.
    assert.is(sim.effects.get('label_purchased'), 29, `labels: ${JSON.stringify(sim.effects.counts)}`);
    assert.is(sim.effects.get('shipment_created'), 29);

    const store = backing.store(join(dir, 'data'));
    await store.open();
    for (const e of events) {
      const s = await store.get(e.id);
      if (e === events[5]) {
        assert.is(s?.state, 'dead', 'the refused address is a dead letter');
        assert.is(s?.error_class, 'business');
      } else assert.is(s?.state, 'delivered', `${e.id} ${s?.state} ${s?.last_error}`);
    }
    await store.close();

    // Every label milestone once in Odoo (ids are stable across retries, Odoo deduplicates).
    const byEvent = new Map<string, string>();
    for (const r of odoo.requests) for (const m of r.body?.milestones ?? []) byEvent.set(m.id, m.event_id);
    assert.is(odoo.applied.size, 29);
    assert.ok([...odoo.applied.values()].every((n) => n === 1));
    assert.equal(new Set([...odoo.applied.keys()].map((id) => byEvent.get(id))), new Set(events.filter((e) => e !== events[5]).map((e) => e.id)));
    return dir;
  } finally {
    child?.kill('SIGKILL');
    server.close();
  }
}

test('partner faults, duplicates, Odoo outage and 20 SIGKILLs mid-delivery: one label per event, every milestone once in Odoo', async () => {
  const dir = await faultScenario({ env: {}, store: (data) => createEmbeddedStore({ dir: data, pruneEveryMs: 0 }) });
  assert.ok(existsSync(join(dir, 'data', 'state', JOBS)), 'the engine kept its jobs in the data folder');
  rmSync(dir, { recursive: true, force: true });
});

test('the same 20 SIGKILLs with events and engine state in PostgreSQL: one label per event, nothing lost, no state on disk', async () => {
  const pg = await postgresForTests('fault suite');
  if (!pg) return;
  const schema = pg.freshSchema();
  try {
    const dir = await faultScenario({
      env: { FAULT_PG_URL: pg.url, FAULT_PG_SCHEMA: schema },
      store: () => createPostgresStore({ url: pg.url, schema, pruneEveryMs: 0 }),
    });
    assert.not.ok(existsSync(join(dir, 'data', 'state')), 'with PostgreSQL the engine writes no state folder');
    rmSync(dir, { recursive: true, force: true });
    const db = new pg_.Client({ connectionString: pg.url });
    await db.connect();
    try {
      const logs = await db.query(`SELECT (SELECT count(*) FROM "${schema}".keyed_rows WHERE log = $1) AS aggregates, (SELECT count(*) FROM "${schema}".history_entries WHERE log = $2) AS audit`, [AGGREGATES, AUDIT]);
      assert.ok(Number(logs.rows[0].audit) > 60, `the audit trail is in PostgreSQL (${logs.rows[0].audit} entries)`);
      assert.ok(Number(logs.rows[0].aggregates) >= 29, `the aggregate memory is in PostgreSQL, a row per shipment delivered (${logs.rows[0].aggregates})`);
    } finally {
      await db.end();
    }
  } finally {
    await pg.dropSchemas();
  }
});

test.run();
