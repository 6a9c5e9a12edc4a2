/**
 * `npm run bench -- queue [--jobs N] [--call-ms N] [--concurrency N]`: the queue role alone, on
 * pg-boss (PostgreSQL at OLB_TEST_PG_URL or 127.0.0.1:5432), with 1, 2 and 3 workers on one schema,
 * each holding at most `--concurrency` jobs of the partner at once and each job a simulated partner
 * call of `--call-ms` (so the partner, not the CPU, bounds one worker). Prints jobs/s per worker
 * count and the speed-up over one worker, then the same for the local queue (one worker only).
 * Workers are separate pg-boss instances with their own pools, in this one process. CPU is this
 * process's (not PostgreSQL's), idle polls included (a worker at its cap polls every 20 ms).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { JobQueue, NewQueueJob } from '../../bridge/src/core/queue.ts';
import { openLocalQueue, queueRowKey, type QueueRow } from '../../bridge/src/queue/local.ts';
import { openPgBossQueue } from '../../bridge/src/queue/pgboss.ts';
import { openKeyedLog } from '../../bridge/src/store/keyed-log.ts';

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const JOBS = arg('jobs', 600);
const CALL_MS = arg('call-ms', 200);
const CONC = arg('concurrency', 10);
const KEYS = 200;
const URL = process.env.OLB_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const jobsFor = (run: string): NewQueueJob<{ n: number }>[] =>
  Array.from({ length: JOBS }, (_, i) => ({ id: `${run}-${i}`, partner: 'wms', key: `agg-${i % KEYS}`, payload: { n: i } }));

/** Runs workers until every job is done; jobs/s from the first take to the last completion. */
async function drain(workers: JobQueue<{ n: number }>[]): Promise<{ rate: number; cpuMs: number }> {
  let done = 0;
  const t0 = Date.now();
  const cpu0 = process.cpuUsage();
  await Promise.all(workers.map(async (w) => {
    const inFlight = new Set<Promise<void>>();
    while (done < JOBS) {
      const got = await w.take('wms');
      for (const j of got) {
        const p: Promise<void> = sleep(CALL_MS).then(async () => {
          await w.complete(j);
          done++;
          inFlight.delete(p);
        });
        inFlight.add(p);
      }
      await (got.length ? Promise.resolve() : Promise.race([sleep(20), ...inFlight]));
    }
    await Promise.all(inFlight);
  }));
  const cpu = process.cpuUsage(cpu0);
  return { rate: JOBS / ((Date.now() - t0) / 1000), cpuMs: (cpu.user + cpu.system) / 1000 / JOBS };
}

async function pgBossRun(n: number): Promise<{ rate: number; cpuMs: number }> {
  const schema = `olb_bench_queue_${process.pid}_${n}`;
  const workers = [];
  for (let i = 0; i < n; i++) workers.push(await openPgBossQueue<{ n: number }>({ connectionString: URL, schema, concurrency: () => CONC, poolSize: 4 }));
  await workers[0].enqueue(jobsFor(`r${n}`));
  const result = await drain(workers);
  for (const w of workers) await w.close();
  const c = new pg.Client({ connectionString: URL });
  await c.connect();
  await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await c.end();
  return result;
}

console.log(`queue bench: ${JOBS} jobs over ${KEYS} keys, partner call ${CALL_MS} ms, concurrency ${CONC} per worker (ceiling ${((1000 / CALL_MS) * CONC).toFixed(0)} jobs/s per worker)`);
const fmt = (r: { rate: number; cpuMs: number }) => `${r.rate.toFixed(1)} jobs/s, ${r.cpuMs.toFixed(2)} ms CPU per job (this process)`;
const one = await pgBossRun(1);
console.log(`  pg-boss, 1 worker:  ${fmt(one)}`);
for (const n of [2, 3]) {
  const r = await pgBossRun(n);
  console.log(`  pg-boss, ${n} workers: ${fmt(r)}, ${(r.rate / one.rate).toFixed(2)}x one worker`);
}
const dir = mkdtempSync(join(tmpdir(), 'olb-bench-queue-'));
const local = await openLocalQueue<{ n: number }>({ log: await openKeyedLog<QueueRow<{ n: number }>>({ dir, name: 'queue', key: queueRowKey }), concurrency: () => CONC });
await local.enqueue(jobsFor('local'));
console.log(`  local, 1 worker:    ${fmt(await drain([local]))}`);
await local.close();
rmSync(dir, { recursive: true, force: true });
