/**
 * The crash storm: a bridge child process (test/engine/fault-child.ts, bundled once) delivers
 * events to one partner simulator that answers in 100–400 ms, while this process SIGKILLs the
 * bridge at random moments *during* partner calls and restarts it on the same data, which ingests
 * the events again (Odoo resending what it has not seen acknowledged). At the end it counts, per
 * reference, what the partner did, and reads the audit trail.
 *
 * Used by the exactly-once suite (test/engine/exactly-once.test.ts) and `npm run bench -- crash`.
 *
 * The partner acts at a random point of its answer time: a kill lands before it acted, after it
 * acted and before the bridge heard it, or between the requests of one step (create, then buy).
 * A request already sent keeps going after the kill, as it would at a real partner.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { build } from 'esbuild';
import { Hono } from 'hono';
import { serve } from '@hono/node-server';
import type { Event } from '../../shared/src/index.ts';
import type { Store } from '../../bridge/src/store/types.ts';
import type { AuditEntry } from '../../bridge/src/core/jobs.ts';
import { createEngine } from '../../bridge/src/core/engine.ts';
import { adapterRegistry } from '../../bridge/src/adapters/registry.ts';
import { loadConfig } from '../../bridge/src/config/load.ts';
import { createLogger } from '../../bridge/src/log.ts';
import { fakeOdoo } from '../engine/fake-odoo.ts';

const CHILD = join(import.meta.dirname, '..', 'engine', 'fault-child.ts');

/** The fault child bundled once (esbuild, ~70 ms), so each restart costs a plain node start. */
export async function bundleFaultChild(dir: string): Promise<string> {
  const outfile = join(dir, 'fault-child.mjs');
  await build({
    entryPoints: [CHILD], bundle: true, platform: 'node', format: 'esm', target: 'node24', outfile, logLevel: 'error',
    // pg's optional native binding is only loaded on request; the bridge never asks for it.
    external: ['pg-native'],
    // CommonJS dependencies in an ESM bundle need a require.
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  });
  return outfile;
}

/** One partner under test: its simulator, how the bridge is configured for it, and how to count its effects. */
export interface StormPartner {
  name: string;
  /** The simulator's HTTP face (a Hono app's fetch). */
  fetch: (req: Request) => Response | Promise<Response>;
  /** The partner's entry in the bridge configuration, given the URL the simulator is reachable at. */
  partner(baseUrl: string): Record<string, unknown>;
  /** Routes for the events. */
  routes: Record<string, unknown>[];
  /** Environment the configuration's credentials name. */
  env: Record<string, string>;
  /** The events to deliver. */
  events: Event[];
  /** Our references and what the partner did for each (labels per parcel reference, orders per order number...). */
  effects(): Map<string, number>;
  /** Every reference that must end with exactly one effect. */
  expected: string[];
}

/** Where the child keeps its events and state. */
export interface StormBacking {
  name: string;
  env: Record<string, string>;
  /** The store to read the result from afterwards (the child's data dir is given). */
  store(dataDir: string): Store;
}

export interface StormResult {
  kills: number;
  /** Partner requests in flight at the moments of the kills (each one an interrupted call). */
  inFlightAtKills: number;
  runs: number;
  partnerRequests: number;
  events: number;
  /** Events not delivered (lost, dead or manual), with their state. */
  unfinished: { id: string; state: string | undefined; last_error?: string }[];
  /** References whose effect count is not exactly one. */
  wrong: { ref: string; effects: number }[];
  /** Milestones Odoo applied more than once (their ids are stable across retries; Odoo deduplicates). */
  milestonesTwice: number;
  milestonesApplied: number;
  /** Audit, over all events: calls started, their outcomes, and calls recorded as interrupted. */
  audit: { started: number; finished: number; interrupted: number; unaccounted: string[] };
  seconds: number;
}

