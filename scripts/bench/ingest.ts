/**
 * Ingest benchmark (not a test): publishes events over the socket from this process to a bridge
 * child process, in batches of 100 with a few batches in flight, and compares with a bare `ws`
 * server receiving the same frames. Measured at 1k, 100k and 1M stored events, with the CPU
 * each process spent per event (steadier than events/s on a shared machine), then the cost of
 * each ingest step in this process (ingest-steps.ts).
 *   npm run bench -- ingest [--max 1000000] [--fsync]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { benchIngestSteps } from './ingest-steps.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const TOKEN = 'bench-socket-token-0123456789abcdef';
const BATCH = 100;
const WINDOW = 32;
const SAMPLE = 20_000;

const args = process.argv.slice(2);
const max = Number(args[args.indexOf('--max') + 1] || 1_000_000) || 1_000_000;
const fsync = args.includes('--fsync');

const template = JSON.parse(readFileSync(join(ROOT, 'shared/fixtures/events/valid/order.released.json'), 'utf8'));
let serial = 0;
/** One frame of BATCH events with fresh ids, built by string splicing (the publisher must not be the bottleneck). */
function frame(): string {
  const parts: string[] = [];
  for (let i = 0; i < BATCH; i++) {
    const n = ++serial;
    const id = `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
    parts.push(JSON.stringify({ ...template, id, aggregate: `stock.picking:${n % 5000 + 1}`, sequence: Math.floor(n / 5000) + 1 }));
  }
  return `{"jsonrpc":"2.0","id":${serial},"method":"events.publish","params":{"events":[${parts.join(',')}]}}`;
}

/** Set once the run is over, when the children are expected to exit. */
let stopping = false;

async function startChild(cmd: string[], env: Record<string, string>, marker: RegExp): Promise<{ proc: ChildProcess; port: number }> {
  const proc = spawn(process.execPath, cmd, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((ok, fail) => {
    let out = '';
    proc.stdout!.on('data', (d) => { out += d; const m = marker.exec(out); if (m) ok(Number(m[1])); });
    proc.once('exit', (c) => fail(new Error(`child exited ${c}`)));
  });
  // A child that dies mid-run would leave the pump waiting for replies forever.
  proc.once('exit', (code, signal) => { if (!stopping) { console.error(`benchmark child ${cmd.at(-1)} exited (${code ?? signal}) during the run`); process.exit(1); } });
  return { proc, port };
}

/** Sends `frames` batches keeping WINDOW in flight; resolves with events per second. */
async function pump(ws: WebSocket, batches: number, check?: (reply: any) => void): Promise<number> {
  const frames = Array.from({ length: batches }, frame);
  const started = process.hrtime.bigint();
  await new Promise<void>((ok) => {
    let sent = 0, done = 0;
    const onMessage = (d: Buffer) => {
      check?.(JSON.parse(d.toString()));
      done++;
      if (sent < batches) ws.send(frames[sent++]);
      if (done === batches) { ws.off('message', onMessage); ok(); }
    };
    ws.on('message', onMessage);
    while (sent < Math.min(WINDOW, batches)) ws.send(frames[sent++]);
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return (batches * BATCH) / seconds;
}

const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
/**
 * CPU time (user + system, all threads) a process has used, in ms (/proc counts 10 ms ticks: about
 * ±0.5 µs per event over a 20k-event sample): a cost per event that other load on the machine moves far less than events/s.
 */
const cpuMs = (pid: number) => { const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' '); return (Number(f[11]) + Number(f[12])) * 10; };
/** Runs `pump` and measures the CPU µs per event `pid` spent on it. */
async function measured(pid: number, run: () => Promise<number>): Promise<{ rate: number; cpuUs: number }> {
  const before = cpuMs(pid);
  const rate = await run();
  return { rate, cpuUs: ((cpuMs(pid) - before) * 1000) / SAMPLE };
}
const open = (url: string, headers: Record<string, string> = {}) => new Promise<WebSocket>((ok, fail) => { const ws = new WebSocket(url, { headers, maxPayload: 4 << 20 }); ws.once('open', () => ok(ws)); ws.once('error', fail); });

export async function benchIngest() {
  const dir = mkdtempSync(join(tmpdir(), 'olb-bench-'));
  const bridge = await startChild([...(process.env.BENCH_PROF ? ['--cpu-prof', '--cpu-prof-dir=/tmp/prof'] : []), 'dist/bridge.mjs'], { PORT: '0', BRIDGE_ANNOUNCE_PORT: '1', BRIDGE_DATA_DIR: dir, BRIDGE_TOKEN: TOKEN, BRIDGE_ADMIN_TOKEN: TOKEN + 'admin', LOG_LEVEL: 'error', BRIDGE_DELIVERY: 'paused', BRIDGE_FSYNC: fsync ? '1' : '0' }, /BRIDGE_PORT=(\d+)/);
  const raw = await startChild(['scripts/bench/raw-ws-server.mjs'], {}, /RAW_PORT=(\d+)/);
  const ws = await open(`ws://127.0.0.1:${bridge.port}/v1/odoo`, { authorization: `Bearer ${TOKEN}` });
  const rawWs = await open(`ws://127.0.0.1:${raw.port}`);
  let accepted = 0;
  const check = (r: any) => { if (!r.result) throw new Error(`bridge refused a batch: ${JSON.stringify(r.error)}`); accepted += r.result.accepted.length; };

  console.log(`ingest benchmark: batches of ${BATCH}, ${WINDOW} in flight, ${SAMPLE} events per sample, fsync ${fsync ? 'on' : 'off'}; the bridge runs dist/bridge.mjs in its own process`);
  console.log('stored    bridge ev/s   raw ws ev/s   ratio   bridge RSS MB   bridge CPU µs/ev   raw CPU µs/ev');
  const rows: { stored: number; rate: number }[] = [];
  for (const target of [1_000, 100_000, 1_000_000].filter((t) => t <= max)) {
    while (accepted < target) await pump(ws, Math.min(200, Math.ceil((target - accepted) / BATCH)), check);
    const ceiling = await measured(raw.proc.pid!, () => pump(rawWs, SAMPLE / BATCH));
    const ours = await measured(bridge.proc.pid!, () => pump(ws, SAMPLE / BATCH, check));
    rows.push({ stored: target, rate: ours.rate });
    console.log(`${String(target).padEnd(9)} ${ours.rate.toFixed(0).padStart(11)}   ${ceiling.rate.toFixed(0).padStart(11)}   ${(ours.rate / ceiling.rate).toFixed(2).padStart(5)}   ${rssMb(bridge.proc.pid!).toFixed(0).padStart(13)}   ${ours.cpuUs.toFixed(1).padStart(16)}   ${ceiling.cpuUs.toFixed(1).padStart(13)}`);
  }
  if (rows.length > 1) console.log(`throughput at ${rows.at(-1)!.stored} stored vs 1k: ${((rows.at(-1)!.rate / rows[0].rate) * 100).toFixed(0)}% (target >= 80%)`);
  console.log(`(the bridge runs with BRIDGE_DELIVERY=paused: every stored event is pending, so the RSS column is the RSS with that many pending)`);
  stopping = true;
  ws.close(); rawWs.close();
  bridge.proc.kill('SIGTERM'); raw.proc.kill('SIGTERM');
  await new Promise((ok) => bridge.proc.once('exit', ok));
  rmSync(dir, { recursive: true, force: true });
  await benchIngestSteps(frame);
}
