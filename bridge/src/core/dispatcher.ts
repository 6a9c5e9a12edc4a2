/**
 * The dispatcher: starts every job that may run now, in order per group, within each partner's
 * concurrency cap, rate limit and circuit; wakes itself for the earliest job that may not run yet.
 * It knows nothing of what a call does: it is handed `run` and `circuitOpen`.
 */
import type { Logger } from '../log.ts';
import type { EngineIO } from './engine-parts.ts';
import type { JobIndex } from './job-index.ts';
import type { Job } from './jobs.ts';
import type { PartnerGate } from './policy.ts';

export interface DispatcherDeps {
  index: JobIndex;
  gates: ReadonlyMap<string, PartnerGate>;
  roleOf(partnerId: string): string | undefined;
  /** Runs one job's call (never throws). */
  run(job: Job): Promise<void>;
  /** The job's partner has an open circuit and the job should not wait for it: fall back or give up. */
  circuitOpen(job: Job, retryInMs: number): Promise<void>;
  /** Called after each pump (the engine takes waiting events from the store when there is room). */
  afterPump(): void;
  io: Pick<EngineIO, 'setTimeout' | 'clearTimeout'>;
  nowMs(): number;
  logger: Logger;
}

export interface Dispatcher {
  pump(): void;
  /** Calls in flight (and other tracked work). */
  readonly inFlight: ReadonlySet<Promise<void>>;
  /** Calls started per partner and not finished. */
  busy(partnerId: string): number;
  /** Tracks work so stop() and runDue() wait for it; a partner's slot is freed when it ends. */
  track(p: Promise<void>, partnerId?: string): void;
  /** Nothing starts while paused (recovery) or after stop. */
  setPaused(paused: boolean): void;
  /** Begins waking itself (after start). */
  begin(): void;
  stop(): void;
}

export function createDispatcher(d: DispatcherDeps): Dispatcher {
  const { index, gates, io, nowMs } = d;
  const inFlight = new Set<Promise<void>>();
  /** Reserved when scheduled, before the first await. */
  const busy = new Map<string, number>();
  let wake: { at: number; handle: unknown } | undefined;
  let running = false;
  let paused = false;

  function schedule(at: number) {
    if (!running || !Number.isFinite(at)) return;
    if (wake && wake.at <= at) return;
    if (wake && io.clearTimeout) io.clearTimeout(wake.handle);
    const me = { at, handle: undefined as unknown };
    me.handle = io.setTimeout(() => {
      if (wake !== me) return;
      wake = undefined;
      pump();
    }, Math.max(0, at - nowMs()));
    wake = me;
  }

  function track(p: Promise<void>, partnerId?: string) {
    const t: Promise<void> = p
      .catch((e) => d.logger.error({ err: e }, 'engine step failed unexpectedly'))
      .finally(() => {
        inFlight.delete(t);
        if (partnerId) busy.set(partnerId, (busy.get(partnerId) ?? 1) - 1);
        pump();
      });
    inFlight.add(t);
  }

  function pump() {
    if (stopped || paused) return;
    const now = nowMs();
    let next = Number.POSITIVE_INFINITY;
    for (const [partnerId, set] of index.pending) {
      const gate = gates.get(partnerId);
      if (!gate) continue; // recovery dead-letters jobs of partners no longer configured
      const carrier = d.roleOf(partnerId) === 'carrier';
      for (const job of set) {
        if (!index.isHead(job)) continue;
        const due = Date.parse(job.run_at);
        if (due > now) {
          next = Math.min(next, due);
          continue;
        }
        const circuit = gate.circuit();
        if (circuit.open) {
          // A carrier with an open circuit: fall back now, or (no alternate left) manual handling; while
          // a half-open probe runs, wait for its outcome instead of giving up on the carrier.
          if (carrier && job.kind === 'event' && (job.candidate + 1 < job.candidates.length || circuit.state === 'open')) {
            set.delete(job);
            track(d.circuitOpen(job, circuit.retryInMs));
            continue;
          }
          next = Math.min(next, now + Math.max(1, circuit.retryInMs));
          // A job that waits for this carrier (a void check) must not hold back later shipments' fallbacks.
          if (carrier) continue;
          break;
        }
        if ((busy.get(partnerId) ?? 0) >= gate.limits.concurrency) break;
        const wait = gate.takeToken();
        if (wait > 0) {
          next = Math.min(next, now + wait);
          break;
        }
        set.delete(job);
        busy.set(partnerId, (busy.get(partnerId) ?? 0) + 1);
        track(d.run(job), partnerId);
      }
    }
    schedule(next);
    d.afterPump();
  }

  let stopped = false;
  return {
    pump,
    inFlight,
    busy: (id) => busy.get(id) ?? 0,
    track,
    setPaused(v) {
      paused = v;
    },
    begin() {
      running = true;
      stopped = false;
    },
    stop() {
      stopped = true;
      running = false;
      if (wake && io.clearTimeout) io.clearTimeout(wake.handle);
      wake = undefined;
    },
  };
}
