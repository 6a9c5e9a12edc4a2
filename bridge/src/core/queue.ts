/**
 * The queue role: what the engine needs from a durable job queue, and nothing more. The engine
 * decides what a job means, when a failed one runs again (failure-rule.ts) and when a person must
 * act; a queue only keeps jobs durably and hands them out in order:
 *
 * - one queue per partner, so a dead partner holds back only its own aggregates;
 * - within a partner, jobs of one `key` (the ordering group: the aggregate) are offered strictly
 *   one at a time, in enqueue order, through retries; other keys flow meanwhile;
 * - a held job (dead letter, manual handling) keeps its key blocked until it is replayed or discarded;
 * - a job taken by a worker that dies (its process killed, its heartbeat stopped) is offered again,
 *   marked `inDoubt`, within `recoveryBoundMs`; never to two workers at once.
 *
 * Implementations: bridge/src/queue/local.ts (one process, a keyed log) and bridge/src/queue/pgboss.ts (pg-boss on
 * PostgreSQL, several processes). test/contract/queue.test.ts is the one suite both pass.
 */

/** A job to enqueue. */
export interface NewQueueJob<P> {
  /** Chosen by the engine, unique across all partners (a job keeps it when it moves); every later call names the job by it. */
  id: string;
  /** The partner whose queue it joins. */
  partner: string;
  /** Ordering group (the aggregate): its jobs run one at a time, in enqueue order. */
  key: string;
  /** What the engine needs to run it (JSON: it is stored). */
  payload: P;
}

/** A job a worker holds: it must be settled with complete, retryAt or hold. */
export interface TakenJob<P> {
  id: string;
  partner: string;
  key: string;
  payload: P;
  /** An earlier taker stopped without settling it (died, or lost its heartbeat): the partner may have acted. */
  inDoubt: boolean;
  /** Implementation's claim on this attempt (a settle after the claim lapsed changes nothing). */
  readonly claim: unknown;
}

/** A held job (dead letter or manual handling), blocking its key. */
export interface HeldJob<P> {
  id: string;
  partner: string;
  key: string;
  payload: P;
}

export interface JobQueue<P> {
  /** The bound (ms) within which a job of a dead worker is offered again; the contract suite checks it. */
  readonly recoveryBoundMs: number;
  /** Adds jobs durably (resolves once stored). An id already queued is left as it is: enqueue is safe to repeat. */
  enqueue(jobs: NewQueueJob<P>[]): Promise<void>;
  /**
   * Takes up to `max` due jobs of the partner, each the head of its key, never holding more than
   * the partner's concurrency (per worker) at once.
   */
  take(partner: string, max?: number): Promise<TakenJob<P>[]>;
  /** Done: the job leaves the queue and its key's next job may run. False: the claim had lapsed. */
  complete(job: TakenJob<P>): Promise<boolean>;
  /** Runs again at `at` (epoch ms), first of its key still; `payload` replaces the stored one when given. */
  retryAt(job: TakenJob<P>, at: number, payload?: P): Promise<boolean>;
  /** A person must act: kept, and its key blocked, until replay or discard. */
  hold(job: TakenJob<P>, payload?: P): Promise<boolean>;
  /**
   * Moves the job to another partner's queue (a fallback carrier) in one atomic step: due at once,
   * last of its key there, not in doubt (a new partner was never called); its old key flows on.
   */
  moveTo(job: TakenJob<P>, partner: string, payload?: P): Promise<boolean>;
  /** The partner's held jobs, oldest first. */
  held(partner: string): Promise<HeldJob<P>[]>;
  /** A held job runs again at once (first of its key). False: no such held job. */
  replay(partner: string, id: string, payload?: P): Promise<boolean>;
  /** A held job leaves the queue; its key flows again. False: no such held job. */
  discard(partner: string, id: string): Promise<boolean>;
  /** Stops heartbeats and timers and releases connections; jobs in hand stay taken (a restart finds them in doubt). */
  close(): Promise<void>;
}

/** How many jobs one worker may hold per partner. */
export type ConcurrencyOf = (partner: string) => number;

/** The error a queue throws for a misuse the caller must fix. */
export class QueueError extends Error {
  constructor(message: string, readonly data?: Record<string, unknown>) {
    super(message);
    this.name = 'QueueError';
  }
}
