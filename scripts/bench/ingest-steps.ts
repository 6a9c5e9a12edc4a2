/**
 * Per-event cost of each ingest step, measured in this process on the same frames the socket
 * benchmark sends (CPU time, median of a few rounds): where the time of one event goes.
 * Run by scripts/bench/ingest.ts after the socket benchmark.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkEvent, isEvent } from '../../shared/src/index.ts';
import { findEventSpans } from '../../bridge/src/ingest/event-spans.ts';
import { createOdooRpcServer } from '../../bridge/src/ingest/publish.ts';
import { answerFrame } from '../../bridge/src/rpc/router.ts';
import { createEmbeddedStore } from '../../bridge/src/store/embedded.ts';
import { encodeReceived } from '../../bridge/src/store/event-record.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const BATCH = 100;
const FRAMES = 200;
const ROUNDS = 5;

/** Median CPU µs per event of `run` over `events` events. */
function cost(run: () => void, events: number): number {
  run();
  const all: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const before = process.cpuUsage();
    run();
    const used = process.cpuUsage(before);
    all.push((used.user + used.system) / events);
  }
  return all.sort((a, b) => a - b)[ROUNDS >> 1];
}

/** Prints the per-step table; `frame(n)` builds the n-th frame as the socket benchmark does. */
export async function benchIngestSteps(frame: () => string) {
  const frames = Array.from({ length: FRAMES }, () => Buffer.from(frame()));
  const events = FRAMES * BATCH;
  const texts = frames.map((f) => f.toString('utf8'));
  const parsed = texts.map((t) => JSON.parse(t).params.events as unknown[]);
  const status = { state: 'received' as const, attempts: 0, received_at: new Date().toISOString(), updated_at: new Date().toISOString() };
  const spans = frames.map((f) => findEventSpans(f)!);
  const rows: [string, number][] = [
    ['frame bytes to string', cost(() => { for (const f of frames) f.toString('utf8'); }, events)],
    ['JSON.parse', cost(() => { for (const t of texts) JSON.parse(t); }, events)],
    ['valibot checkEvent (before: every event)', cost(() => { for (const es of parsed) for (const e of es) checkEvent(e); }, events)],
    ['compiled isEvent (now)', cost(() => { for (const es of parsed) for (const e of es) isEvent(e); }, events)],
    ['JSON.stringify of the event (before)', cost(() => { for (const es of parsed) for (const e of es) JSON.stringify(e); }, events)],
    ['findEventSpans (now)', cost(() => { for (const f of frames) findEventSpans(f); }, events)],
    ['encodeReceived from the spans (now)', cost(() => { frames.forEach((f, i) => encodeReceived(parsed[i] as any, { bytes: f, ...spans[i] }, 1, status)); }, events)],
  ];
  rows.push(['whole ingest in process (no socket)', await inProcess(frame)]);
  console.log('\nper-event CPU µs of each step (this process, median of 5 rounds of 20k events):');
  for (const [step, us] of rows) console.log(`  ${step.padEnd(44)} ${us.toFixed(2).padStart(6)}`);
}

/** answerFrame over a file-backed embedded store with 32 frames in flight, as the socket would call it. */
async function inProcess(frame: () => string): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'olb-steps-'));
  const store = createEmbeddedStore({ dir, pruneEveryMs: 0 });
  await store.open();
  const rpc = createOdooRpcServer(store);
  const round = async () => {
    const frames = Array.from({ length: FRAMES }, () => Buffer.from(frame()));
    const before = process.cpuUsage();
    let next = 0;
    const lane = async () => { while (next < frames.length) { const reply = await answerFrame(rpc, frames[next++], undefined); if (!reply?.includes('"accepted"')) throw new Error(`refused: ${reply}`); } };
    await Promise.all(Array.from({ length: 32 }, lane));
    const used = process.cpuUsage(before);
    return (used.user + used.system) / (FRAMES * BATCH);
  };
  await round();
  const all: number[] = [];
  for (let r = 0; r < ROUNDS; r++) all.push(await round());
  await store.close();
  rmSync(dir, { recursive: true, force: true });
  return all.sort((a, b) => a - b)[ROUNDS >> 1];
}

// Standalone: npx tsx scripts/bench/ingest-steps.ts
if (process.argv[1] === import.meta.filename) {
  const template = JSON.parse(readFileSync(join(ROOT, 'shared/fixtures/events/valid/order.released.json'), 'utf8'));
  let serial = 0;
  await benchIngestSteps(() => {
    const parts: string[] = [];
    for (let i = 0; i < BATCH; i++) parts.push(JSON.stringify({ ...template, id: `00000000-0000-4000-8000-${(++serial).toString(16).padStart(12, '0')}` }));
    return `{"jsonrpc":"2.0","id":${serial},"method":"events.publish","params":{"events":[${parts.join(',')}]}}`;
  });
}
