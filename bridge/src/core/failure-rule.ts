/**
 * The one failure rule: what becomes of a job after a failed call, or a call its partner's open
 * circuit refused. Pure (no I/O, no clock of its own): `afterFailure(job, failure, policy)` returns
 * a decision that the transitions module applies. Every rule of the engine's failure handling is
 * here, so its table tests cover all of it:
 *
 * - the partner answered "no" (a permanent refusal, a 4xx, a 503): it did not act, earlier doubt stays;
 *   anything else (timeout, 5xx, connection lost) may have acted: the next call is in doubt;
 * - permanent → dead letter, a business exception (the partner's reason, else `refused_by_partner`);
 * - 429/503 with a fallback left → the next carrier now;
 * - Retry-After → wait as asked, not counted as an attempt;
 * - otherwise counted: capped exponential backoff with full jitter; attempts exhausted → the next
 *   carrier, else manual handling when the route had several carriers, else a dead letter;
 * - circuit open → the next carrier; none left: a carrier event goes to manual handling; anything
 *   else waits for the circuit to half-open.
 */
import { PartnerError, type BusinessReason } from '../adapters/types.ts';
import { backoffDelay } from '../backoff.ts';
import { CircuitOpenError } from './policy.ts';
import type { Job, JobReason } from './jobs.ts';

/** How a call ended, as the metrics and the audit name it. */
export type FailureOutcome = 'retryable' | 'permanent' | 'timeout' | 'circuit_open';

/** A failed call, classified once from what the adapter boundary threw. */
export interface Failure {
  outcome: FailureOutcome;
  /** The partner's message (not yet prefixed with the partner id, not yet redacted). */
  message: string;
  /** HTTP status of the partner's answer, when it answered. */
  status?: number;
  retryAfterMs?: number;
  /** A permanent refusal's business reason. */
  reason?: BusinessReason;
  /** Circuit open: when it may half-open. */
  retryInMs?: number;
}

/** What the rule needs to know beyond the job. */
export interface FailurePolicy {
  /** The partner as it appears in messages (already safe to show). */
  partner: string;
  /** The partner's role: a carrier event with nowhere to go goes to manual handling. */
  role?: string;
  backoff: { base_ms: number; cap_ms: number };
  /** Whether the job was already in doubt before this call (an earlier call may have acted). */
  wasInDoubt: boolean;
  now: number;
  random: () => number;
  /** Turns a message into one safe to store (credentials scrubbed). */
  redact?: (message: string) => string;
}

export type Decision =
  /** Pending again at `runAt`; `counted`: the failure used one of the job's attempts. */
  | { next: 'retry'; runAt: number; counted: boolean; message?: string }
  /** Leave this candidate for the next one, now. */
  | { next: 'fallback'; why: string; counted: boolean }
  /** A person must act. */
  | { next: 'dead' | 'manual'; errorClass: 'technical' | 'business'; reason?: JobReason; message: string; counted: boolean };

export interface AfterFailure {
  decision: Decision;
  /** Whether the partner may have acted without us knowing (the next call is in doubt). */
  inDoubt: boolean;
}

type JobFacts = Pick<Job, 'attempts' | 'max_attempts' | 'candidate' | 'candidates' | 'kind'>;

/** Classifies what a partner call threw (a PartnerError from the adapter or the gate, a CircuitOpenError, or a bug). */
export function classifyFailure(e: unknown): Failure {
  if (e instanceof CircuitOpenError) return { outcome: 'circuit_open', message: e.message, retryInMs: e.retryInMs };
  if (!(e instanceof PartnerError)) return { outcome: 'retryable', message: String((e as Error)?.message ?? e) };
  const d = e.details;
  return {
    outcome: e.kind === 'permanent' ? 'permanent' : d.timedOut ? 'timeout' : 'retryable',
    message: e.message,
    ...(d.status !== undefined && { status: d.status }),
    ...(d.retryAfterMs !== undefined && { retryAfterMs: d.retryAfterMs }),
    ...(d.reason && { reason: d.reason }),
  };
}

/** The partner answered "no": it did not act (a permanent refusal, any answer under 500, a 503). */
export function answeredNo(f: Failure): boolean {
  return f.outcome === 'permanent' || (f.status !== undefined && (f.status < 500 || f.status === 503));
}

const DAY_MS = 86_400_000;

/** The decision after `failure` of the job's current candidate; `job` is not changed. */
export function afterFailure(job: JobFacts, failure: Failure, policy: FailurePolicy): AfterFailure {
  const hasNext = job.candidate + 1 < job.candidates.length;
  const { partner, now } = policy;
  if (failure.outcome === 'circuit_open') {
    // Refused before calling: the partner was not reached, doubt stays as it was.
    const inDoubt = policy.wasInDoubt;
    if (hasNext) return { inDoubt, decision: { next: 'fallback', why: 'circuit open', counted: false } };
    if (policy.role === 'carrier' && job.kind === 'event') {
      return { inDoubt, decision: { next: 'manual', errorClass: 'technical', reason: 'no_carrier_available', counted: false,
        message: `${partner}: circuit open and no fallback carrier left: ship it by hand or replay when a carrier is back` } };
    }
    const wait = Math.max(1, Number.isFinite(failure.retryInMs) ? failure.retryInMs! : 1000);
    return { inDoubt, decision: { next: 'retry', runAt: now + wait, counted: false } };
  }
  const inDoubt = answeredNo(failure) ? policy.wasInDoubt : true;
  const redact = policy.redact ?? ((m: string) => m);
  // A partner echoing a credential back must not put it in the event's status.
  const message = redact(`${partner}: ${failure.message}`);
  const status = failure.status;
  if (failure.outcome === 'permanent') {
    return { inDoubt, decision: { next: 'dead', errorClass: 'business', reason: failure.reason ?? 'refused_by_partner', message, counted: false } };
  }
  if ((status === 429 || status === 503) && hasNext) return { inDoubt, decision: { next: 'fallback', why: `refused for now (${status})`, counted: false } };
  if (failure.retryAfterMs !== undefined) {
    const wait = Math.max(0, Math.min(failure.retryAfterMs, DAY_MS));
    return { inDoubt, decision: { next: 'retry', runAt: now + wait, counted: false, message: `${message} (Retry-After ${failure.retryAfterMs} ms, not counted)` } };
  }
  const attempts = job.attempts + 1;
  if (job.max_attempts > 0 && attempts >= job.max_attempts) {
    if (hasNext) return { inDoubt, decision: { next: 'fallback', why: `gave up after ${attempts} attempts (${failure.message})`, counted: true } };
    if (job.candidates.length > 1) {
      return { inDoubt, decision: { next: 'manual', errorClass: 'technical', reason: 'no_carrier_available', counted: true, message: `${message}; every carrier of the route failed: ship it by hand or replay` } };
    }
    return { inDoubt, decision: { next: 'dead', errorClass: 'technical', reason: 'attempts_exhausted', counted: true, message: `${message} (after ${attempts} attempts)` } };
  }
  return { inDoubt, decision: { next: 'retry', runAt: now + backoffDelay(attempts, policy.backoff.base_ms, policy.backoff.cap_ms, policy.random), counted: true, message } };
}
