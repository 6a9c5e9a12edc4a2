/**
 * Peer benchmark (not a test): `npm run bench -- peer [--jobs 2000] [--concurrency 16] [--rounds 1] [--compare <checkout>]`.
 *
 * The bridge's engine against a minimal pg-boss 12 worker doing the same partner work per job
 * (create an EasyPost shipment, buy one label) against the same EasyPost simulator, in one run:
 *   (a) the bridge engine on the embedded store, (b) on PostgreSQL, (c) pg-boss on PostgreSQL.
 * The simulator runs in its own process over real HTTP on 127.0.0.1; each contender runs in its
 * own process (peer/worker.ts) and reports its own CPU (`process.cpuUsage`, user + system) from the
 * first job handed over to the last delivered. Same job count, same concurrency, one after the
 * other, in rounds (a contender's figure is its median over the rounds). Compare within a run only:
 * the machine is shared, absolute figures move between runs.
 *
 * `--compare <checkout>`: the bridge of another checkout of this repository (e.g. the commit before
 * a change, `git archive <commit> | tar -x -C <dir>` with this benchmark copied in) runs in the
 * same rounds, as `before:bridge-embedded` and `before:bridge-postgres`.
 *
 * Targets (issue 13): bridge <= 2.0 ms CPU per job embedded, <= 3.0 ms on PostgreSQL, and
 * delivered/s >= the pg-boss worker's.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

const args = process.argv.slice(2);
const num = (name: string, dflt: number) => (args.includes(`--${name}`) ? Number(args[args.indexOf(`--${name}`) + 1]) : dflt);
const HERE = join(import.meta.dirname, 'peer');
const ROOT = join(import.meta.dirname, '..', '..');
const CONTENDERS = ['bridge-embedded', 'bridge-postgres', 'pg-boss'] as const;
type Contender = (typeof CONTENDERS)[number] | `before:${'bridge-embedded' | 'bridge-postgres'}`;
type Result = { cpuMs: number; wallMs: number; delivered: number };

function tsx(file: string, argv: string[], cwd = ROOT): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', file, ...argv], { cwd, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, LOG_LEVEL: 'silent' } });
}

function lineOf(proc: ChildProcess, re: RegExp): Promise<RegExpExecArray> {
  return new Promise((ok, fail) => {
    let out = '';
    proc.stdout!.on('data', (d) => { out += d; const m = re.exec(out); if (m) ok(m); });
    proc.once('exit', (c) => fail(new Error(`${proc.spawnargs.slice(-4).join(' ')} exited ${c} without ${re}: ${out.slice(-500)}`)));
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const verdict = (ok: boolean) => (ok ? 'PASS' : 'MISS');

export async function benchPeer(o: { jobs?: number; concurrency?: number; rounds?: number } = {}) {
  const jobs = o.jobs ?? num('jobs', 2000);
  const concurrency = o.concurrency ?? num('concurrency', 16);
  const rounds = o.rounds ?? num('rounds', 1);
  const compare = args.includes('--compare') ? args[args.indexOf('--compare') + 1] : undefined;
  const contenders: Contender[] = [...(compare ? (['before:bridge-embedded', 'before:bridge-postgres'] as const) : []), ...CONTENDERS];
  const sim = tsx(join(HERE, 'sim.ts'), []);
  const kill = () => sim.kill('SIGKILL');
  process.on('exit', kill);
  try {
    const port = Number((await lineOf(sim, /SIM_PORT=(\d+)/))[1]);
    const origin = `http://127.0.0.1:${port}`;
    console.log(`peer benchmark: ${jobs} jobs (create + buy one EasyPost label each), ${concurrency} in flight, EasyPost simulator in its own process at ${origin}, ${rounds} round(s)`);
    const got = Object.fromEntries(contenders.map((c) => [c, [] as Result[]])) as Record<Contender, Result[]>;
    for (let r = 0; r < rounds; r++) {
      for (const c of contenders) {
        const before = c.startsWith('before:');
        const w = before
          ? tsx(join(compare!, 'scripts/bench/peer/worker.ts'), [c.slice('before:'.length), origin, String(jobs), String(concurrency)], compare)
          : tsx(join(HERE, 'worker.ts'), [c, origin, String(jobs), String(concurrency)]);
        const res = JSON.parse((await lineOf(w, /RESULT (\{.*\})\n/))[1]) as Result;
        await new Promise((ok) => (w.exitCode !== null ? ok(undefined) : w.once('exit', ok)));
        if (res.delivered !== jobs) throw new Error(`${c}: ${res.delivered} of ${jobs} delivered`);
        got[c].push(res);
      }
    }
    const fig = Object.fromEntries(contenders.map((c) => [c, {
      cpuPerJob: median(got[c].map((x) => x.cpuMs / x.delivered)),
      perSecond: median(got[c].map((x) => x.delivered / (x.wallMs / 1000))),
    }])) as Record<Contender, { cpuPerJob: number; perSecond: number }>;
    console.log('contender                 CPU ms/job   delivered/s');
    for (const c of contenders) console.log(`${c.padEnd(25)} ${fig[c].cpuPerJob.toFixed(2).padStart(10)}   ${fig[c].perSecond.toFixed(0).padStart(11)}`);
    const boss = fig['pg-boss'];
    for (const [c, cap] of [['bridge-embedded', 2.0], ['bridge-postgres', 3.0]] as const) {
      const f = fig[c];
      console.log(`${c}: CPU/job ${f.cpuPerJob.toFixed(2)} ms (target <= ${cap.toFixed(1)}: ${verdict(f.cpuPerJob <= cap)}), `
        + `${(f.cpuPerJob / boss.cpuPerJob).toFixed(2)}x pg-boss's CPU/job; delivered/s ${f.perSecond.toFixed(0)} = ${(f.perSecond / boss.perSecond).toFixed(2)}x pg-boss's (target >= 1.00: ${verdict(f.perSecond >= boss.perSecond)})`);
    }
    return fig;
  } finally {
    kill();
  }
}

if (process.argv[1] && import.meta.filename === process.argv[1]) await benchPeer();
