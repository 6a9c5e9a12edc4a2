/**
 * The write-back to Odoo: two durable queues (milestones; event delivery states, row-queue.ts) and
 * their writer. Everything is stored before anything else happens, then written in batches, in order
 * per aggregate (never two calls in flight for one aggregate), one run at a time (single flight).
 * Kind to Odoo's workers, which also serve its users: rows are gathered for `coalesce_ms` (1 s) after the
 * first one arrives, so a picking's milestones and the states of its events go in one call each
 * rather than one call per change; milestone batch size and calls in flight adapt to Odoo's answer
 * times (pace.ts: against Odoo's own quickest recent answer, additive increase, multiplicative
 * decrease, and a pause between calls while Odoo answers slower than usual). A failed call follows the one failure rule (refusal.ts): Odoo down or
 * contended, rows wait and drain after recovery; a batch refused as a whole is split so one bad or
 * contended item holds no other; conflicts are retried with backoff; a permanent refusal is a
 * write-back dead letter (replayable, discardable); authentication refused, writing pauses with an
 * alert and probes rarely until the key works again (or an operator calls `resume()`). Nothing is dropped.
 */
import type { Milestone } from '../../../shared/src/index.ts';
import type { Store } from '../store/types.ts';
import type { Logger } from '../log.ts';
import type { ResolvedOdoo } from '../config/load.ts';
import type { ParsedConfig } from '../config/schema.ts';
import { workflowOfMilestone } from '../config/schema.ts';
import { backoffDelay } from '../backoff.ts';
import { OdooError, type OdooClient } from './client.ts';
import { DEFAULT_ROW_POLICY, nextStep, type Refusal, type RowPolicy } from './refusal.ts';
import { createRowQueue, queueFigures, type QueueFigures, type QueueRow, type RowQueue } from './row-queue.ts';
import { createPace, type PaceFigures } from './pace.ts';
import { STATE_PREFIX, upgradeStateRow, type EventState, type StateResult, type StateRow } from './state-queue.ts';

export const OUTBOX = 'odoo_outbox';
export const EVENT_STATES_OUTBOX = 'odoo_event_states';
export type { EventState, StateRow } from './state-queue.ts';

/** One milestone waiting for Odoo. Written rows are deleted; Odoo deduplicates by `id` anyway. */
export interface OutboxRow extends QueueRow {
  /** The milestone id. */
  id: string;
  milestone: Milestone;
}

/** What the write-back queues hold: for its status, the metrics and the overview. */
export interface OutboxFigures extends QueueFigures {
  /** Event states waiting for Odoo, and those Odoo refused (dead letters). */
  states_pending?: number;
  states_rejected?: number;
}

/** Counts the rows of the milestone queue. */
export const outboxFigures = (rows: Iterable<OutboxRow>): OutboxFigures => queueFigures(rows);

/** Both queues' figures as the store holds them (when no writer is at hand, e.g. another process's metrics). */
export function storedWritebackFigures(store: Store): OutboxFigures {
  const s = queueFigures(store.collection<StateRow>(EVENT_STATES_OUTBOX).all().map(upgradeStateRow));
  return { ...queueFigures(store.collection<OutboxRow>(OUTBOX).all()), states_pending: s.pending, states_rejected: s.rejected };
}

export interface WritebackStatus extends OutboxFigures {
  configured: boolean;
  in_flight: number;
  batch_size: number;
  max_in_flight: number;
  /** The adaptive pace: Odoo's baseline and recent answer times, the pause between calls. */
  pace?: PaceFigures;
  /** Odoo unreachable, failing or too contended to answer (transient); rows wait. */
  odoo_down: boolean;
  /** Authentication refused: writing is paused until the key works again. An alert for people. */
  auth_paused: boolean;
  alert?: string;
  last_error?: string;
  written: number;
}

export interface Writeback {
  /** Stores milestones durably for writing (a milestone already queued is not queued twice). */
  enqueue(milestones: Milestone[]): Promise<void>;
  /** Queues an event's latest delivery state for Odoo's screens (replaces an unsent older one); `at` defaults to now. */
  enqueueState(state: Omit<EventState, 'at'> & { at?: string }): Promise<void>;
  start(): void;
  stop(): Promise<void>;
  /** Writes every due row now, until nothing is due or Odoo fails; a call during a run joins it and runs once more. */
  runDue(): Promise<void>;
  /** Lifts an authentication pause now (after an operator fixed the key). */
  resume(): void;
  status(): WritebackStatus;
  rejected(): OutboxRow[];
  rejectedStates(): StateRow[];
  /** Queues a dead letter again (`state:<event id>` for a state), optionally with an edited milestone; undefined for an unknown id. */
  replay(id: string, milestone?: Milestone): Promise<{ before?: Milestone; event_id?: string } | undefined>;
  discard(id: string): Promise<{ event_id?: string } | undefined>;
}

