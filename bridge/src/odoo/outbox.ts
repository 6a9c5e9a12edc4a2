/**
 * The durable milestone outbox and its writer. Milestones are stored before anything else happens,
 * then written to Odoo in batches, in order per aggregate (never two batches in flight for the same
 * aggregate). Batch size and batches in flight adapt to Odoo's answer times (additive increase,
 * multiplicative decrease). Odoo down: rows wait and drain after recovery. Serialization conflicts:
 * retried soon. Authentication refused: writing pauses with an alert (no retry storm) and probes
 * rarely until the key works again (or an operator calls `resume()`).
 */
import type { Milestone } from '../../../shared/src/index.ts';
import type { Store } from '../store/types.ts';
import type { Logger } from '../log.ts';
import type { ResolvedOdoo } from '../config/load.ts';
import type { ParsedConfig } from '../config/schema.ts';
import { workflowOfMilestone } from '../core/routing.ts';
import { backoffDelay } from '../core/policy.ts';
import { OdooError, type OdooClient } from './client.ts';

export const OUTBOX = 'odoo_outbox';
export const EVENT_STATES_OUTBOX = 'odoo_event_states';

/** The latest delivery state of an event, waiting to be shown in Odoo (one row per event, replaced on change). */
export interface EventStateRow {
  /** The event id. */
  id: string;
  state: string;
  attempts: number;
  last_error?: string;
  error_class?: string;
  blocked_by?: string;
  /** When the bridge recorded this state (RFC 3339). */
  at: string;
}

/** One milestone waiting for Odoo. Written rows are deleted; Odoo deduplicates by `id` anyway. */
export interface OutboxRow {
  /** The milestone id. */
  id: string;
  milestone: Milestone;
  aggregate: string;
  /** Enqueue order; within an aggregate, lower is written first. */
  seq: number;
  /** Calls in which Odoo failed this row itself (outages, conflicts and auth pauses are not counted). */
  attempts: number;
  /** Earliest next write (RFC 3339); batch workflows wait for their flush. */
  run_at: string;
  /** pending: to write; rejected: Odoo refused it (a dead letter until replayed or discarded). */
  state: 'pending' | 'rejected';
  /** Send alone, not in a batch (a batch with it failed as a whole). */
  solo?: boolean;
  last_error?: string;
  dead_at?: string;
  replays?: number;
  created_at: string;
  updated_at: string;
}

/** What the write-back queue holds: for its status, the metrics and the overview. */
export interface OutboxFigures {
  pending: number;
  rejected: number;
  /** `created_at` of the oldest pending row (the write-back lag); absent when none waits. */
  oldest_pending_at?: string;
}

/** Counts the rows of the write-back queue. */
export function outboxFigures(rows: Iterable<OutboxRow>): OutboxFigures {
  let pending = 0;
  let rejected = 0;
  let oldest: OutboxRow | undefined;
  for (const r of rows) {
    if (r.state === 'rejected') { rejected++; continue; }
    pending++;
    if (!oldest || Date.parse(r.created_at) < Date.parse(oldest.created_at)) oldest = r;
  }
  return { pending, rejected, ...(oldest && { oldest_pending_at: oldest.created_at }) };
}

export interface WritebackStatus extends OutboxFigures {
  configured: boolean;
  in_flight: number;
  batch_size: number;
  max_in_flight: number;
  /** Odoo unreachable or timing out; rows wait. */
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
  /** Queues an event's latest delivery state for Odoo's screens (replaces an unsent older one). */
  enqueueState(state: Omit<EventStateRow, 'at'>): Promise<void>;
  start(): void;
  stop(): Promise<void>;
  /** Writes every due batch now, until nothing is due or Odoo fails (the timer calls it; tests too). */
  runDue(): Promise<void>;
  /** Lifts an authentication pause now (after an operator fixed the key). */
  resume(): void;
  status(): WritebackStatus;
  rejected(): OutboxRow[];
  /** Queues a rejected row again, optionally with an edited milestone; undefined for an unknown id. */
  replay(id: string, milestone?: Milestone): Promise<{ before: Milestone } | undefined>;
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
  /** A row Odoo failed this many times alone goes to the dead-letter queue. Default 3. */
  maxRowAttempts?: number;
  /** Called with the milestones Odoo committed (applied, duplicate or stale), for metrics. */
  onWritten?: (milestones: Milestone[]) => void;
}

