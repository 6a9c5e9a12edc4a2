/**
 * Engine volume benchmark (not a test): `npm run bench -- engine-volume [--max 1000000] [--backlog 20000] [--demo-limits] [--cancel-every 4]`.
 *
 * The bridge (dist/bridge.mjs, its own process, embedded store on disk, delivery on) runs the demo's
 * partner configuration against the demo simulators, which run in this process so that the bridge's
 * RSS is the bridge's alone (in `npm start` they share its process and keep every shipment forever).
 * An Odoo stand-in (JSON-2 apply_milestones) here keeps the write-back outbox draining as a running
 * Odoo would. This process publishes over the websocket, as Odoo does:
 *   - a `shipment.requested` per new aggregate (easypost-sim: create + buy a label; the label
 *     milestone goes to Odoo and to notify-sim and aftership-sim),
 *   - every `--cancel-every`th aggregate, a `shipment.cancelled` 2000 aggregates later (a refund:
 *     needs the aggregate's memory from long before, by then idle).
 * At most `--backlog` events are published but not yet delivered (delivered = label bought or
 * refunded at the simulator); `--backlog 0` publishes everything at once (the issue #4 case).
 * Prints events/s delivered and the bridge's RSS at 10k, 100k, 1M delivered.
 *
 * Why not the demo as is: its simulators scan every order per request (wms-sim, the easypost-sim
 * tracker webhooks), so they, not the bridge, are the limit at volume; webhooks are off here and
 * orders are not used. `--demo-limits` keeps the demo's rate limits (10 labels/s).
 * `--postgres` runs the bridge on PostgreSQL (OLB_TEST_PG_URL or 127.0.0.1:5432/test, a fresh
 * schema dropped afterwards) instead of the embedded store.
 *
 * Targets (issue 13), printed with PASS/MISS at the end: bridge CPU per delivered event (from the
 * first publish) <= 3.2 ms embedded, <= 4.8 ms on PostgreSQL; peak RSS <= 300 MB at 100k events.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { WebSocket } from 'ws';
import { DEMO_PARTNER_ENV, demoPartnersConfig, mountSimulators, type Simulator } from '../../bridge/src/simulators/index.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const TOKEN = 'bench-socket-token-0123456789abcdef';
const ADMIN = 'bench-admin-token-0123456789abcdef';
const ODOO_KEY = 'bench-odoo-key';
const BATCH = 100;
const CANCEL_LAG = 2000;
const GENERATION = 50_000;

const args = process.argv.slice(2);
const num = (name: string, dflt: number) => (args.includes(`--${name}`) ? Number(args[args.indexOf(`--${name}`) + 1]) : dflt);
const max = num('max', 1_000_000);
const backlogCap = num('backlog', 20_000) || Number.POSITIVE_INFINITY;
const cancelEvery = num('cancel-every', 4);
const demoLimits = args.includes('--demo-limits');
const onPostgres = args.includes('--postgres');
const PG_URL = process.env.OLB_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const pgSchema = `olb_volume_${process.pid}`;
const TARGETS = { cpuMsPerEvent: onPostgres ? 4.8 : 3.2, peakRssMb: 300, rssAt: 100_000 };
// Publish frames in flight. 1 by default: concurrent ingests at an event segment's rotation can
// corrupt the store's offsets (embedded.ts rotateIfFull race, reported; .scratch/rotation-race.mts).
const framesInFlight = num('in-flight', 1);
// 10k, 100k, 1M, and every tenth of the run in between (to see whether the cost per event grows).
const checkpoints = [...new Set([10_000, 100_000, 1_000_000, ...Array.from({ length: 10 }, (_, i) => Math.round((max * (i + 1)) / 10))])]
  .filter((c) => c <= max).sort((a, b) => a - b);

const fixture = (name: string) => JSON.parse(readFileSync(join(ROOT, `shared/fixtures/events/valid/${name}.json`), 'utf8'));
const shipTemplate = fixture('shipment.requested');
const cancelTemplate = fixture('shipment.cancelled');

/**
 * The simulators, renewed every GENERATION labels (they never forget a shipment, and a million of
 * them would not fit here); the previous generation still answers refunds for its shipments.
 */