export interface WritebackOptions {
  store: Store;
  client?: OdooClient;
  settings?: Partial<ResolvedOdoo>;
  io: { now: () => Date; random: () => number; setTimeout: (fn: () => void, ms: number) => unknown; clearTimeout?: (h: any) => void };
  logger: Logger;
  workflows?: ParsedConfig['workflows'];
  /** How often a paused writer probes Odoo with one batch. Default 60 s. */
  authProbeMs?: number;
  /** Cap of the wait between tries while Odoo is down. Default 30 s. */
  downCapMs?: number;
  /** Retry limits of rows Odoo fails alone (conflicts). */
  rowPolicy?: Partial<RowPolicy>;
  /** Called with the milestones Odoo committed (applied, duplicate or stale), for metrics. */
  onWritten?: (milestones: Milestone[]) => void;
  /** Called with every refusal as classified (a failed call, or one item Odoo rejected), for metrics. */
  onRefused?: (refusal: Refusal, queue: 'milestones' | 'states') => void;
}

/** Odoo has no such method: JSON-2 answers 404, /jsonrpc an AttributeError "The method ... does not exist". */
export function methodMissing(err: OdooError): boolean {
  return err.details.status === 404 || /AttributeError/.test(err.details.name ?? '') || /method '[^']*' does not exist/i.test(err.message);
}