export interface StormOptions {
  kills: number;
  /** Partner answer time range (ms). */
  latency?: [number, number];
  /** Give up after this long (a hung run fails loudly instead of hanging CI). */
  guardMs?: number;
  random?: () => number;
  /** Wrapped around the simulator: lets a test break the partner on purpose. */
  log?: (line: string) => void;
}

/** Runs the storm; resolves with what happened. The caller asserts. */
export async function crashStorm(p: StormPartner, backing: StormBacking, o: StormOptions): Promise<StormResult> {
  const started = Date.now();
  const random = o.random ?? Math.random;
  const [lo, hi] = o.latency ?? [100, 400];
  const dir = mkdtempSync(join(tmpdir(), `bridge-storm-${p.name}-`));
  let child: ChildProcess | undefined;
  let kills = 0;
  let inFlightAtKills = 0;
  let partnerRequests = 0;
  let inFlight = 0;
  let runs = 0;
  // Requests in flight per bridge run: at a kill, only the dying run's own calls are interrupted
  // (a request of an earlier run may still be in its answer time at the partner).
  const inFlightByRun = new Map<number, number>();
  let killArmed = false;
  const exited = new Map<ChildProcess, Promise<number | null>>();
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  const killChild = async () => {
    const dying = child;
    if (!dying || dying.exitCode !== null || dying.killed) return;
    inFlightAtKills += inFlightByRun.get(runs) ?? 0;
    dying.kill('SIGKILL');
    kills += 1;
    await exited.get(dying);
  };

  const odoo = fakeOdoo({ key: 'odoo-storm-key' });
  const front = new Hono();
  front.all('/odoo/*', async (c) => {
    const url = new URL(c.req.url);
    return odoo.fetch(`${url.origin}${url.pathname.slice('/odoo'.length)}`, { method: c.req.method, headers: Object.fromEntries(c.req.raw.headers), body: await c.req.text() });
  });
  front.all('/partner/*', async (c) => {
    partnerRequests += 1;
    inFlight += 1;
    const run = runs;
    inFlightByRun.set(run, (inFlightByRun.get(run) ?? 0) + 1);
    const url = new URL(c.req.url);
    const body = ['GET', 'HEAD'].includes(c.req.method) ? undefined : await c.req.arrayBuffer();
    // The partner acts somewhere within its answer time; a kill may land before or after that.
    const total = lo + random() * (hi - lo);
    const before = random() * total;
    if (!killArmed && kills < o.kills && child && random() < 0.6) {
      killArmed = true;
      const at = random() * total;
      setTimeout(() => void killChild().finally(() => { killArmed = false; }), at);
    }
    try {
      await sleep(before);
      // Not tied to the caller's socket: a request that left keeps going at the partner after a kill.
      const req = new Request(`${url.origin}${url.pathname.slice('/partner'.length)}${url.search}`, { method: c.req.method, headers: c.req.raw.headers, body });
      const res = await p.fetch(req);
      const text = await res.text();
      await sleep(total - before);
      return new Response(text, { status: res.status, headers: res.headers });
    } finally {
      inFlight -= 1;
      inFlightByRun.set(run, inFlightByRun.get(run)! - 1);
    }
  });
  const server = serve({ fetch: front.fetch, port: 0, hostname: '127.0.0.1' });
  await new Promise((r) => server.once('listening', r));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const configPath = join(dir, 'bridge.json');
  writeFileSync(configPath, JSON.stringify({
    partners: [p.partner(`${origin}/partner`)], routes: p.routes,
    odoo: { url: `${origin}/odoo`, db: 'lab', transport: 'json2', api_key: { env: 'STORM_ODOO_KEY' }, batch_size: 20, timeout_ms: 2000 },
  }));
  const eventsPath = join(dir, 'events.json');
  writeFileSync(eventsPath, JSON.stringify(p.events));
  const bundle = await bundleFaultChild(dir);
  const env = { ...process.env, ...p.env, ...backing.env, STORM_ODOO_KEY: 'odoo-storm-key' };

  try {
    const guard = Date.now() + (o.guardMs ?? 240_000);
    for (;;) {
      if (Date.now() > guard) throw new Error(`crash storm ${p.name}/${backing.name}: guard passed after ${kills} kills, ${partnerRequests} partner requests, ${runs} runs`);
      const c = spawn(process.execPath, [bundle, join(dir, 'data'), configPath, eventsPath], { env, stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      c.stdout!.on('data', (d) => { out += d; });
      exited.set(c, new Promise((r) => c.once('exit', (code) => r(code))));
      child = c;
      runs += 1;
      const code = await exited.get(c);
      o.log?.(`run ${runs}: exit ${code}, ${kills} kills, ${partnerRequests} requests`);
      if (code === 0 && out.includes('DONE')) break;
      if (code !== null) throw new Error(`the bridge child ended by itself with code ${code} (not our SIGKILL)`);
    }
    // Let requests that outlived the last kill reach the partner before counting.
    while (inFlight) await sleep(20);

    const effects = p.effects();
    const wrong = p.expected.map((ref) => ({ ref, effects: effects.get(ref) ?? 0 })).filter((x) => x.effects !== 1);
    for (const [ref, n] of effects) if (!p.expected.includes(ref)) wrong.push({ ref, effects: n });

    const store = backing.store(join(dir, 'data'));
    await store.open();
    const unfinished: StormResult['unfinished'] = [];
    for (const e of p.events) {
      const s = await store.get(e.id);
      if (s?.state !== 'delivered') unfinished.push({ id: e.id, state: s?.state, last_error: s?.last_error });
    }
    // The audit, read through an engine on the same data (not started: no delivery).
    const config = loadConfig(configPath, env, { adapters: Object.keys(adapterRegistry) });
    const reader = createEngine({ store, config, registry: adapterRegistry, logger: createLogger({ level: 'silent' }), stateDir: join(dir, 'data', 'state') });
    const audit = { started: 0, finished: 0, interrupted: 0, unaccounted: [] as string[] };
    for (const e of p.events) {
      const entries: AuditEntry[] = (await reader.audit({ event_id: e.id, limit: 10_000 })).filter((a) => a.action === 'attempt' && a.target === e.id);
      const started = entries.filter((a) => a.outcome === 'started');
      const interrupted = entries.filter((a) => a.outcome === 'interrupted');
      const finished = entries.filter((a) => a.outcome !== 'started' && a.outcome !== 'interrupted');
      audit.started += started.length;
      audit.interrupted += interrupted.length;
      audit.finished += finished.length;
      // Every call started is accounted for: it finished with an outcome, or it is recorded as interrupted.
      const ended = new Set([...interrupted, ...finished].map((a) => a.call));
      for (const s of started) if (!ended.has(s.call)) audit.unaccounted.push(`${e.id} call ${s.call}`);
    }
    await reader.stop();
    await store.close();
    const milestonesTwice = [...odoo.applied.values()].filter((n) => n !== 1).length;
    return {
      kills, inFlightAtKills, runs, partnerRequests, events: p.events.length, unfinished, wrong, audit, milestonesTwice, milestonesApplied: odoo.applied.size,
      seconds: (Date.now() - started) / 1000,
    };
  } finally {
    child?.kill('SIGKILL');
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One line a person reads: kills, events, references with a wrong effect count, audit. */
export function stormLine(p: string, backing: string, r: StormResult): string {
  return `${p.padEnd(10)} ${backing.padEnd(10)} kills ${String(r.kills).padStart(3)} (calls in flight ${r.inFlightAtKills}), events ${r.events}, `
    + `references with != 1 effect: ${r.wrong.length}, not delivered: ${r.unfinished.length}, calls audited ${r.audit.started} (interrupted ${r.audit.interrupted}, unaccounted ${r.audit.unaccounted.length}), ${r.runs} runs, ${r.seconds.toFixed(1)} s`;
}