function simulatorFarm(bridgeOrigin: () => string) {
  const make = () => mountSimulators(new Hono(), { baseUrl: bridgeOrigin, only: ['easypost-sim', 'notify-sim', 'aftership-sim'], autoProgressMs: 0 }).simulators;
  let gens: Record<string, Simulator>[] = [make()];
  const counted: Record<string, number> = {};
  const effect = (name: string) => (counted[name] ?? 0) + gens.reduce((n, g) => n + Object.values(g).reduce((m, s) => m + s.effects.get(name), 0), 0);
  const app = new Hono();
  app.all('/_sim/:id/*', async (c) => {
    const id = c.req.param('id');
    const path = new URL(c.req.url).pathname.slice(`/_sim/${id}`.length);
    let gen = gens[0];
    const refund = /^\/v2\/shipments\/([^/]+)\/(refund|buy)$/.exec(path);
    if (refund) gen = gens.find((g) => (g[id] as any).shipments?.has(refund[1])) ?? gen;
    const sim = gen[id];
    if (!sim) return c.text('no such simulator', 404);
    const url = new URL(c.req.url);
    return sim.app.fetch(new Request(`${url.origin}${path}${url.search}`, c.req.raw));
  });
  return {
    app,
    effect,
    maybeRenew() {
      if ((gens[0]['easypost-sim'] as any).shipments.size < GENERATION) return;
      const old = gens[1];
      if (old) for (const s of Object.values(old)) for (const [k, v] of Object.entries(s.effects.counts)) counted[k] = (counted[k] ?? 0) + v;
      gens = [make(), gens[0]];
    },
  };
}

/** Odoo's write-back API as far as the bridge uses it (JSON-2), answering every milestone applied. */
function odooStandIn() {
  let applied = 0;
  const app = new Hono();
  app.post('/odoo/json/2/:model/:method', async (c) => {
    if (c.req.header('authorization') !== `bearer ${ODOO_KEY}`) return c.json({ name: 'werkzeug.exceptions.Unauthorized', message: 'Invalid apikey' }, 401);
    const body = await c.req.json();
    // As Odoo answers (services/event_states.py): one result per state, in order.
    if (c.req.param('method') === 'apply_event_states') return c.json(body.states.map((st: { id: string }) => ({ id: st.id, status: 'applied', message: '' })));
    applied += body.milestones.length;
    return c.json(body.milestones.map((m: { id: string }) => ({ id: m.id, status: 'applied', message: '' })));
  });
  return { app, applied: () => applied };
}

function bridgeConfig(simOrigin: string, odooOrigin: string) {
  const demo = demoPartnersConfig({ simBaseUrl: simOrigin });
  const partners = demo.partners
    .filter((p) => ['easypost-sim', 'shippo-sim', 'notify-sim', 'aftership-sim'].includes(p.id))
    .map((p) => (demoLimits ? p : { ...p, limits: { ...p.limits, rate: undefined, concurrency: 16 } }));
  return {
    partners,
    routes: demo.routes.filter((r) => r.name === 'labels'),
    ownership: { shipments: demo.ownership.shipments },
    odoo: { url: `${odooOrigin}/odoo`, db: 'bench', transport: 'json2', api_key: { env: 'BENCH_ODOO_KEY' } },
  };
}

let serial = 0;
const cancels: number[] = [];
/** One frame of BATCH events: new shipments, and the cancels now due. */
function frame(): { text: string; count: number } {
  const parts: string[] = [];
  while (parts.length < BATCH) {
    const n = ++serial;
    parts.push(JSON.stringify({
      ...shipTemplate, id: `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`, aggregate: `stock.picking:${n}`, sequence: 1,
      payload: { ...shipTemplate.payload, shipment_ref: `WH/OUT/V${n}` },
    }));
    if (cancelEvery > 0 && n % cancelEvery === 0) cancels.push(n);
    while (cancels.length && cancels[0] <= n - CANCEL_LAG && parts.length < BATCH) {
      const c = cancels.shift()!;
      parts.push(JSON.stringify({
        ...cancelTemplate, id: `00000000-0000-4000-9000-${c.toString(16).padStart(12, '0')}`, aggregate: `stock.picking:${c}`, sequence: 2,
        payload: { ...cancelTemplate.payload, shipment_ref: `WH/OUT/V${c}` },
      }));
    }
  }
  return { text: `{"jsonrpc":"2.0","id":${serial},"method":"events.publish","params":{"events":[${parts.join(',')}]}}`, count: parts.length };
}