/** Creates the write-back queues and their writer (idle when no client is configured). */
export function createWriteback(options: WritebackOptions): Writeback {
  const { store, client, io, logger } = options;
  const settings = options.settings;
  const maxBatch = settings?.batch_size ?? 100;
  const maxInFlight = settings?.max_in_flight ?? 2;
  const target = settings?.target_latency_ms ?? 2_000;
  const coalesceMs = settings?.coalesce_ms ?? 0;
  const pace = createPace({ max: maxInFlight, targetMs: target });
  const authProbeMs = options.authProbeMs ?? 60_000;
  const downCapMs = options.downCapMs ?? 30_000;
  const rowPolicy = { ...DEFAULT_ROW_POLICY, ...options.rowPolicy };
  const nowMs = () => io.now().getTime();
  const iso = (ms = nowMs()) => new Date(ms).toISOString();
  const milestones = createRowQueue<OutboxRow>(store.collection<OutboxRow>(OUTBOX), nowMs);
  const states = createRowQueue<StateRow>(store.collection<StateRow>(EVENT_STATES_OUTBOX), nowMs, upgradeStateRow);
  let statesMethod = client ? (settings?.event_states_method ?? 'apply_event_states') : '';

  let batchSize = Math.max(1, Math.min(maxBatch, 10));
  const busyAggregates = new Set<string>();
  const inFlight = new Set<Promise<void>>();
  let blockedUntil = 0;
  let failures = 0;
  let odooDown = false;
  let authPaused = false;
  let alert: string | undefined;
  let lastError: string | undefined;
  let written = 0;
  let started = false;
  let stopped = false;
  let timer: { at: number; handle: unknown } | undefined;
  let run: Promise<void> | undefined;
  let runAgain = false;

  function schedule(at: number) {
    if (!started || stopped || !client || !Number.isFinite(at)) return;
    if (timer && timer.at <= at) return;
    if (timer && io.clearTimeout) io.clearTimeout(timer.handle);
    const me = { at, handle: undefined as unknown };
    me.handle = io.setTimeout(() => {
      if (timer !== me) return;
      timer = undefined;
      void writer.runDue().catch((e) => logger.error({ err: e }, 'write-back failed unexpectedly'));
    }, Math.max(0, at - nowMs()));
    timer = me;
  }

  function adapt(ms: number, ok: boolean) {
    pace.observe(ms, ok);
    if (ok && ms <= target) batchSize = Math.min(maxBatch, batchSize + Math.max(1, Math.ceil(maxBatch / 10)));
    else batchSize = Math.max(1, Math.floor(batchSize / 2));
    // Odoo answers slower than its own usual: the next call waits (pace.ts).
    const gap = pace.gapMs();
    if (gap > 0) blockedUntil = Math.max(blockedUntil, nowMs() + gap);
  }

  /** Odoo answered a call: whatever pause or outage there was is over. */
  function answered(ms: number) {
    adapt(ms, true);
    failures = 0;
    if (authPaused) logger.info({}, 'Odoo accepts the write-back credentials again: resuming');
    if (odooDown) logger.info({}, 'Odoo answers again: draining the write-back queues');
    authPaused = false;
    odooDown = false;
    alert = undefined;
    lastError = undefined;
  }

  /** A call for `batch` failed as a whole: the failure rule says what happens to it. */
  async function failed<R extends QueueRow>(queue: RowQueue<R>, batch: R[], e: unknown, what: 'milestones' | 'states') {
    const err = e instanceof OdooError ? e : new OdooError('transient', String((e as Error)?.message ?? e), { cause: e });
    lastError = err.message;
    options.onRefused?.(err.kind, what);
    const step = nextStep(err.kind, { size: batch.length, attempts: batch[0].attempts }, rowPolicy, io.random);
    const now = nowMs();
    if (step.do === 'pause') {
      if (!authPaused) logger.error({ error: err.message }, 'ALERT: Odoo refused the write-back credentials; write-back paused until the key is fixed');
      authPaused = true;
      alert = `Odoo refused the integration user's credentials (${err.message}); fix the API key (${settings?.api_key_env ?? 'odoo.api_key'}) or the user's access; write-back resumes by itself`;
      blockedUntil = now + authProbeMs;
      return;
    }
    adapt(0, false);
    if (step.do === 'wait') {
      failures += 1;
      if (!odooDown) logger.warn({ error: err.message, queue: what }, 'Odoo unavailable or contended: write-back waits and retries');
      odooDown = true;
      blockedUntil = now + 100 + backoffDelay(failures, 500, downCapMs, io.random);
      return;
    }
    const log = { queue: what, refusal: err.kind, rows: batch.length, first: batch[0].id, error: err.message };
    if (step.do === 'dead') logger.warn(log, 'Odoo refused a write-back for good: dead letter (replay or discard it on the dashboard)');
    else logger.info({ ...log, step: step.do }, 'Odoo refused a write-back call: retrying');
    await queue.settle(batch, step, err.message);
  }

  async function sendMilestones(batch: OutboxRow[]) {
    const t0 = nowMs();
    try {
      const results = await client!.applyMilestones(batch.map((r) => r.milestone));
      answered(nowMs() - t0);
      const rejected = batch.filter((_, i) => results[i].status === 'rejected');
      const done = batch.filter((_, i) => results[i].status !== 'rejected');
      for (const r of rejected) {
        const message = results[batch.indexOf(r)].message ?? 'rejected by Odoo';
        logger.warn({ milestone_id: r.id, type: r.milestone.type, aggregate: r.aggregate, message }, 'Odoo rejected a milestone');
        options.onRefused?.('permanent', 'milestones');
        await milestones.settle([r], { do: 'dead' }, message);
      }
      written += done.length;
      if (done.length && options.onWritten) options.onWritten(done.map((r) => r.milestone));
      await milestones.done(done);
    } catch (e) {
      await failed(milestones, batch, e, 'milestones');
    }
  }

  async function sendStates(batch: StateRow[]) {
    const t0 = nowMs();
    const items = batch.map((r) => r.item);
    try {
      const results = await client!.call<StateResult[]>(statesMethod, { states: items }, [items]);
      if (!Array.isArray(results)) throw new OdooError('permanent', `${statesMethod} answered ${typeof results}, not one result per state: is the Odoo module up to date?`);
      answered(nowMs() - t0);
      for (const [i, r] of batch.entries()) {
        if (results[i]?.status !== 'rejected') continue;
        options.onRefused?.('permanent', 'states');
        logger.warn({ event_id: r.id, state: r.item.state, message: results[i].message }, 'Odoo rejected an event delivery state: dead letter');
        await states.settle([r], { do: 'dead' }, results[i].message ?? 'rejected by Odoo');
      }
      await states.done(batch.filter((_, i) => results[i]?.status !== 'rejected'));
    } catch (e) {
      if (e instanceof OdooError && e.kind === 'permanent' && methodMissing(e)) {
        logger.warn({ method: statesMethod, error: e.message }, 'Odoo does not take event delivery states; the push is off (states stay visible in the bridge)');
        statesMethod = '';
        await states.done(states.rows());
        return;
      }
      await failed(states, batch, e, 'states');
    }
  }

  async function runOnce() {
    for (;;) {
      const now = nowMs();
      if (now < blockedUntil) break;
      // While paused, one batch of one probes whether the key works again.
      if (authPaused) batchSize = 1;
      while (inFlight.size < pace.limit() && nowMs() >= blockedUntil) {
        const { batch, next } = milestones.pick(now, batchSize, busyAggregates);
        if (!batch.length) {
          schedule(next);
          break;
        }
        for (const r of batch) busyAggregates.add(r.aggregate);
        const p: Promise<void> = sendMilestones(batch).finally(() => {
          for (const r of batch) busyAggregates.delete(r.aggregate);
          inFlight.delete(p);
        });
        inFlight.add(p);
        if (authPaused) break;
      }
      if (!inFlight.size) break;
      await Promise.race(inFlight);
    }
    while (inFlight.size) await Promise.allSettled([...inFlight]);
    // While paused, one state alone probes the key (also when no milestone waits).
    while (statesMethod && nowMs() >= blockedUntil) {
      const { batch, next } = states.pick(nowMs(), authPaused ? 1 : Math.max(batchSize, 10));
      if (!batch.length) {
        schedule(next);
        break;
      }
      await sendStates(batch);
    }
    if (blockedUntil > nowMs()) schedule(blockedUntil);
  }

  const writer: Writeback = {
    async enqueueState(state) {
      if (!statesMethod) return;
      const item: EventState = { ...state, at: state.at ?? iso() };
      await states.put([{ ...states.fresh(item.id), id: item.id, item } as StateRow]);
      // The window opened by the first waiting row gathers the next changes into its call.
      schedule(nowMs() + coalesceMs);
    },
    async enqueue(list) {
      const now = nowMs();
      const fresh = new Map<string, OutboxRow>();
      for (const m of list) {
        if (milestones.has(m.id) || fresh.has(m.id)) continue;
        const wf = options.workflows?.[workflowOfMilestone(m.type)];
        const runAt = wf?.mode === 'batch' ? Math.ceil(now / wf.flush_interval_ms) * wf.flush_interval_ms : now;
        fresh.set(m.id, { ...milestones.fresh(m.aggregate, runAt), id: m.id, milestone: m });
      }
      if (fresh.size) {
        await milestones.put([...fresh.values()]);
        schedule(nowMs() + coalesceMs);
      }
    },
    start() {
      started = true;
      stopped = false;
      milestones.figures();
      states.figures();
      schedule(nowMs());
    },
    async stop() {
      stopped = true;
      if (timer && io.clearTimeout) io.clearTimeout(timer.handle);
      timer = undefined;
      await run;
    },
    runDue() {
      if (!client) return Promise.resolve();
      if (run) {
        runAgain = true;
        return run;
      }
      run = (async () => {
        try {
          do {
            runAgain = false;
            await runOnce();
          } while (runAgain && !stopped);
        } finally {
          run = undefined;
        }
      })();
      return run;
    },
    resume() {
      authPaused = false;
      alert = undefined;
      blockedUntil = 0;
      schedule(nowMs());
    },
    status() {
      const s = states.figures();
      return {
        configured: !!client, ...milestones.figures(), states_pending: s.pending, states_rejected: s.rejected,
        in_flight: inFlight.size, batch_size: batchSize, max_in_flight: pace.limit(), pace: pace.figures(),
        odoo_down: odooDown, auth_paused: authPaused, ...(alert && { alert }), ...(lastError && { last_error: lastError }), written,
      };
    },
    rejected: () => milestones.rejected(),
    rejectedStates: () => states.rejected(),
    async replay(id, milestone) {
      const r = id.startsWith(STATE_PREFIX)
        ? await states.replay(id.slice(STATE_PREFIX.length))
        : await milestones.replay(id, milestone && ((row) => { row.milestone = milestone; }));
      if (!r) return undefined;
      schedule(nowMs());
      return 'milestone' in r ? { before: r.milestone, event_id: r.milestone.event_id } : { event_id: r.id };
    },
    async discard(id) {
      const r = id.startsWith(STATE_PREFIX) ? await states.discard(id.slice(STATE_PREFIX.length)) : await milestones.discard(id);
      if (!r) return undefined;
      return { event_id: 'milestone' in r ? r.milestone.event_id : r.id };
    },
  };
  return writer;
}
