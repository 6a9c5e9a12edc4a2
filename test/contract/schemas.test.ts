import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkEvent, checkMilestone, EVENT_TYPES, MILESTONE_TYPES } from '../../shared/src/index.ts';
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
