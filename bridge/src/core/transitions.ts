/**
 * The only functions that change a job's state (as OCA queue_job's `set_*` methods). Each one is a
 * named transition of the job's life, changes only the job it is given, and does no I/O: the
 * engine persists and announces what changed.
 *
 *   pending ──startCall──▶ running ──succeeded──▶ done ──applied
 *      ▲                      │
 *      ├──retryLater / fallBack◀── afterFailure (failure-rule.ts) ──▶ giveUp ──▶ dead | manual
 *      ├──interrupted (recovery: the process died during the call)
 *      ├──deferred (the engine itself failed around the call)
 *   dead | manual ──replayed──▶ pending          dead | manual ──discarded──▶ discarded
 */
import type { StepResult } from '../adapters/types.ts';
import type { AfterFailure } from './failure-rule.ts';
import type { Job, JobReason } from './jobs.ts';
import { LABELS } from './void-check.ts';

export const DEAD_STATES: ReadonlySet<string> = new Set(['dead', 'manual']);
export const FINISHED: ReadonlySet<string> = new Set(['done', 'discarded']);

export const partnerOf = (job: Job): string => job.candidates[job.candidate];

/** A call leaves: counted, and in doubt until its answer is stored. */
export function startCall(job: Job): void {
  job.state = 'running';
  job.calls += 1;
  job.in_doubt = true;
}

/** The partner's open circuit refused the call before it left: not a call, doubt as before. */
export function refusedByBreaker(job: Job, inDoubt: boolean): void {
  job.calls -= 1;
  job.in_doubt = inDoubt;
}

/** The partner's answer arrived: stored before anything is done with it. */
export function succeeded(job: Job, result: StepResult | undefined): void {
  job.state = 'done';
  job.result = result ?? {};
  job.in_doubt = false;
  job.applied = false;
  job.last_error = undefined;
  job.error_class = undefined;
  job.reason = undefined;
}

/** The stored answer was applied (data bag, milestones). */
export function applied(job: Job): void {
  job.applied = true;
}

/** Pending again at `runAt` (RFC 3339); `message` replaces the last error when given. */
export function retryLater(job: Job, runAt: string, message?: string): void {
  job.state = 'pending';
  job.run_at = runAt;
  if (message !== undefined) job.last_error = message;
}

/** Leaves the current candidate for the next one, at once. */
export function fallBack(job: Job, why: string, at: string): { from: string; to: string } {
  const from = partnerOf(job);
  // A label may exist at the carrier we leave (a call that may have acted): check it once the fallback bought one.
  if (job.in_doubt && LABELS.has(job.action)) job.abandoned = [...new Set([...(job.abandoned ?? []), from])];
  job.candidate += 1;
  job.attempts = 0;
  job.in_doubt = false;
  job.state = 'pending';
  job.run_at = at;
  job.last_error = `${from}: ${why}; falling back to ${partnerOf(job)}`;
  return { from, to: partnerOf(job) };
}

/** A person must act: the dead-letter queue (dead) or manual handling. */
export function giveUp(job: Job, state: 'dead' | 'manual', errorClass: 'technical' | 'business', reason: JobReason | undefined, message: string, at: string): void {
  job.state = state;
  job.error_class = errorClass;
  job.reason = reason;
  job.last_error = message;
  job.dead_at = at;
}

/** Applies the failure rule's decision; says whether the job gave up or fell back, for the engine to announce. */
export function failed(job: Job, after: AfterFailure, iso: (ms?: number) => string): { gaveUp: boolean; fellBack?: { from: string; to: string; why: string } } {
  const d = after.decision;
  job.in_doubt = after.inDoubt;
  if (d.counted) job.attempts += 1;
  switch (d.next) {
    case 'retry':
      retryLater(job, iso(d.runAt), d.message);
      return { gaveUp: false };
    case 'fallback':
      return { gaveUp: false, fellBack: { ...fallBack(job, d.why, iso()), why: d.why } };
    default:
      giveUp(job, d.next, d.errorClass, d.reason, d.message, iso());
      return { gaveUp: true };
  }
}

/** Found running on start: the process died during the call, so the partner may have acted. */
export function interrupted(job: Job, runAt: string): void {
  job.state = 'pending';
  job.in_doubt = true;
  job.run_at = runAt;
}

/** The engine failed around the call (store I/O, a bug): the job waits and runs again. */
export function deferred(job: Job, runAt: string): void {
  if (job.state !== 'pending' && job.state !== 'running') return;
  job.state = 'pending';
  job.run_at = runAt;
}

/** A cancel goes to whoever performed what it undoes (a fallback carrier, say). */
export function redirected(job: Job, performer: string): void {
  job.candidates = [performer];
  job.candidate = 0;
}

/** An operator replays a dead or manual job: from the first candidate, with the same key unless asked for a new one. */
export function replayed(job: Job, opts: { newKey?: boolean; payload?: unknown }, at: string): void {
  job.state = 'pending';
  job.attempts = 0;
  job.candidate = 0;
  job.run_at = at;
  job.last_error = undefined;
  job.error_class = undefined;
  job.dead_at = undefined;
  job.replays += 1;
  // Replaying an interrupted unsafe call is the operator's word that the partner did not act.
  if (job.reason === 'may_have_applied') job.in_doubt = false;
  if (opts.newKey) {
    job.rekeys += 1;
    job.key = `${job.subject.split('~')[0]}:${job.step}:r${job.rekeys}`;
    // A new key is a new request: nothing to reconcile against the old one.
    job.in_doubt = false;
  }
  job.reason = undefined;
  if (opts.payload !== undefined) job.payload = opts.payload;
}

/** An operator discards a dead or manual job. */
export function discarded(job: Job): void {
  job.state = 'discarded';
}
