/**
 * The one failure rule (bridge/src/core/failure-rule.ts), as a table: the job, the failure, the
 * policy in; the decision and the doubt out. random() = 1 puts the backoff at its ceiling.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PartnerError } from '../../bridge/src/adapters/types.ts';
import { afterFailure, answeredNo, classifyFailure, type Decision, type Failure } from '../../bridge/src/core/failure-rule.ts';
import { CircuitOpenError } from '../../bridge/src/core/policy.ts';
import { failed } from '../../bridge/src/core/transitions.ts';
import type { Job } from '../../bridge/src/core/jobs.ts';

const NOW = 1_000_000;
const one = { attempts: 0, max_attempts: 3, candidate: 0, candidates: ['ep'], kind: 'event' as const };
const two = { ...one, candidates: ['ep', 'shippo'] };
const policy = { partner: 'ep', role: 'carrier', backoff: { base_ms: 1000, cap_ms: 8000 }, wasInDoubt: false, now: NOW, random: () => 1 };

const rows: { name: string; job: typeof one; failure: Failure; policy?: Partial<typeof policy>; decision: Decision; inDoubt: boolean }[] = [
  { name: 'permanent: dead, business, its reason; the partner answered no', job: one, failure: { outcome: 'permanent', message: 'bad zip', status: 422, reason: 'invalid_address' },
    decision: { next: 'dead', errorClass: 'business', reason: 'invalid_address', message: 'ep: bad zip', counted: false }, inDoubt: false },
  { name: 'permanent without a reason: refused_by_partner', job: one, failure: { outcome: 'permanent', message: 'no' },
    decision: { next: 'dead', errorClass: 'business', reason: 'refused_by_partner', message: 'ep: no', counted: false }, inDoubt: false },
  { name: 'permanent keeps earlier doubt', job: one, failure: { outcome: 'permanent', message: 'no' }, policy: { wasInDoubt: true },
    decision: { next: 'dead', errorClass: 'business', reason: 'refused_by_partner', message: 'ep: no', counted: false }, inDoubt: true },
  { name: '5xx: counted backoff, in doubt', job: one, failure: { outcome: 'retryable', message: 'boom', status: 500 },
    decision: { next: 'retry', runAt: NOW + 1000, counted: true, message: 'ep: boom' }, inDoubt: true },
  { name: 'backoff doubles per attempt', job: { ...one, attempts: 1 }, failure: { outcome: 'retryable', message: 'boom', status: 502 },
    decision: { next: 'retry', runAt: NOW + 2000, counted: true, message: 'ep: boom' }, inDoubt: true },
  { name: 'backoff capped', job: { ...one, attempts: 8, max_attempts: 0 }, failure: { outcome: 'retryable', message: 'boom', status: 502 },
    decision: { next: 'retry', runAt: NOW + 8000, counted: true, message: 'ep: boom' }, inDoubt: true },
  { name: 'timeout: no answer, in doubt', job: one, failure: { outcome: 'timeout', message: 'no answer within 15000 ms' },
    decision: { next: 'retry', runAt: NOW + 1000, counted: true, message: 'ep: no answer within 15000 ms' }, inDoubt: true },
  { name: '4xx retryable (409 in progress): answered no, doubt as before', job: one, failure: { outcome: 'retryable', message: 'busy', status: 409 },
    decision: { next: 'retry', runAt: NOW + 1000, counted: true, message: 'ep: busy' }, inDoubt: false },
  { name: '503: answered no', job: one, failure: { outcome: 'retryable', message: 'down', status: 503 },
    decision: { next: 'retry', runAt: NOW + 1000, counted: true, message: 'ep: down' }, inDoubt: false },
  { name: '429 with a fallback: fall back now', job: two, failure: { outcome: 'retryable', message: 'slow down', status: 429, retryAfterMs: 5000 },
    decision: { next: 'fallback', why: 'refused for now (429)', counted: false }, inDoubt: false },
  { name: 'Retry-After: wait as asked, not counted', job: one, failure: { outcome: 'retryable', message: 'slow down', status: 429, retryAfterMs: 5000 },
    decision: { next: 'retry', runAt: NOW + 5000, counted: false, message: 'ep: slow down (Retry-After 5000 ms, not counted)' }, inDoubt: false },
  { name: 'Retry-After capped at a day', job: one, failure: { outcome: 'retryable', message: 'later', status: 429, retryAfterMs: 10 * 86_400_000 },
    decision: { next: 'retry', runAt: NOW + 86_400_000, counted: false, message: `ep: later (Retry-After ${10 * 86_400_000} ms, not counted)` }, inDoubt: false },
  { name: 'attempts exhausted, one carrier: dead, technical', job: { ...one, attempts: 2 }, failure: { outcome: 'retryable', message: 'boom', status: 500 },
    decision: { next: 'dead', errorClass: 'technical', reason: 'attempts_exhausted', message: 'ep: boom (after 3 attempts)', counted: true }, inDoubt: true },
  { name: 'attempts exhausted with a fallback: next carrier', job: { ...two, attempts: 2 }, failure: { outcome: 'retryable', message: 'boom', status: 500 },
    decision: { next: 'fallback', why: 'gave up after 3 attempts (boom)', counted: true }, inDoubt: true },
  { name: 'attempts exhausted on the last of several carriers: manual', job: { ...two, candidate: 1, attempts: 2 }, failure: { outcome: 'retryable', message: 'boom', status: 500 },
    policy: { partner: 'shippo' },
    decision: { next: 'manual', errorClass: 'technical', reason: 'no_carrier_available', message: 'shippo: boom; every carrier of the route failed: ship it by hand or replay', counted: true }, inDoubt: true },
  { name: 'max_attempts 0 never gives up', job: { ...one, attempts: 500, max_attempts: 0 }, failure: { outcome: 'retryable', message: 'boom', status: 500 },
    decision: { next: 'retry', runAt: NOW + 8000, counted: true, message: 'ep: boom' }, inDoubt: true },
  { name: 'circuit open with a fallback: next carrier, doubt as before', job: two, failure: { outcome: 'circuit_open', message: 'open', retryInMs: 3000 }, policy: { wasInDoubt: true },
    decision: { next: 'fallback', why: 'circuit open', counted: false }, inDoubt: true },
  { name: 'circuit open, carrier event, none left: manual', job: one, failure: { outcome: 'circuit_open', message: 'open', retryInMs: 3000 },
    decision: { next: 'manual', errorClass: 'technical', reason: 'no_carrier_available', message: 'ep: circuit open and no fallback carrier left: ship it by hand or replay when a carrier is back', counted: false }, inDoubt: false },
  { name: 'circuit open, a warehouse: wait for half-open', job: one, failure: { outcome: 'circuit_open', message: 'open', retryInMs: 3000 }, policy: { role: 'warehouse' },
    decision: { next: 'retry', runAt: NOW + 3000, counted: false }, inDoubt: false },
  { name: 'circuit open, a publish to a carrier: waits (only events fall to manual)', job: { ...one, kind: 'publish' as never }, failure: { outcome: 'circuit_open', message: 'open', retryInMs: Infinity },
    decision: { next: 'retry', runAt: NOW + 1000, counted: false }, inDoubt: false },
];

for (const r of rows) {
  test(`afterFailure: ${r.name}`, () => {
    const got = afterFailure(r.job, r.failure, { ...policy, ...r.policy });
    assert.equal(got, { decision: r.decision, inDoubt: r.inDoubt });
  });
}

test('afterFailure redacts the message it stores', () => {
  const got = afterFailure(one, { outcome: 'permanent', message: 'key sk_live_1 refused' }, { ...policy, redact: (m) => m.replaceAll('sk_live_1', '[redacted]') });
  assert.equal((got.decision as { message: string }).message, 'ep: key [redacted] refused');
});

test('classifyFailure: the adapter boundary decides, once', () => {
  assert.equal(classifyFailure(new PartnerError('permanent', 'bad', { status: 422, reason: 'invalid_address' })), { outcome: 'permanent', message: 'bad', status: 422, reason: 'invalid_address' });
  assert.equal(classifyFailure(new PartnerError('retryable', 'slow', { status: 429, retryAfterMs: 10 })), { outcome: 'retryable', message: 'slow', status: 429, retryAfterMs: 10 });
  assert.equal(classifyFailure(new PartnerError('retryable', 'late', { timedOut: true })).outcome, 'timeout');
  assert.equal(classifyFailure(new CircuitOpenError('ep', 5)), { outcome: 'circuit_open', message: new CircuitOpenError('ep', 5).message, retryInMs: 5 });
  assert.equal(classifyFailure(new TypeError('fetch failed')), { outcome: 'retryable', message: 'fetch failed' });
  assert.ok(answeredNo({ outcome: 'retryable', message: '', status: 404 }));
  assert.not.ok(answeredNo({ outcome: 'retryable', message: '' }), 'no answer at all: the partner may have acted');
  assert.not.ok(answeredNo({ outcome: 'retryable', message: '', status: 502 }));
});

test('failed(): the decision applied by the transition; a fallback after a label call in doubt remembers the carrier left behind', () => {
  const job = { ...two, id: 'e/ship', subject: 'e', step: 'ship', action: 'createShipment', state: 'running', calls: 1, in_doubt: true, run_at: '', key: 'e:ship' } as unknown as Job;
  const iso = (ms = NOW) => new Date(ms).toISOString();
  job.attempts = 2;
  const r = failed(job, afterFailure(job, { outcome: 'timeout', message: 'late' }, policy), iso);
  assert.equal(r.fellBack, { from: 'ep', to: 'shippo', why: 'gave up after 3 attempts (late)' });
  assert.equal([job.state, job.candidate, job.attempts, job.in_doubt, job.abandoned], ['pending', 1, 0, false, ['ep']]);
  const r2 = failed(job, afterFailure(job, { outcome: 'permanent', message: 'no', reason: 'invalid_address' }, { ...policy, partner: 'shippo' }), iso);
  assert.ok(r2.gaveUp);
  assert.equal([job.state, job.error_class, job.reason, job.last_error, job.dead_at], ['dead', 'business', 'invalid_address', 'shippo: no', iso()]);
});

test.run();
