/**
 * Write-back that is kind to Odoo: changes arriving within the coalescing window go in one call per
 * queue (a picking's milestones together, its events' states together), and the calls in flight and
 * the pause between calls follow Odoo's own answer times (pace.ts).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Milestone } from '../../shared/src/index.ts';
import type { OdooClient } from '../../bridge/src/odoo/client.ts';
import { createWriteback } from '../../bridge/src/odoo/outbox.ts';
import { createPace } from '../../bridge/src/odoo/pace.ts';
import { createMemoryStore } from '../../bridge/src/store/memory.ts';
import { loadFixtures } from '../helpers/fixtures.ts';
import { fakeClock, quietLogger, stableId } from './helpers.ts';

const transit = loadFixtures<Milestone>('milestones', 'valid').find(([n]) => n === 'shipment.in_transit')![1];
const milestone = (i: number, picking: number): Milestone => ({ ...structuredClone(transit), id: stableId('pace', String(i)), aggregate: `stock.picking:${picking}` });
const flush = () => new Promise((r) => setImmediate(r));

/** An Odoo whose every call answers after `answerMs` of the fake clock; records each call. */
function slowOdoo(clock: ReturnType<typeof fakeClock>, answerMs: () => number) {
  const calls: { method: string; size: number; at: number }[] = [];
  let inFlight = 0;
  let peak = 0;
  const answer = <T>(method: string, size: number, result: () => T) => {
    calls.push({ method, size, at: clock.ms() });
    inFlight += 1;
    peak = Math.max(peak, inFlight);
    return new Promise<T>((resolve) => clock.setTimeout(() => { inFlight -= 1; resolve(result()); }, answerMs()));
  };
  const client: OdooClient = {
    transport: () => 'json2',
    applyMilestones: (ms) => answer('apply_milestones', ms.length, () => ms.map((m) => ({ id: m.id, status: 'applied' as const }))),
    call: <T>(method: string, kwargs: Record<string, unknown>) =>
      answer(method, (kwargs.states as unknown[]).length, () => (kwargs.states as { id: string }[]).map((s) => ({ id: s.id, status: 'applied' })) as T),
  };
  return { client, calls, peak: () => peak };
}

async function run(clock: ReturnType<typeof fakeClock>, ms: number, step = 10) {
  for (let t = 0; t < ms; t += step) {
    clock.advance(step);
    await flush();
  }
}

test('changes within the coalescing window go in one call per queue: milestones of a picking, states of its events', async () => {
  const clock = fakeClock();
  const odoo = slowOdoo(clock, () => 20);
  const writer = createWriteback({ store: createMemoryStore(), client: odoo.client, settings: { coalesce_ms: 250, batch_size: 100 }, io: { ...clock, random: () => 0.5 }, logger: quietLogger() });
  writer.start();
  await run(clock, 10);
  // a picking's life in the bridge: queued, delivering, delivered, two milestones, 100 ms apart
  await writer.enqueueState({ id: 'e1', state: 'queued', attempts: 0 });
  await run(clock, 100);
  await writer.enqueueState({ id: 'e1', state: 'delivering', attempts: 1 });
  await writer.enqueue([milestone(1, 7)]);
  await run(clock, 100);
  await writer.enqueueState({ id: 'e1', state: 'delivered', attempts: 1 });
  await writer.enqueue([milestone(2, 7)]);
  await run(clock, 1_000);
  assert.equal(odoo.calls.map((c) => [c.method, c.size]), [['apply_milestones', 2], ['apply_event_states', 1]], 'two calls, not five');
  assert.ok(odoo.calls[0].at - Date.parse('2026-11-26T10:00:00Z') <= 300, 'the window is short: written within 300 ms of the first change');
  assert.is(writer.status().pending, 0);
  assert.is(writer.status().states_pending, 0);
  await writer.stop();
});

test('without a window every change is written as it comes (coalesce_ms 0)', async () => {
  const clock = fakeClock();
  const odoo = slowOdoo(clock, () => 20);
  const writer = createWriteback({ store: createMemoryStore(), client: odoo.client, settings: { coalesce_ms: 0 }, io: { ...clock, random: () => 0.5 }, logger: quietLogger() });
  writer.start();
  await writer.enqueueState({ id: 'e1', state: 'queued', attempts: 0 });
  await run(clock, 100);
  await writer.enqueueState({ id: 'e1', state: 'delivered', attempts: 1 });
  await run(clock, 100);
  assert.is(odoo.calls.length, 2);
  await writer.stop();
});

test('the pace: more calls in flight while Odoo answers like its baseline, halved with a pause when its answer time rises', () => {
  const pace = createPace({ max: 4, targetMs: 2_000 });
  for (const ms of [60, 55, 65, 60]) pace.observe(ms);
  assert.is(pace.limit(), 4, 'additive increase up to the cap');
  assert.is(pace.gapMs(), 0);
  pace.observe(400); // Odoo's workers are busy: 400 ms against a 55 ms baseline
  assert.ok(pace.figures().congested);
  assert.is(pace.limit(), 2, 'multiplicative decrease');
  assert.ok(pace.gapMs() > 50, `a pause between calls while congested (${pace.gapMs()} ms)`);
  pace.observe(500);
  assert.is(pace.limit(), 1);
  for (let i = 0; i < 12; i++) pace.observe(55);
  assert.not.ok(pace.figures().congested, 'quick answers again: not congested');
  assert.is(pace.gapMs(), 0);
  assert.is(pace.limit(), 4, 'and back to the cap');
  pace.observe(0, false);
  assert.is(pace.limit(), 2, 'a failed call halves too');
});

test('small answer times never count as congestion (noise of tiny calls), the absolute target always does', () => {
  const pace = createPace({ max: 4, targetMs: 300, floorMs: 40 });
  for (const ms of [4, 5, 4]) pace.observe(ms);
  pace.observe(30);
  assert.not.ok(pace.figures().congested, '4 -> 30 ms is below the floor');
  const slow = createPace({ max: 4, targetMs: 300 });
  for (let i = 0; i < 5; i++) slow.observe(350);
  assert.ok(slow.figures().congested, 'over the target even when it is the baseline');
});

test('the writer caps its calls in flight and spaces them out when Odoo slows down, and still writes everything', async () => {
  const clock = fakeClock();
  let answer = 50;
  const odoo = slowOdoo(clock, () => answer);
  const writer = createWriteback({ store: createMemoryStore(), client: odoo.client, settings: { coalesce_ms: 0, batch_size: 1, max_in_flight: 4 }, io: { ...clock, random: () => 0.5 }, logger: quietLogger() });
  writer.start();
  await writer.enqueue(Array.from({ length: 200 }, (_, i) => milestone(100 + i, 100 + i)));
  await run(clock, 1_000);
  assert.is(odoo.peak(), 4, 'up to the cap while Odoo answers quickly');
  const before = odoo.calls.length;
  answer = 600; // Odoo's users keep it busy
  await run(clock, 3_000);
  const slowCalls = odoo.calls.slice(before + 4); // past the calls already on their way
  const gaps = slowCalls.slice(1).map((c, i) => c.at - slowCalls[i].at);
  assert.ok(writer.status().max_in_flight === 1, `one call at a time while slow (${writer.status().max_in_flight})`);
  assert.ok(gaps.every((g) => g >= 600), `calls spaced by at least the answer time while slow: ${gaps.join(',')}`);
  answer = 50;
  await run(clock, 60_000, 50);
  assert.is(writer.status().pending, 0, 'everything written in the end');
  assert.is(writer.status().written, 200);
  await writer.stop();
});

test.run();
