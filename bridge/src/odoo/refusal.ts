/**
 * What a failed write-back call means, and the one rule for what happens next (pure; table-tested in
 * test/engine/writeback-refusal.test.ts). The client classifies once (client.ts); the queues only
 * ever ask `nextStep`.
 * - transient: Odoo unreachable, 5xx, timeouts, serialization failure / lock not available /
 *   deadlock (Odoo replays those itself 5 times; what reaches us lost all 5): the whole writer waits.
 * - conflict:  409, or a unique-constraint race (e.g. "a partner cannot follow twice the same
 *   object", answered 422): the same call succeeds once the concurrent one has committed.
 * - permanent: malformed, or a validation that will not change: a dead letter for a person.
 * - auth:      401/403, refused key or missing rights: writing pauses with an alert.
 */
import { backoffDelay } from '../backoff.ts';

export type Refusal = 'transient' | 'conflict' | 'permanent' | 'auth';

const AUTH = /AccessDenied|SessionExpired|Invalid API key|invalid apikey/i;
const ACCESS = /AccessError/;
const CONTENTION = /SerializationFailure|TransactionRollbackError|could not serialize access|concurrent update|LockNotAvailable|could not obtain lock|deadlock detected|DeadlockDetected/i;
const RACE = /cannot follow twice|UniqueViolation|IntegrityError|duplicate key value|unique constraint/i;

/** Classifies an Odoo failure by its HTTP status (when there is one), exception name and message. */
export function classifyRefusal(f: { status?: number; name?: string; message: string }): Refusal {
  const text = `${f.name ?? ''} ${f.message}`;
  if (f.status === 401 || f.status === 403 || AUTH.test(text) || ACCESS.test(f.name ?? '')) return 'auth';
  if (CONTENTION.test(text)) return 'transient';
  if (f.status === 409 || RACE.test(text)) return 'conflict';
  if (f.status !== undefined && (f.status >= 500 || f.status === 408 || f.status === 429)) return 'transient';
  return 'permanent';
}

/** Retry limits of the rows themselves (the writer's own wait while Odoo is down is separate). */
export interface RowPolicy {
  /** A row conflicting this many times alone becomes a dead letter (still replayable). */
  maxConflicts: number;
  baseMs: number;
  capMs: number;
}
export const DEFAULT_ROW_POLICY: RowPolicy = { maxConflicts: 10, baseMs: 200, capMs: 30_000 };

/**
 * What happens after a call for `size` rows failed as a whole (`attempts`: conflicts the row already
 * had, for a row alone):
 * - pause: the writer stops until the key works (auth); wait: the writer backs off (transient);
 * - split: each row goes alone, after `delay_ms`, so one bad or contended item holds no other;
 * - retry: this row again after `delay_ms`, one attempt more; dead: a write-back dead letter.
 * Nothing is ever dropped.
 */
export type Step =
  | { do: 'pause' }
  | { do: 'wait' }
  | { do: 'split'; delay_ms: number }
  | { do: 'retry'; delay_ms: number }
  | { do: 'dead' };

export function nextStep(refusal: Refusal, rows: { size: number; attempts: number }, policy: RowPolicy = DEFAULT_ROW_POLICY, random: () => number = Math.random): Step {
  if (refusal === 'auth') return { do: 'pause' };
  if (refusal === 'transient') return { do: 'wait' };
  if (rows.size > 1) return { do: 'split', delay_ms: refusal === 'conflict' ? 50 + backoffDelay(1, policy.baseMs, policy.capMs, random) : 0 };
  if (refusal === 'permanent' || rows.attempts + 1 >= policy.maxConflicts) return { do: 'dead' };
  return { do: 'retry', delay_ms: 50 + backoffDelay(rows.attempts + 1, policy.baseMs, policy.capMs, random) };
}