/** Odoo has no such method: JSON-2 answers 404, /jsonrpc an AttributeError "The method ... does not exist". */
export function methodMissing(err: OdooError): boolean {
  return err.details.status === 404 || /AttributeError/.test(err.details.name ?? '') || /method '[^']*' does not exist/i.test(err.message);
}

/** Creates the write-back outbox and its writer (idle when no client is configured). */
export function createWriteback(options: WritebackOptions): Writeback {
  const { store, client, io, logger } = options;
  const settings = options.settings;
  const maxBatch = settings?.batch_size ?? 100;
  const maxInFlight = settings?.max_in_flight ?? 2;
  const target = settings?.target_latency_ms ?? 2_000;
  const authProbeMs = options.authProbeMs ?? 60_000;
  const downCapMs = options.downCapMs ?? 30_000;
  const maxRowAttempts = options.maxRowAttempts ?? 3;
  const col = store.collection<OutboxRow>(OUTBOX);
  const nowMs = () => io.now().getTime();
  const iso = (ms = nowMs()) => new Date(ms).toISOString();

  let rows: Map<string, OutboxRow> | undefined;
  const statesCol = store.collection<EventStateRow>(EVENT_STATES_OUTBOX);
  let states: Map<string, EventStateRow> | undefined;
  let statesMethod = client ? (settings?.event_states_method ?? 'apply_event_states') : '';
  const stateTable = () => (states ??= new Map(statesCol.all().map((r) => [r.id, r])));
  let seq = 0;
  let batchSize = Math.max(1, Math.min(maxBatch, 10));
  let inFlightLimit = 1;
  const busyAggregates = new Set<string>();
  const inFlight = new Set<Promise<void>>();
  let blockedUntil = 0;
  let failures = 0;
  let conflicts = 0;
  let odooDown = false;
  let authPaused = false;
  let alert: string | undefined;
  let lastError: string | undefined;
  let written = 0;
  let started = false;
  let stopped = false;
  let timer: { at: number; handle: unknown } | undefined;

  function table(): Map<string, OutboxRow> {
    if (!rows) {
      rows = new Map(col.all().map((r) => [r.id, structuredClone(r)]));
      for (const r of rows.values()) seq = Math.max(seq, r.seq);
    }
    return rows;
  }
  async function save(list: OutboxRow[]) {
    for (const r of list) r.updated_at = iso();
    await col.put(list.map((r) => structuredClone(r)));
  }

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

  /** The next batch: due rows in enqueue order, never overtaking an earlier row of the same aggregate. */
  function pick(now: number): OutboxRow[] {
    const held = new Set(busyAggregates);
    const batch: OutboxRow[] = [];
    let next = Number.POSITIVE_INFINITY;
    const ordered = [...table().values()].filter((r) => r.state === 'pending').sort((a, b) => a.seq - b.seq);
    for (const r of ordered) {
      if (held.has(r.aggregate)) continue;
      const due = Date.parse(r.run_at);
      if (due > now) {
        held.add(r.aggregate);
        next = Math.min(next, due);
        continue;
      }
      if (r.solo) {
        if (batch.length === 0) return [r];
        held.add(r.aggregate);
        continue;
      }
      batch.push(r);
      if (batch.length >= batchSize) break;
    }
    if (!batch.length) schedule(next);
    return batch;
  }

  function adapt(ms: number, ok: boolean) {
    if (ok && ms <= target) {
      batchSize = Math.min(maxBatch, batchSize + Math.max(1, Math.ceil(maxBatch / 10)));
      if (ms <= target / 2) inFlightLimit = Math.min(maxInFlight, inFlightLimit + 1);
    } else {
      batchSize = Math.max(1, Math.floor(batchSize / 2));
      inFlightLimit = Math.max(1, Math.floor(inFlightLimit / 2));
    }
  }

  async function send(batch: OutboxRow[]) {
    const started_ = nowMs();
    try {
      const results = await client!.applyMilestones(batch.map((r) => r.milestone));
      adapt(nowMs() - started_, true);
      failures = 0;
      conflicts = 0;
      if (authPaused) logger.info({}, 'Odoo accepts the write-back credentials again: resuming');
      authPaused = false;
      alert = undefined;
      if (odooDown) logger.info({}, 'Odoo answers again: draining the write-back queue');
      odooDown = false;
      lastError = undefined;
      const done: string[] = [];
      const rejected: OutboxRow[] = [];
      results.forEach((res, i) => {
        const row = batch[i];
        if (res.status === 'rejected') {
          row.state = 'rejected';
          row.attempts += 1;
          row.last_error = res.message ?? 'rejected by Odoo';
          row.dead_at = iso();
          rejected.push(row);
          logger.warn({ milestone_id: row.id, type: row.milestone.type, aggregate: row.aggregate, message: row.last_error }, 'Odoo rejected a milestone');
        } else {
          done.push(row.id);
          table().delete(row.id);
        }
      });
      written += done.length;
      if (done.length && options.onWritten) {
        const ids = new Set(done);
        options.onWritten(batch.filter((r) => ids.has(r.id)).map((r) => r.milestone));
      }
      if (rejected.length) await save(rejected);
      if (done.length) await col.delete(done);
    } catch (e) {
      const err = e instanceof OdooError ? e : new OdooError('unavailable', String((e as Error)?.message ?? e), { cause: e });
      lastError = err.message;
      const now = nowMs();
      if (err.kind === 'auth') {
        if (!authPaused) logger.error({ error: err.message }, 'ALERT: Odoo refused the write-back credentials; write-back paused until the key is fixed');
        authPaused = true;
        alert = `Odoo refused the integration user's credentials (${err.message}); fix the API key (${settings?.api_key_env ?? 'odoo.api_key'}) or the user's access; write-back resumes by itself`;
        blockedUntil = now + authProbeMs;
      } else if (err.kind === 'conflict' && conflicts < 10) {
        conflicts += 1;
        adapt(0, false);
        blockedUntil = now + 50 + backoffDelay(conflicts, 100, 2_000, io.random);
        logger.info({ conflicts, error: err.message }, 'Odoo serialization conflict: retrying the batch');
      } else if (err.kind === 'application') {
        adapt(0, false);
        if (batch.length > 1) {
          // One item may poison the batch: send each alone to find it.
          for (const r of batch) r.solo = true;
          await save(batch);
        } else {
          const r = batch[0];
          r.attempts += 1;
          r.last_error = err.message;
          if (r.attempts >= maxRowAttempts) {
            r.state = 'rejected';
            r.dead_at = iso();
            logger.warn({ milestone_id: r.id, error: err.message }, 'Odoo failed this milestone repeatedly: dead letter');
          } else {
            r.run_at = iso(now + backoffDelay(r.attempts, 1_000, 60_000, io.random));
          }
          await save([r]);
        }
      } else {
        failures += 1;
        adapt(0, false);
        if (!odooDown) logger.warn({ error: err.message }, 'Odoo unavailable: milestones wait in the outbox');
        odooDown = true;
        blockedUntil = now + 100 + backoffDelay(failures, 500, downCapMs, io.random);
      }
    }
  }

  /**
   * One push of event states at a time: every runDue ends with one, and runDue runs on each
   * enqueued state, so concurrent pushes sent the same first batch again and again (hundreds of
   * identical calls in flight under load). A push keeps going until the table is empty, so a
   * caller that finds one running waits for it.
   */
  let pushingStates: Promise<void> | undefined;
  function pushStates(): Promise<void> {
    return (pushingStates ??= sendStates().finally(() => { pushingStates = undefined; }));
  }

  /**
   * Pushes queued event states in batches. A method Odoo lacks (an older module) turns the push off;
   * any other refusal drops that batch only (states are for Odoo's screens: the next change of each
   * event is pushed again), so one bad batch never silences the push for good.
   */
  async function sendStates() {
    const t = stateTable();
    while (statesMethod && t.size) {
      const batch = [...t.values()].slice(0, maxBatch);
      let results: unknown;
      try {
        results = await client!.call(statesMethod, { states: batch }, [batch]);
      } catch (e) {
        const err = e instanceof OdooError ? e : new OdooError('unavailable', String(e));
        if (err.kind !== 'application') return;
        if (methodMissing(err)) {
          logger.warn({ method: statesMethod, error: err.message }, 'Odoo does not take event delivery states; the push is off (states stay visible in the bridge)');
          statesMethod = '';
          const ids = [...t.keys()];
          t.clear();
          await statesCol.delete(ids);
          return;
        }
        logger.warn({ method: statesMethod, error: err.message, states: batch.length }, 'Odoo refused a batch of event delivery states; dropped, the push stays on');
      }
      if (Array.isArray(results)) {
        const refused = (results as { id?: string; status?: string; message?: string }[]).filter((r) => r?.status === 'rejected');
        if (refused.length) logger.warn({ refused: refused.slice(0, 5) }, 'Odoo refused some event delivery states');
      }
      // Only rows not replaced by a newer state meanwhile are done.
      const sent = batch.filter((r) => t.get(r.id) === r).map((r) => r.id);
      for (const id of sent) t.delete(id);
      await statesCol.delete(sent);
    }
  }

  const writer: Writeback = {
    async enqueueState(state) {
      if (!statesMethod) return;
      const row: EventStateRow = { ...state, at: iso() };
      stateTable().set(row.id, row);
      await statesCol.put([row]);
      schedule(nowMs());
    },
    async enqueue(milestones) {
      const t = table();
      const now = nowMs();
      const fresh: OutboxRow[] = [];
      for (const m of milestones) {
        if (t.has(m.id)) continue;
        const wf = options.workflows?.[workflowOfMilestone(m.type)];
        const runAt = wf?.mode === 'batch' ? Math.ceil(now / wf.flush_interval_ms) * wf.flush_interval_ms : now;
        const row: OutboxRow = {
          id: m.id, milestone: m, aggregate: m.aggregate, seq: ++seq, attempts: 0, run_at: iso(runAt), state: 'pending',
          created_at: iso(now), updated_at: iso(now),
        };
        t.set(row.id, row);
        fresh.push(row);
      }
      if (fresh.length) {
        await save(fresh);
        schedule(nowMs());
      }
    },
    start() {
      started = true;
      stopped = false;
      table();
      schedule(nowMs());
    },
    async stop() {
      stopped = true;
      if (timer && io.clearTimeout) io.clearTimeout(timer.handle);
      timer = undefined;
      while (inFlight.size) await Promise.allSettled([...inFlight]);
    },
    async runDue() {
      if (!client) return;
      for (;;) {
        const now = nowMs();
        if (now < blockedUntil) {
          schedule(blockedUntil);
          break;
        }
        // While paused, one batch of one probes whether the key works again.
        if (authPaused) batchSize = 1;
        while (inFlight.size < inFlightLimit) {
          const batch = pick(now);
          if (!batch.length) break;
          for (const r of batch) busyAggregates.add(r.aggregate);
          const p: Promise<void> = send(batch).finally(() => {
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
      if (!authPaused && !odooDown && nowMs() >= blockedUntil) await pushStates();
    },
    resume() {
      authPaused = false;
      alert = undefined;
      blockedUntil = 0;
      schedule(nowMs());
    },
    status() {
      return {
        configured: !!client, ...outboxFigures(table().values()), in_flight: inFlight.size, batch_size: batchSize, max_in_flight: inFlightLimit,
        odoo_down: odooDown, auth_paused: authPaused, ...(alert && { alert }), ...(lastError && { last_error: lastError }), written,
      };
    },
    rejected: () => [...table().values()].filter((r) => r.state === 'rejected').map((r) => structuredClone(r)),
    async replay(id, milestone) {
      const r = table().get(id);
      if (!r || r.state !== 'rejected') return undefined;
      const before = r.milestone;
      if (milestone) r.milestone = milestone;
      r.state = 'pending';
      r.attempts = 0;
      r.solo = undefined;
      r.last_error = undefined;
      r.dead_at = undefined;
      r.replays = (r.replays ?? 0) + 1;
      r.run_at = iso();
      await save([r]);
      schedule(nowMs());
      return { before };
    },
    async discard(id) {
      const r = table().get(id);
      if (!r || r.state !== 'rejected') return undefined;
      table().delete(id);
      await col.delete([id]);
      return { event_id: r.milestone.event_id };
    },
  };
  return writer;
}
