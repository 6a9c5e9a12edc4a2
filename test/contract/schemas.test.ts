import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkEvent, checkMilestone, EVENT_TYPES, isEvent, MILESTONE_TYPES } from '../../shared/src/index.ts';
import { renderJsonSchemas } from '../../shared/src/json-schema.ts';
import { loadFixtures } from '../helpers/fixtures.ts';

const validEvents = loadFixtures('events', 'valid');
const validMilestones = loadFixtures('milestones', 'valid');

test('every valid event fixture passes the contract', () => {
  for (const [name, event] of validEvents) {
    const r = checkEvent(event);
    assert.ok(r.ok, `${name}: ${!r.ok && JSON.stringify(r.problem)}`);
  }
});

test('valid fixtures have distinct ids, so tests can publish them together', () => {
  const ids = [...validEvents, ...validMilestones].map(([, x]) => x.id);
  assert.is(new Set(ids).size, ids.length);
});

test('every event type has at least one valid fixture', () => {
  const covered = new Set(validEvents.map(([, e]) => e.type));
  for (const t of EVENT_TYPES) assert.ok(covered.has(t), `no valid fixture for ${t}`);
});

test('a stricter contract: integers beyond 2^53, absurd amounts and calendar-invalid or colon-less timestamps are refused at their path; the compiled check agrees', () => {
  const base = () => structuredClone(validEvents.find(([n]) => n === 'shipment.requested')![1]) as any;
  const cases: [string, (e: any) => void, string][] = [
    ['sequence 2^53 + 1', (e) => { e.sequence = 9007199254740993; }, 'sequence'],
    ['res_id 2^53 + 1', (e) => { e.source.res_id = 9007199254740993; }, 'source.res_id'],
    ['weight 1e308', (e) => { e.payload.parcels[0].weight.value = 1e308; }, 'payload.parcels.0.weight.value'],
    ['February 30', (e) => { e.occurred_at = '2025-02-30T10:00:00Z'; }, 'occurred_at'],
    ['February 29 of a common year', (e) => { e.occurred_at = '2026-02-29T10:00:00Z'; }, 'occurred_at'],
    ['April 31', (e) => { e.occurred_at = '2026-04-31T10:00:00Z'; }, 'occurred_at'],
    ['an offset without its colon', (e) => { e.occurred_at = '2026-11-26T10:00:00+0100'; }, 'occurred_at'],
    ['hour 24', (e) => { e.occurred_at = '2026-11-26T24:00:00Z'; }, 'occurred_at'],
  ];
  for (const [what, patch, path] of cases) {
    const e = base();
    patch(e);
    const r = checkEvent(e);
    assert.not.ok(r.ok, `${what} is refused`);
    assert.is(!r.ok && r.problem.path, path, what);
    assert.is(isEvent(e), false, `${what}: the compiled check agrees`);
  }
  for (const ok of ['2024-02-29T10:00:00Z', '2026-11-26T10:00:00.123+01:00', '2026-12-31T23:59:59-05:30']) {
    const e = base();
    e.occurred_at = ok;
    e.sequence = 9007199254740991;
    assert.ok(checkEvent(e).ok, ok);
    assert.ok(isEvent(e), `${ok}: the compiled check agrees`);
  }
});

test('every invalid event fixture is rejected at the path it names', () => {
  const invalid = loadFixtures<{ rule: string; path: string; event: unknown }>('events', 'invalid');
  assert.ok(invalid.length >= 10);
  for (const [name, f] of invalid) {
    const r = checkEvent(f.event);
    assert.not.ok(r.ok, `${name} (${f.rule}) was accepted`);
    if (!r.ok) {
      assert.is(r.problem.path, f.path, `${name}: path`);
      assert.ok(r.problem.message.length > 5, `${name}: message says what to fix`);
    }
  }
});

test('every valid milestone fixture passes and every milestone type is covered', () => {
  for (const [name, m] of validMilestones) {
    const r = checkMilestone(m);
    assert.ok(r.ok, `${name}: ${!r.ok && JSON.stringify(r.problem)}`);
  }
  const covered = new Set(validMilestones.map(([, m]) => m.type));
  for (const t of MILESTONE_TYPES) assert.ok(covered.has(t), `no valid fixture for ${t}`);
});

test('every invalid milestone fixture is rejected at the path it names', () => {
  for (const [name, f] of loadFixtures<{ rule: string; path: string; milestone: unknown }>('milestones', 'invalid')) {
    const r = checkMilestone(f.milestone);
    assert.not.ok(r.ok, `${name} (${f.rule}) was accepted`);
    if (!r.ok) assert.is(r.problem.path, f.path, `${name}: path`);
  }
});

test('unknown keys are named in the message', () => {
  const [, f] = loadFixtures<{ event: unknown }>('events', 'invalid').find(([n]) => n === 'unknown-payload-key')!;
  const r = checkEvent(f.event);
  assert.ok(!r.ok && /unknown field "color"/.test(r.problem.message));
});

test('shared/json-schema is up to date with the valibot contract (run `npm run contract`)', () => {
  for (const [name, text] of Object.entries(renderJsonSchemas())) {
    const onDisk = readFileSync(join(import.meta.dirname, '..', '..', 'shared', 'json-schema', name), 'utf8');
    assert.is(onDisk, text, `shared/json-schema/${name} is stale: run npm run contract`);
  }
});

test.run();
