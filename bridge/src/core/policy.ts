/**
 * Per-partner resilience: a rate limit that is never exceeded, a concurrency cap, a timeout and a
 * circuit breaker. Concurrency and breaker are cockatiel 4 policies; cockatiel has no rate
 * limiter, so the token bucket is here (a dozen lines, on the injected clock), and neither is its
 * timeout: cockatiel's TimeoutPolicy hangs an abort listener per call on one module-wide signal
 * (`neverAbortedSignal`) when no signal is given, so more than ten calls in flight raised a
 * MaxListenersExceededWarning, and each call cost two controllers and their listeners. The
 * deadline here is one AbortController per call and nothing else.
 */
import {
  bulkhead, circuitBreaker, ConsecutiveBreaker, handleWhen, wrap, BrokenCircuitError, TaskCancelledError,
  CircuitState, type IBackoff, type IBackoffFactory, type IHalfOpenAfterBackoffContext,
} from 'cockatiel';
import { PartnerError } from '../adapters/types.ts';
import type { LimitsConfig } from '../config/schema.ts';

export { backoffDelay } from '../backoff.ts';

/** A token bucket on an injected clock. */
export class TokenBucket {
  private tokens: number;
  private last: number;
  constructor(private readonly perSecond: number, private readonly burst: number, now: number) {
    this.tokens = burst;
    this.last = now;
  }
  private refill(now: number) {
    if (now > this.last) {
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.perSecond) / 1000);
      this.last = now;
    }
  }
  /** Takes a token and returns 0, or returns how many ms until one is available (taking nothing). */
  take(now: number): number {
    this.refill(now);
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil(((1 - this.tokens) * 1000) / this.perSecond));
  }
  /** Share of the bucket available now (0..1). */
  level(now: number): number {
    this.refill(now);
    return Math.max(0, Math.min(1, this.tokens / this.burst));
  }
}

/**
 * cockatiel's breaker compares `Date.now()` with its open time; this backoff decides "still open"
 * from the injected clock instead, so breaker tests need no real waiting.
 */
function halfOpenOnClock(ms: number, now: () => number): IBackoffFactory<IHalfOpenAfterBackoffContext> {
  const make = (): IBackoff<IHalfOpenAfterBackoffContext> => {
    const openedAt = now();
    return {
      get duration() {
        return now() - openedAt >= ms ? -1 : Number.POSITIVE_INFINITY;
      },
      next: () => make(),
    };
  };
  return { next: () => make() };
}

/**
 * Runs `fn` with its own signal, aborted after `ms`; the call is given up at the deadline even if
 * `fn` ignores the signal (cockatiel's aggressive strategy), with cockatiel's TaskCancelledError.
 */
export async function withDeadline<T>(ms: number, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ctrl = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      ctrl.abort();
      reject(new TaskCancelledError(`Operation timed out after ${ms}ms`));
    }, ms);
  });
  try {
    return await Promise.race([fn(ctrl.signal), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Thrown (without calling the partner) when its circuit is open. */
export class CircuitOpenError extends Error {
  constructor(readonly partner: string, readonly retryInMs: number) {
    super(`circuit open for ${partner}`);
    this.name = 'CircuitOpenError';
  }
}

export type ResolvedLimits = Required<Omit<LimitsConfig, 'rate' | 'burst'>> & { rate?: number; burst?: number };

/** The resilience wrapper around one partner's calls. */
export interface PartnerGate {
  readonly id: string;
  readonly limits: ResolvedLimits;
  /** Free concurrency slots right now. */
  freeSlots(): number;
  /** 0 when a request may go now (a token is taken), else ms until one may. */
  takeToken(): number;
  /** Share of the rate limit's bucket available now (0..1); undefined without a rate limit. */
  bucketLevel(): number | undefined;
  /** Whether calls are refused right now, and for how long at most. */
  circuit(): { open: boolean; retryInMs: number; state: 'closed' | 'open' | 'half-open' | 'isolated' };
  /** Runs one call under concurrency cap, breaker and timeout; errors come out as PartnerError or CircuitOpenError. */
  call<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T>;
}

/** Builds a partner's gate; `now` is the injected clock in ms. */
export function createPartnerGate(id: string, limits: ResolvedLimits, now: () => number): PartnerGate {
  const bucket = limits.rate ? new TokenBucket(limits.rate, limits.burst ?? Math.max(1, Math.ceil(limits.rate)), now()) : undefined;
  // The engine reserves slots itself before its first await; the bulkhead is the backstop (a queue,
  // never a rejection that would be mistaken for a partner failure).
  const slots = bulkhead(limits.concurrency, Number.MAX_SAFE_INTEGER);
  // Only failures that say "the partner is unwell" count: transient errors without a Retry-After
  // (a 429 is the partner pacing us, a permanent error is the partner answering) and timeouts.
  const unwell = handleWhen((e) => e instanceof TaskCancelledError || (e instanceof PartnerError && e.kind === 'retryable' && e.details.retryAfterMs === undefined));
  let openedAt = 0;
  const breaker = circuitBreaker(unwell, {
    breaker: new ConsecutiveBreaker(limits.breaker.consecutive_failures),
    halfOpenAfter: halfOpenOnClock(limits.breaker.half_open_after_ms, now),
  });
  breaker.onBreak(() => { openedAt = now(); });
  const policy = wrap(slots, breaker);
  const stateName = (s: CircuitState) => (s === CircuitState.Open ? 'open' : s === CircuitState.HalfOpen ? 'half-open' : s === CircuitState.Isolated ? 'isolated' : 'closed');
  return {
    id,
    limits,
    freeSlots: () => slots.executionSlots,
    takeToken: () => (bucket ? bucket.take(now()) : 0),
    bucketLevel: () => bucket?.level(now()),
    circuit() {
      const state = breaker.state;
      if (state === CircuitState.Open) {
        const left = openedAt + limits.breaker.half_open_after_ms - now();
        return { open: left > 0, retryInMs: Math.max(0, left), state: stateName(state) };
      }
      // While a half-open probe runs, other calls would wait for it: treated as open until the
      // probe's outcome (its completion wakes the engine, so no timer is needed: Infinity).
      const held = state === CircuitState.HalfOpen || state === CircuitState.Isolated;
      return { open: held, retryInMs: held ? Number.POSITIVE_INFINITY : 0, state: stateName(state) };
    },
    async call(fn) {
      try {
        return await policy.execute(() => withDeadline(limits.timeout_ms, fn));
      } catch (e) {
        if (e instanceof BrokenCircuitError) throw new CircuitOpenError(id, Math.max(0, openedAt + limits.breaker.half_open_after_ms - now()));
        if (e instanceof TaskCancelledError) throw new PartnerError('retryable', `${id}: no answer within ${limits.timeout_ms} ms`, { cause: e, timedOut: true });
        if (e instanceof PartnerError) throw e;
        // An adapter is supposed to classify everything; an unclassified throw is treated as transient
        // (it will be retried, then dead-lettered as technical) so a bug never drops an event.
        throw new PartnerError('retryable', `${id}: unclassified adapter error: ${(e as Error)?.message ?? String(e)}`, { cause: e });
      }
    },
  };
}