const status = (pid: number) => readFileSync(`/proc/${pid}/status`, 'utf8');
const mb = (pid: number, field: 'VmRSS' | 'VmHWM') => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status(pid))![1]) / 1024;
const cpuSeconds = (pid: number) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
};

export async function benchEngineVolume() {
  const dir = mkdtempSync(join(tmpdir(), 'olb-volume-'));
  let bridgeOrigin = '';
  const farm = simulatorFarm(() => bridgeOrigin);
  const odoo = odooStandIn();
  const outer = new Hono();
  outer.route('/', odoo.app);
  outer.route('/', farm.app);
  const server = serve({ fetch: outer.fetch, port: 0, hostname: '127.0.0.1' });
  await new Promise((r) => server.once('listening', r));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const configPath = join(dir, 'bridge.json');
  writeFileSync(configPath, JSON.stringify(bridgeConfig(origin, origin)));

  const proc: ChildProcess = spawn(process.execPath, [...(process.env.BENCH_PROF ? ['--cpu-prof', '--cpu-prof-dir=/tmp/prof-volume'] : []), ...(process.env.BENCH_HEAP ? ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${process.env.BENCH_HEAP}`] : []), 'dist/bridge.mjs'], {
    cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'],
    env: {
      ...process.env, ...DEMO_PARTNER_ENV, BENCH_ODOO_KEY: ODOO_KEY, ...(onPostgres ? { BRIDGE_DATABASE_URL: PG_URL, BRIDGE_DATABASE_SCHEMA: pgSchema } : {}), PORT: '0', BRIDGE_ANNOUNCE_PORT: '1', BRIDGE_DATA_DIR: join(dir, 'data'),
      BRIDGE_CONFIG: configPath, BRIDGE_TOKEN: TOKEN, BRIDGE_ADMIN_TOKEN: ADMIN, LOG_LEVEL: process.env.LOG_LEVEL ?? 'error',
    },
  });
  // Never leave the bridge running behind a crashed or interrupted benchmark.
  process.on('exit', () => proc.kill('SIGKILL'));
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => process.exit(1));
  const port = await new Promise<number>((ok, fail) => {
    let out = '';
    proc.stdout!.on('data', (d) => { out += d; const m = /BRIDGE_PORT=(\d+)/.exec(out); if (m) ok(Number(m[1])); });
    proc.once('exit', (c) => fail(new Error(`bridge exited ${c}`)));
  });
  bridgeOrigin = `http://127.0.0.1:${port}`;
  const ws = await new Promise<WebSocket>((ok, fail) => {
    const s = new WebSocket(`ws://127.0.0.1:${port}/v1/odoo`, { headers: { authorization: `Bearer ${TOKEN}` }, maxPayload: 4 << 20 });
    s.once('open', () => ok(s));
    s.once('error', fail);
  });

  const delivered = () => farm.effect('label_purchased') + farm.effect('label_refunded');
  let published = 0;
  let inFlight = 0;
  ws.on('message', (d) => {
    const r = JSON.parse(d.toString());
    if (!r.result) throw new Error(`bridge refused a batch: ${JSON.stringify(r.error)}`);
    inFlight -= 1;
  });
  console.log(`engine volume benchmark: bridge in its own process on ${onPostgres ? 'PostgreSQL' : 'the embedded store'}, delivery on, ${demoLimits ? 'demo rate limits' : 'no rate limits, concurrency 16'}, `
    + `backlog cap ${Number.isFinite(backlogCap) ? backlogCap : 'none'}, a cancel for 1 in ${cancelEvery} shipments ${CANCEL_LAG} aggregates later`);
  console.log('delivered   published   ev/s since last   ev/s overall   bridge RSS MB   peak RSS MB   bridge CPU s   labels   refunds   Odoo milestones   engine holds');
  const t0 = performance.now();
  const cpu0 = cpuSeconds(proc.pid!);
  let last = { t: t0, d: 0 };
  let cpuPerEvent = 0;
  let peakAt: number | undefined;
  const target = checkpoints.at(-1)!;
  for (const cp of checkpoints) {
    while (delivered() < cp) {
      farm.maybeRenew();
      const limit = Math.min(target, delivered() + backlogCap);
      while (inFlight < framesInFlight && published < limit) {
        const f = frame();
        ws.send(f.text);
        published += f.count;
        inFlight += 1;
      }
      await new Promise((r) => setTimeout(r, inFlight ? 5 : 50));
    }
    const now = performance.now();
    const d = delivered();
    const st = await fetch(`${bridgeOrigin}/v1/engine`, { headers: { authorization: `Bearer ${ADMIN}` } }).then((r) => r.json()).catch(() => undefined);
    const fp = st?.footprint;
    // The JS heap (live objects and what V8 has reserved) vs memory outside it.
    const mem = st?.process;
    const heap = mem ? `heap ${mem.heap_used_mb}/${mem.heap_total_mb} MB, external ${mem.external_mb} MB` : '';
    console.log(`${String(d).padEnd(11)} ${String(published).padEnd(11)} ${((d - last.d) / ((now - last.t) / 1000)).toFixed(0).padStart(15)}   ${(d / ((now - t0) / 1000)).toFixed(0).padStart(12)}   `
      + `${mb(proc.pid!, 'VmRSS').toFixed(0).padStart(13)}   ${mb(proc.pid!, 'VmHWM').toFixed(0).padStart(11)}   ${cpuSeconds(proc.pid!).toFixed(0).padStart(12)}   `
      + `${String(farm.effect('label_purchased')).padStart(6)}   ${String(farm.effect('label_refunded')).padStart(7)}   ${String(odoo.applied()).padStart(15)}   `
      + (fp ? `${fp.jobs} jobs, ${fp.active_events} active events, ${fp.hot_aggregates} of ${fp.aggregates} aggregates in memory; ${heap}` : '?'));
    last = { t: now, d };
    cpuPerEvent = ((cpuSeconds(proc.pid!) - cpu0) * 1000) / d;
    if (d >= TARGETS.rssAt && peakAt === undefined) peakAt = mb(proc.pid!, 'VmHWM');
    // BENCH_HEAP=<dir>: a heap snapshot of the bridge at each checkpoint (what it holds, by constructor).
    if (process.env.BENCH_HEAP) {
      const before = readdirSync(process.env.BENCH_HEAP).length;
      proc.kill('SIGUSR2');
      while (readdirSync(process.env.BENCH_HEAP).length === before) await new Promise((r) => setTimeout(r, 200));
      await new Promise((r) => setTimeout(r, 3000));
    }
  }
  const peak = mb(proc.pid!, 'VmHWM');
  // The data files that grew (what a restart reads, and what lowdb rewrites whole).
  // (On PostgreSQL there may be no data folder at all.)
  const files = (existsSync(join(dir, 'data')) ? readdirSync(join(dir, 'data'), { recursive: true }) : []).map(String)
    .filter((f) => !f.endsWith('.tmp')).map((f) => ({ f, size: (() => { try { return statSync(join(dir, 'data', f)).size; } catch { return 0; } })() })).filter((x) => x.size > 0)
    .sort((a, b) => b.size - a.size).slice(0, 6);
  console.log(`largest data files: ${files.map((x) => `${x.f} ${(x.size / 1048576).toFixed(1)} MB`).join(', ')}`);
  console.log(`engine-volume ${onPostgres ? 'PostgreSQL' : 'embedded'}: bridge CPU ${cpuPerEvent.toFixed(2)} ms per delivered event (target <= ${TARGETS.cpuMsPerEvent}: ${cpuPerEvent <= TARGETS.cpuMsPerEvent ? 'PASS' : 'MISS'}); `
    + `peak RSS ${peak.toFixed(0)} MB (target <= ${TARGETS.peakRssMb} MB at ${TARGETS.rssAt / 1000}k: ${peakAt === undefined ? `not judged, the run stopped at ${target}` : peakAt <= TARGETS.peakRssMb ? 'PASS' : 'MISS'})`);
  ws.close();
  proc.kill('SIGTERM');
  await new Promise((ok) => proc.once('exit', ok));
  server.close();
  rmSync(dir, { recursive: true, force: true });
  if (onPostgres) {
    const { default: pg } = await import('pg');
    const c = new pg.Client({ connectionString: PG_URL });
    await c.connect();
    await c.query(`DROP SCHEMA IF EXISTS "${pgSchema}" CASCADE`);
    await c.end();
  }
}

if (process.argv[1] && import.meta.filename === process.argv[1]) await benchEngineVolume();
