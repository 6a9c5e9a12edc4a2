/**
 * The delivery engine: what happens to an event after the bridge acknowledged it, and to a
 * milestone until Odoo and the visibility partners have it.
 *
 * - Routing by configuration turns an event into partner steps (jobs); each job carries an
 *   idempotency key derived from the event id and step, reused by every retry and replay.
 * - Per aggregate, jobs run in `sequence` order: a later event waits while an earlier one retries,
 *   and is `blocked` (with `blocked_by`) while an earlier one is dead or in manual handling.
 * - Failures come classified from the adapter: retryable ones back off (capped exponential, full
 *   jitter; Retry-After honoured and not counted), permanent ones go to the dead-letter queue as
 *   business exceptions. Per partner: rate limit, concurrency cap, timeout, circuit breaker.
 * - Carrier steps fall back to alternates; with none left they go to manual handling.
 * - A partner's answer is stored before anything else happens with it; a call that may have
 *   acted without us recording it is reconciled (findShipment) before acting again.
 * - On start, jobs left running by a crash are resumed, and events never routed are routed.
 *
 * Memory follows the work in flight, not the volume seen: at most `maxActiveEvents` events are
 * routed into jobs at once (the rest wait in the store, backlog.ts); jobs and the aggregate
 * memory live in keyed logs (on disk, or in the store's database: stateLogs), append-only with
 * group commit; finished jobs leave memory and the log, and an aggregate's row is in memory only while it has jobs (aggregates.ts). Every step is
 * recorded in the audit trail (audit.ts).
 */
import type { Event, EventOf, Milestone } from '../../../shared/src/index.ts';
import { checkEvent, checkMilestone } from '../../../shared/src/index.ts';
import {
  PartnerError, type AdapterFactory, type AdapterIO, type CallContext, type CarrierAdapter, type PartnerAdapter, type StepResult, type StepSafety,
  type VisibilityAdapter, type WarehouseAdapter,
} from '../adapters/types.ts';
import type { Config, ResolvedPartner } from '../config/load.ts';
import type { Logger } from '../log.ts';
import type { EventState, EventStatus, Store } from '../store/types.ts';
import type { KeyedLog } from '../store/keyed-log.ts';
import { stateLogs, type StateLogs } from '../store/state-logs.ts';
import { ApiError } from '../errors.ts';
import { createWriteback, type Writeback } from '../odoo/outbox.ts';
import { STATE_PREFIX } from '../odoo/state-queue.ts';
import type { OdooClient } from '../odoo/client.ts';
import { createOdooClient } from '../odoo/client.ts';
import { AggregateMemory } from './aggregates.ts';
import { attemptEntries, auditTrail, OPERATORS_KEY, recordingCall, recordingFetch, redact, type CallScope } from './audit.ts';
import { createBacklog, eventsInEngine } from './backlog.ts';
import { migrateLegacyCollections } from './legacy.ts';
import { byDeadAt, matches, page, stateWritebackView, writebackView, type DeadLetter, type DeadLetterFilter } from './dead-letter-view.ts';
import { createHeadroom } from './headroom.ts';
import { LABELS, refOf, voidCheckJob, voidLeftover, voidSubject } from './void-check.ts';
import { AGGREGATES, AUDIT, JOBS, OPERATOR_ACTIONS, type AggregateRow, type AuditEntry, type Job, type JobReason } from './jobs.ts';
import { backoffDelay, CircuitOpenError, createPartnerGate, type PartnerGate, type ResolvedLimits } from './policy.ts';
import { ownershipRefusal, planSteps, routingAttributes, UNDOES, visibilityPartners, workflowOfEvent, workflowOfMilestone, type Action } from './routing.ts';

export type { DeadLetter, DeadLetterFilter } from './dead-letter-view.ts';

/** I/O the engine takes from outside, so tests run on a fake clock with no network. */
export interface EngineIO {
  fetch: typeof fetch;
  now: () => Date;
  random: () => number;
  setTimeout: (fn: () => void, ms: number) => unknown;
  clearTimeout?: (handle: any) => void;
  /** Folder root for file-based partners. */
  dataDir?: string;
}

/**
 * The metrics the engine records, when given (structurally bridge/src/observability/metrics.ts's
 * `Metrics`; the engine does not import it).
 */
export interface EngineMetrics {
  partnerCall(partnerId: string, outcome: 'success' | 'retryable' | 'permanent' | 'timeout' | 'circuit_open', secondsTaken: number, errorClass?: 'none' | 'technical' | 'business'): void;
  rateLimited(partnerId: string): void;
  deadLettered(errorClass: 'technical' | 'business', reason?: string): void;
  orderRelease(partnerId: string, ok: boolean): void;
  labelRequest(partnerId: string, ok: boolean): void;
  firstPartnerRequest(event: { type: string; occurred_at: string }, at?: Date): void;
  eventDelivered(event: { type: string; aggregate: string }, at?: Date): void;
  milestonesWritten(milestones: { type: string; occurred_at: string; aggregate: string }[], at?: Date): void;
  milestonesSeen(milestones: { type: string; aggregate: string }[]): void;
  /** Odoo refused a write-back call or item (refusal.ts's class). */
  writebackRefused?(queue: 'milestones' | 'states', refusal: string): void;
}

export interface EngineOptions {
  store: Store;
  config: Config;
  registry: Record<string, AdapterFactory>;
  io?: Partial<EngineIO>;
  /** The Odoo write-back client; built from `config.odoo` when omitted; none: milestones wait in the outbox. */
  odoo?: OdooClient;
  logger: Logger;
  /** Prometheus figures (bridge/src/observability/metrics.ts `createMetrics()`), optional. */
  metrics?: EngineMetrics;
  /**
   * How long an aggregate's memory (partner ids, who may speak for it, last sequence) is kept after
   * its last activity. Default 180 days: beyond late tracking webhooks and returns.
   */
  aggregateRetentionMs?: number;
  /**
   * Folder of the engine's logs (jobs, aggregate memory, audit): the runtime gives `<data dir>/state`.
   * Ignored when the store keeps the logs itself (`Store.stateLogs`, PostgreSQL). Undefined keeps
   * them in memory with the store object (tests): a bridge on disk must set it, or a restart
   * forgets its work.
   */
  stateDir?: string;
  /** fdatasync the engine's logs on every group commit (BRIDGE_FSYNC=1). */
  fsync?: boolean;
  /** The logs themselves, instead of `stateLogs(store, { dir: stateDir, fsync })` (tests that simulate a crash). */
  logs?: StateLogs;
  /** Most events routed into jobs in memory at once; later ones wait in the store. Default 5000. */
  maxActiveEvents?: number;
  /** How long audit entries are kept (whole log segments are dropped). Default 30 days, as events. */
  auditRetentionMs?: number;
}

export interface ReplayOptions {
  actor: string;
  /** Issue a new idempotency key (the partner treats it as a new request). Default: keep the key. */
  new_key?: boolean;
  /** An edited payload; re-validated against the contract before anything changes. */
  payload?: unknown;
}

export interface Engine {
  /** Recovers work left by a crash, routes unrouted events, starts the timers. */
  start(): Promise<void>;
  /** Stops timers and waits for calls in flight. */
  stop(): Promise<void>;
  /** Runs everything due now until nothing more is (the timers call it; tests call it after moving the clock). */
  runDue(): Promise<void>;
  /** Partner milestones (from the inbound gateway or polling): ownership checked, then queued for Odoo and visibility partners. */
  acceptMilestones(milestones: unknown[], from: { partner: string }): Promise<{ accepted: string[]; refused: { id?: string; reason: string }[] }>;
  /** Collects updates from warehouses that offer `collectUpdates` now (the timer does it every poll_interval_ms). */
  pollNow(): Promise<void>;
  deadLetters: {
    list(filter?: DeadLetterFilter, page?: { limit?: number; cursor?: string }): { items: DeadLetter[]; next_cursor?: string };
    /** One entry, without its body. */
    get(id: string): DeadLetter | undefined;
    /** One entry with its body (the event, with an edited payload if any, or the milestone). */
    show(id: string): Promise<DeadLetter | undefined>;
    replay(id: string, options: ReplayOptions): Promise<DeadLetter | { id: string; state: string }>;
    replayMany(filter: DeadLetterFilter, options: Omit<ReplayOptions, 'payload'> & { limit?: number }): Promise<{ replayed: string[]; failed: { id: string; error: string }[] }>;
    discard(id: string, options: { actor: string; note?: string }): Promise<{ id: string; state: string }>;
  };
  /** The audit trail of an event (or dead-letter target), oldest first; without either, the oldest entries; `actions` narrows it. */
  audit(filter: { event_id?: string; target?: string; limit?: number; actions?: readonly string[] }): Promise<AuditEntry[]>;
  /** What operators and /readyz may want: breakers, queue depths, write-back health. */
  status(): EngineStatus;
  /** Current jobs (tests and diagnostics). */
  jobs(): Job[];
  /** The open partner steps of an event, and publishes of milestones it caused (dashboard). */
  steps(eventId: string): Job[];
  /** Sizes of what the engine holds in memory and on disk (diagnostics, the volume benchmark). */
  footprint(): { jobs: number; active_events: number; backlog: boolean; hot_aggregates: number; aggregates: number };
  readonly writeback: Writeback;
}

export interface EngineStatus {
  /** headroom: share of the partner's rate limit still available (0..1), when known. */
  partners: Record<string, { circuit: string; in_flight: number; pending: number; headroom?: number }>;
  jobs: { pending: number; running: number; dead: number; manual: number };
  writeback: ReturnType<Writeback['status']>;
}

const DEAD_STATES = new Set(['dead', 'manual']);
const FINISHED = new Set(['done', 'discarded']);
/** Event states that hold a place in the admission window (dead, manual and blocked ones wait for a person). */
const COUNTED = new Set<EventState>(['received', 'queued', 'delivering', 'retrying']);
const DAY = 86_400_000;

function defaults(io: Partial<EngineIO>): EngineIO {
  return {
    fetch: io.fetch ?? globalThis.fetch,
    now: io.now ?? (() => new Date()),
    random: io.random ?? Math.random,
    setTimeout: io.setTimeout ?? ((fn, ms) => { const t = setTimeout(fn, ms); t.unref?.(); return t; }),
    clearTimeout: io.clearTimeout ?? (io.setTimeout ? undefined : (h) => clearTimeout(h)),
    dataDir: io.dataDir ?? './data',
  };
}

/** Resolves a partner's limits with their defaults (the schema fills them; this keeps tests' hand-made configs honest). */
/** How a step of this adapter stays exactly once (undefined: not an effectful step, e.g. a void check's lookup). */
function safetyOf(adapter: PartnerAdapter, action: Job['action']): StepSafety | undefined {
  return (adapter.safety as Record<string, StepSafety>)[action];
}

function limitsOf(p: ResolvedPartner): ResolvedLimits {
  const l = p.limits ?? ({} as ResolvedPartner['limits']);
  return {
    rate: l.rate,
    burst: l.burst,
    concurrency: l.concurrency ?? 4,
    timeout_ms: l.timeout_ms ?? 15_000,
    max_attempts: l.max_attempts ?? 8,
    backoff: { base_ms: l.backoff?.base_ms ?? 1_000, cap_ms: l.backoff?.cap_ms ?? 300_000 },
    breaker: { consecutive_failures: l.breaker?.consecutive_failures ?? 5, half_open_after_ms: l.breaker?.half_open_after_ms ?? 30_000 },
  };
}

function nextFlush(now: number, interval: number): number {
  return Math.ceil(now / interval) * interval;
}

/** Creates the engine; call `start()` once the store is open. */
export function createEngine(options: EngineOptions): Engine {
  const { store, config, registry, logger, metrics, aggregateRetentionMs = 180 * DAY, maxActiveEvents = 5000, auditRetentionMs = 30 * DAY } = options;
  const io = defaults(options.io ?? {});
  const nowMs = () => io.now().getTime();
  const iso = (ms = nowMs()) => new Date(ms).toISOString();
  const logs = options.logs ?? stateLogs(store, { dir: options.stateDir, fsync: options.fsync });
  let jobsLog!: KeyedLog<Job>;
  let aggs!: AggregateMemory;
  let opened: Promise<void> | undefined;
  /** Opens the engine's logs (once; start() and the operator reads call it). */
  const open = () => (opened ??= (async () => {
    jobsLog = await logs.keyed<Job>(JOBS);
    aggs = new AggregateMemory(await logs.keyed<AggregateRow>(AGGREGATES, { stamp: (r) => Date.parse(r.updated_at) }), iso);
    await migrateLegacyCollections(store, jobsLog, aggs, logger);
  })().catch((e) => { opened = undefined; throw e; }));
  const audit = auditTrail(() => logs.history<AuditEntry>(AUDIT, { now: nowMs }), logger);
  /** Credential values: scrubbed from anything the audit records. */
  const secrets = [...config.partners.flatMap((p) => Object.values(p.credentials ?? {})), config.odoo?.api_key].filter((x): x is string => !!x);
  const adapterIO: AdapterIO = { fetch: recordingFetch(io.fetch, nowMs), now: io.now, dataDir: io.dataDir! };
  const headroom = createHeadroom(nowMs);

  const partners = new Map<string, ResolvedPartner>();
  const adapters = new Map<string, PartnerAdapter>();
  const gates = new Map<string, PartnerGate>();
  for (const [i, p] of config.partners.entries()) {
    const factory = registry[p.adapter];
    if (!factory) throw new Error(`partners[${i}].adapter: unknown adapter "${p.adapter}" (registry has ${Object.keys(registry).join(', ') || 'nothing'})`);
    if (factory.role !== p.role) throw new Error(`partners[${i}].role: adapter "${p.adapter}" is a ${factory.role}, not a ${p.role}`);
    partners.set(p.id, p);
    adapters.set(p.id, factory.create({ id: p.id, adapter: p.adapter, base_url: p.base_url, credentials: p.credentials, options: p.options ?? {} }, adapterIO));
    gates.set(p.id, createPartnerGate(p.id, limitsOf(p), nowMs));
  }

  const odooClient = options.odoo ?? (config.odoo ? createOdooClient({ ...config.odoo, fetch: io.fetch }) : undefined);
  const writeback = createWriteback({
    store, client: odooClient, settings: config.odoo, io, logger, workflows: config.workflows, onWritten: metrics && ((ms) => metrics.milestonesWritten(ms, io.now())),
    onRefused: (refusal, queue) => metrics?.writebackRefused?.(queue, refusal),
  });

  // In-memory indexes over the jobs collection (the engine is its only writer).
  const jobs = new Map<string, Job>();
  const bySubject = new Map<string, Set<Job>>();
  /** Unfinished jobs per ordering group. */
  const byGroup = new Map<string, Set<Job>>();
  /** Pending jobs per current partner, in arrival order. */
  const pending = new Map<string, Set<Job>>();
  /** Event jobs in memory per aggregate: its row stays in memory while there are any. */
  const aggJobs = new Map<string, number>();
  const inFlight = new Set<Promise<void>>();
  /** Calls started per partner and not finished (reserved when scheduled, before the first await). */
  const busy = new Map<string, number>();
  /** The last status written per event in memory (to skip repeats) and its state (for the audit). */
  const lastStatus = new Map<string, { key: string; state: EventState }>();
  /** Events holding a place in the admission window. */
  const active = new Set<string>();
  /** Request bodies already audited per job (a retry sends the same request again). */
  const transformed = new Map<string, Set<string>>();
  let refilling = false;
  let publishSeq = 0;
  let started = false;
  let stopped = false;
  /** While recovering, nothing starts: stored answers are applied before later steps may need them. */
  let recovering = false;
  let wake: { at: number; handle: unknown } | undefined;
  let pollTimer: unknown;
  let pruneTimer: unknown;
  let intake: Promise<unknown> = Promise.resolve();

  const partnerOf = (job: Job) => job.candidates[job.candidate];
  const roleOf = (id: string) => partners.get(id)?.role;
  const refillBatch = Math.max(1, Math.min(500, Math.ceil(maxActiveEvents / 10)));
  const backlog = createBacklog({ store, max: maxActiveEvents, active: () => active.size, known: (id) => bySubject.has(id), admit: (events) => admit(events) });

  function index(job: Job) {
    if (!jobs.has(job.id) && job.kind === 'event') aggJobs.set(job.aggregate, (aggJobs.get(job.aggregate) ?? 0) + 1);
    jobs.set(job.id, job);
    let s = bySubject.get(job.subject);
    if (!s) bySubject.set(job.subject, (s = new Set()));
    s.add(job);
    let g = byGroup.get(job.group);
    if (!g) byGroup.set(job.group, (g = new Set()));
    if (FINISHED.has(job.state)) g.delete(job);
    else g.add(job);
    if (g.size === 0) byGroup.delete(job.group);
    for (const set of pending.values()) set.delete(job);
    if (job.state === 'pending') {
      const p = partnerOf(job);
      let ps = pending.get(p);
      if (!ps) pending.set(p, (ps = new Set()));
      ps.add(job);
    }
  }
  function unindex(job: Job) {
    if (jobs.has(job.id) && job.kind === 'event') {
      const n = (aggJobs.get(job.aggregate) ?? 1) - 1;
      if (n > 0) aggJobs.set(job.aggregate, n);
      else aggJobs.delete(job.aggregate);
    }
    transformed.delete(job.id);
    jobs.delete(job.id);
    bySubject.get(job.subject)?.delete(job);
    if (bySubject.get(job.subject)?.size === 0) bySubject.delete(job.subject);
    byGroup.get(job.group)?.delete(job);
    if (byGroup.get(job.group)?.size === 0) byGroup.delete(job.group);
    pending.get(partnerOf(job))?.delete(job);
  }
  /** Writes jobs durably (copies: the collection must not see later in-memory changes before their own write). */
  async function persist(list: Job[]) {
    for (const j of list) {
      j.updated_at = iso();
      index(j);
    }
    await jobsLog.put(list.map((j) => structuredClone(j)));
  }

  /** The earliest unfinished job of the group that is dead or manual and comes before `seq`, if any. */
  function blockerOf(group: string, seq: number): Job | undefined {
    let best: Job | undefined;
    for (const j of byGroup.get(group) ?? []) if (j.seq < seq && DEAD_STATES.has(j.state) && (!best || j.seq < best.seq)) best = j;
    return best;
  }
  function isHead(job: Job): boolean {
    // A dead publish does not hold back later publishes: tracking news must not stall on one bad message.
    for (const j of byGroup.get(job.group) ?? []) if (j.seq < job.seq && !(j.kind === 'publish' && DEAD_STATES.has(j.state))) return false;
    return true;
  }

  /** The event's state as the store shows it, derived from its jobs. */
  function eventStatus(subject: string): Partial<EventStatus> & { state: EventState } {
    const js = [...(bySubject.get(subject) ?? [])];
    const attempts = js.reduce((n, j) => n + j.calls, 0);
    const failed = js.find((j) => j.state === 'dead') ?? js.find((j) => j.state === 'manual');
    if (failed) return { state: failed.state as 'dead' | 'manual', attempts, last_error: failed.last_error, error_class: failed.error_class, blocked_by: undefined };
    if (js.every((j) => j.state === 'done')) return { state: 'delivered', attempts, last_error: undefined, error_class: undefined, blocked_by: undefined };
    if (js.every((j) => FINISHED.has(j.state))) return { state: 'discarded', attempts, blocked_by: undefined };
    const last_error = js.find((j) => j.last_error)?.last_error;
    const blocker = js[0] && blockerOf(js[0].group, js[0].seq);
    if (blocker) return { state: 'blocked', attempts, blocked_by: blocker.subject, last_error: `waiting: earlier event ${blocker.subject} is ${blocker.state}` };
    if (js.some((j) => j.state === 'running')) return { state: 'delivering', attempts, last_error, blocked_by: undefined };
    if (js.some((j) => j.state === 'pending' && (j.attempts > 0 || j.last_error))) return { state: 'retrying', attempts, last_error, blocked_by: undefined };
    return { state: 'queued', attempts, last_error, blocked_by: undefined };
  }
  async function writeStatus(eventId: string, status: Partial<EventStatus> & { state: EventState }) {
    if (COUNTED.has(status.state)) active.add(eventId);
    else active.delete(eventId);
    const key = JSON.stringify(status);
    const prev = lastStatus.get(eventId);
    if (prev?.key === key) return;
    lastStatus.set(eventId, { key, state: status.state });
    if (prev?.state !== status.state) {
      void audit.record([{
        id: crypto.randomUUID(), at: iso(), actor: 'bridge', action: 'state', target: eventId, event_id: eventId, ...(prev && { from: prev.state }), to: status.state,
        ...(status.last_error && { last_error: redact(status.last_error, secrets) as string }), ...(status.blocked_by && { blocked_by: status.blocked_by }),
      }]);
    }
    try {
      await store.setStatus(eventId, status);
    } catch (e) {
      logger.error({ err: e, event_id: eventId }, 'cannot record event status');
      return;
    }
    // Odoo's screens show where each event stands (not the chatty in-between states).
    if (status.state !== 'queued' && status.state !== 'delivering') {
      await writeback.enqueueState({
        id: eventId, state: status.state, attempts: status.attempts ?? 0,
        ...(status.last_error && { last_error: status.last_error }), ...(status.error_class && { error_class: status.error_class }), ...(status.blocked_by && { blocked_by: status.blocked_by }),
      });
    }
  }
  /** Re-derives and records the status of every event in the group (blocked_by changes with the group). */
  async function refreshGroup(group: string) {
    const subjects = new Set<string>();
    for (const j of byGroup.get(group) ?? []) if (j.kind === 'event') subjects.add(j.subject);
    await Promise.all([...subjects].map((s) => writeStatus(s, eventStatus(s))));
  }

  /** An event whose jobs are all finished: record it, forget its jobs, let the next of its aggregate go. */
  async function settle(subject: string) {
    const js = [...(bySubject.get(subject) ?? [])];
    if (!js.length || !js.every((j) => FINISHED.has(j.state) && (j.state !== 'done' || j.applied))) {
      if (js[0]) await refreshGroup(js[0].group);
      return;
    }
    const first = js[0];
    if (first.kind === 'event') {
      const agg = aggs.row(first.aggregate);
      agg.high_water = Math.max(agg.high_water, first.seq);
      agg.updated_at = iso();
      await aggs.save(agg);
      const status = eventStatus(subject);
      await writeStatus(subject, status);
      lastStatus.delete(subject);
      active.delete(subject);
      if (status.state === 'delivered') metrics?.eventDelivered({ type: first.type, aggregate: first.aggregate }, io.now());
    }
    for (const j of js) unindex(j);
    // Its row is on disk: kept in memory only while jobs of the aggregate are.
    if (first.kind === 'event' && !aggJobs.has(first.aggregate)) aggs.evict(first.aggregate);
    await jobsLog.delete(js.map((j) => j.id));
    await refreshGroup(first.group);
  }

  // ---------------------------------------------------------------- admission

  /**
   * Routes events into jobs (idempotent: steps that already have a job are skipped). Fresh jobs
   * are not written: until a first call they can be planned again from the stored event (that is
   * what recovery does), which keeps the jobs file as small as the work in flight.
   */
  async function admit(events: Event[]) {
    const durable: Job[] = [];
    const touched = new Set<string>();
    const loaded = await aggs.load(events.map((e) => e.aggregate));
    const now = nowMs();
    for (const event of events) {
      const plan = planSteps(config, event);
      if (!plan.steps.length) {
        if (!bySubject.has(event.id)) {
          const job = unroutedJob(event, now);
          index(job);
          touched.add(job.group);
          durable.push(job);
        }
        continue;
      }
      const wf = config.workflows[workflowOfEvent(event.type)];
      const runAt = wf?.mode === 'batch' ? nextFlush(now, wf.flush_interval_ms) : now;
      const late = aggs.pin(event.aggregate, loaded.get(event.aggregate));
      const outOfOrder = !bySubject.has(event.id) && late && event.sequence <= late.high_water;
      for (const s of plan.steps) {
        const id = `${event.id}/${s.step}`;
        if (jobs.has(id)) continue;
        const limits = gates.get(s.candidates[0])!.limits;
        const job: Job = {
          id, kind: 'event', subject: event.id, event_id: event.id, type: event.type, aggregate: event.aggregate,
          group: event.aggregate, seq: event.sequence, step: s.step, action: s.action, candidates: s.candidates, candidate: 0, key: `${event.id}:${s.step}`,
          attempts: 0, max_attempts: limits.max_attempts, calls: 0, run_at: iso(runAt), state: outOfOrder ? 'dead' : 'pending', in_doubt: false,
          replays: 0, rekeys: 0, created_at: iso(now), updated_at: iso(now),
          ...(outOfOrder && {
            error_class: 'business' as const, reason: 'out_of_order' as const, dead_at: iso(now),
            last_error: `arrived after sequence ${late!.high_water} of ${event.aggregate} was already delivered; replay to deliver it late, or discard`,
          }),
        };
        index(job);
        touched.add(job.group);
        if (outOfOrder) durable.push(job);
      }
      logger.debug({ event_id: event.id, route: plan.route, steps: plan.steps.map((s) => s.step) }, 'event routed');
    }
    for (const key of loaded.keys()) if (!aggJobs.has(key)) aggs.evict(key);
    if (durable.length) await persist(durable);
    for (const g of touched) await refreshGroup(g);
    pump();
  }

  /** An event no rule routes: nobody heard of it, so a person decides (add a route and replay, or discard). */
  function unroutedJob(event: Event, now: number): Job {
    const job: Job = {
      id: `${event.id}/route`, kind: 'event', subject: event.id, event_id: event.id, type: event.type, aggregate: event.aggregate, group: event.aggregate,
      seq: event.sequence, step: 'route', action: 'route', candidates: [], candidate: 0, key: `${event.id}:route`, attempts: 0, max_attempts: 0, calls: 0,
      run_at: iso(now), state: 'manual', in_doubt: false, replays: 0, rekeys: 0, created_at: iso(now), updated_at: iso(now),
    };
    const attrs = Object.entries(routingAttributes(event)).filter(([, v]) => v !== undefined).map(([k, v]) => `${k} ${v}`).join(', ');
    giveUp(job, 'manual', 'business', 'unrouted', `no partner is routed for this ${event.type}${attrs ? ` (${attrs})` : ''}: add a route for it to the bridge configuration and replay, or discard it if no partner needs it`);
    return job;
  }

  // ---------------------------------------------------------------- scheduling

  function schedule(at: number) {
    if (stopped || !started || !Number.isFinite(at)) return;
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

  /** Starts every job that may run now; schedules a wake-up for the earliest one that may not yet. */
  function pump() {
    if (stopped || recovering) return;
    const now = nowMs();
    let next = Number.POSITIVE_INFINITY;
    for (const [partnerId, set] of pending) {
      const gate = gates.get(partnerId);
      if (!gate) continue; // recovery dead-letters jobs of partners no longer configured
      for (const job of set) {
        if (!isHead(job)) continue;
        const due = Date.parse(job.run_at);
        if (due > now) {
          next = Math.min(next, due);
          continue;
        }
        const circuit = gate.circuit();
        if (circuit.open) {
          // A carrier with an open circuit: fall back now, or (no alternate left) manual handling; while
          // a half-open probe runs, wait for its outcome instead of giving up on the carrier.
          if (roleOf(partnerId) === 'carrier' && job.kind === 'event' && (hasNext(job) || circuit.state === 'open')) {
            set.delete(job);
            track(circuitOpen(job, circuit.retryInMs).then(() => refreshGroup(job.group)));
            continue;
          }
          next = Math.min(next, now + Math.max(1, circuit.retryInMs));
          // A job that waits for this carrier (a void check) must not hold back later shipments' fallbacks.
          if (roleOf(partnerId) === 'carrier') continue;
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
        track(safeRun(job), partnerId);
      }
    }
    schedule(next);
    // Room in the window: take waiting events from the store (behind whatever intake is doing), a
    // tenth of the window at a time (each take scans the store's index).
    if (backlog.waiting && active.size <= maxActiveEvents - refillBatch && !refilling) {
      refilling = true;
      intake = intake.then(() => backlog.refill()).catch((e) => logger.error({ err: e }, 'taking waiting events from the store failed'))
        .finally(() => { refilling = false; pump(); });
    }
  }

  function track(p: Promise<void>, partnerId?: string) {
    const t: Promise<void> = p
      .catch((e) => logger.error({ err: e }, 'engine step failed unexpectedly'))
      .finally(() => {
        inFlight.delete(t);
        if (partnerId) busy.set(partnerId, (busy.get(partnerId) ?? 1) - 1);
        pump();
      });
    inFlight.add(t);
  }

  // ---------------------------------------------------------------- one call

  function invoke(adapter: PartnerAdapter, job: Job, body: Event | Milestone, ctx: CallContext): Promise<StepResult> {
    const a = job.action;
    switch (a) {
      case 'releaseOrder': return (adapter as WarehouseAdapter).releaseOrder(body as any, ctx);
      case 'cancelOrder': return (adapter as WarehouseAdapter).cancelOrder(body as any, ctx);
      case 'expectReturn': return (adapter as WarehouseAdapter).expectReturn(body as any, ctx);
      case 'createShipment': return (adapter as CarrierAdapter).createShipment(body as any, ctx);
      case 'cancelShipment': return (adapter as CarrierAdapter).cancelShipment(body as any, ctx);
      case 'createReturnLabel': return (adapter as CarrierAdapter).createReturnLabel(body as any, ctx);
      case 'publishMilestone': return (adapter as VisibilityAdapter).publishMilestone(body as Milestone, ctx);
      case 'voidCheck': return voidLeftover(adapter as CarrierAdapter, job, body as Event, ctx);
      case 'route': throw new Error('an unrouted event has no partner to call (replay routes it again)');
      default: {
        const never: never = a;
        throw new Error(`unknown action ${never}`);
      }
    }
  }

  async function bodyOf(job: Job): Promise<Event | Milestone | undefined> {
    if (job.kind === 'publish') return job.milestone;
    const stored = await store.get(job.event_id!);
    if (!stored) return undefined;
    return job.payload === undefined ? stored.event : ({ ...stored.event, payload: job.payload } as Event);
  }

  /** A step that failed outside the partner call (store I/O, a bug) is not lost: it waits and runs again. */
  async function safeRun(job: Job) {
    try {
      await run(job);
    } catch (e) {
      logger.error({ err: e, job: job.id }, 'engine step failed outside the partner call; trying again in 5 s');
      if (job.state === 'pending' || job.state === 'running') {
        job.state = 'pending';
        job.run_at = iso(nowMs() + 5_000);
        index(job);
        schedule(nowMs() + 5_000);
      }
    }
  }

  async function run(job: Job) {
    // A cancel goes to whoever performed what it undoes (a fallback carrier, say).
    const agg = aggs.peek(job.aggregate) ?? (await aggs.read(job.aggregate));
    const undo = UNDOES[job.action as Action];
    const performer = undo && agg?.performed[undo];
    if (performer && performer !== partnerOf(job) && adapters.has(performer)) {
      job.candidates = [performer];
      job.candidate = 0;
    }
    const partnerId = partnerOf(job);
    const adapter = adapters.get(partnerId)!;
    const gate = gates.get(partnerId)!;
    if (job.action === 'voidCheck' && !(adapter as CarrierAdapter).findShipment) {
      // The carrier cannot be asked by our reference: a person checks its account.
      giveUp(job, 'manual', 'business', 'voidable_label', `${partnerId} may hold a label for ${refOf(await bodyOf(job))} bought before the fallback (key ${job.key.replace(/:void$/, '')}); `
        + 'this carrier cannot be searched by our reference: check its account, void the label if there is one, then discard this entry');
      await persist([job]);
      void audit.record([{ id: crypto.randomUUID(), at: iso(), actor: 'bridge', action: 'void_check', target: job.subject, event_id: job.event_id, partner: partnerId, outcome: 'permanent', note: 'left for a person: the carrier has no lookup by reference' }]);
      return;
    }
    const body = await bodyOf(job);
    if (!body) {
      job.state = 'dead';
      job.error_class = 'technical';
      job.last_error = `the stored event ${job.event_id} is gone (pruned?)`;
      job.dead_at = iso();
      await persist([job]);
      return refreshGroup(job.group);
    }
    const reconcile = job.in_doubt;
    if (reconcile && safetyOf(adapter, job.action)?.rule === 'unsafe') return interruptedUnsafe(job, partnerId);
    if (metrics && job.kind === 'event' && job.calls === 0 && (body as Event).occurred_at) metrics.firstPartnerRequest(body as Event, io.now());
    job.state = 'running';
    job.calls += 1;
    job.in_doubt = true;
    // The attempt is durable, in the jobs log and the audit, before the request leaves: a crash
    // during the call leaves a running job (reconciled on start) and a `started` audit entry.
    await Promise.all([persist([job]), audit.record([attemptStarted(job, partnerId)])]);
    if (job.kind === 'event') await refreshGroup(job.group);
    const data = agg?.data[partnerId] ?? {};
    const began = nowMs();
    const call: CallScope = { requests: [] };
    try {
      const result = await gate.call((signal) => recordingCall(call, async () => {
        // In doubt, a lookup-before-retry step finds and adopts what the partner has; a
        // partner-deduplicates step sends the same key again (an unsafe one never gets here).
        const ctx: CallContext = { idempotencyKey: job.key, correlationId: job.event_id ?? job.subject, signal, data, inDoubt: reconcile };
        return invoke(adapter, job, body, ctx);
      }));
      metrics?.partnerCall(partnerId, 'success', (nowMs() - began) / 1000, 'none');
      recordAttempt(job, partnerId, call, nowMs() - began);
      await succeed(job, partnerId, result);
    } catch (e) {
      const outcome = e instanceof CircuitOpenError ? 'circuit_open'
        : e instanceof PartnerError && e.kind === 'permanent' ? 'permanent'
        : e instanceof PartnerError && e.cause instanceof Error && e.cause.name === 'TaskCancelledError' ? 'timeout' : 'retryable';
      if (metrics) {
        metrics.partnerCall(partnerId, outcome, outcome === 'circuit_open' ? 0 : (nowMs() - began) / 1000);
        if (e instanceof PartnerError && e.details.status === 429) metrics.rateLimited(partnerId);
      }
      recordAttempt(job, partnerId, call, nowMs() - began, outcome, e);
      await fail(job, partnerId, e, reconcile);
    }
  }

  /** Audits one call of a step (and the partner's rate-limit headers feed the headroom). */
  function recordAttempt(job: Job, partnerId: string, call: CallScope, ms: number, outcome: NonNullable<AuditEntry['outcome']> = 'success', e?: unknown) {
    for (const r of call.requests) headroom.observe(partnerId, r.headers);
    let seen = transformed.get(job.id);
    if (!seen) transformed.set(job.id, (seen = new Set()));
    void audit.record(attemptEntries({ job, partnerId, call, ms, outcome, error: e, secrets, seen, at: iso() }));
  }

  function attemptStarted(job: Job, partnerId: string, outcome: 'started' | 'interrupted' = 'started'): AuditEntry {
    return {
      id: crypto.randomUUID(), at: iso(), actor: 'bridge', action: 'attempt', target: job.subject, ...(job.event_id && { event_id: job.event_id }),
      partner: partnerId, step: job.step, key: job.key, call: job.calls, outcome, ...(job.in_doubt && outcome === 'started' && { note: 'in doubt: an earlier call may have acted' }),
    };
  }

  /** An unsafe step whose last call may have acted: a person checks the partner; never called blindly again. */
  async function interruptedUnsafe(job: Job, partnerId: string) {
    const safety = safetyOf(adapters.get(partnerId)!, job.action)!;
    giveUp(job, 'manual', 'technical', 'may_have_applied', `${partnerId}: call ${job.calls} of ${job.action} (key ${job.key}) may have acted without its answer reaching the bridge, `
      + `and ${partnerId} documents no key or lookup that makes a retry safe (${safety.doc}): check the partner; if it acted, discard this entry; if not, replay it`);
    await persist([job]);
    // The state change (with this message) is audited by refreshGroup.
    await refreshGroup(job.group);
  }

  async function succeed(job: Job, partnerId: string, result: StepResult) {
    // The answer is durable before anything is done with it: a crash from here on never asks again.
    job.state = 'done';
    job.result = result ?? {};
    job.in_doubt = false;
    job.applied = false;
    job.last_error = undefined;
    job.error_class = undefined;
    job.reason = undefined;
    await persist([job]);
    await apply(job, partnerId);
  }

  /** Applies a stored answer: the partner's data bag, who performed what, the milestones it told us. */
  async function apply(job: Job, partnerId = partnerOf(job)) {
    const result = job.result ?? {};
    if (job.kind === 'event') {
      const agg = aggs.row(job.aggregate);
      if (result.data) agg.data[partnerId] = { ...agg.data[partnerId], ...result.data };
      agg.performed[job.action] = partnerId;
      if (!agg.partners.includes(partnerId)) agg.partners.push(partnerId);
      agg.updated_at = iso();
      // Written when the event settles (one write per event): until then the job row holds the answer.
    }
    if (job.kind === 'event' && job.abandoned?.length) await planVoidChecks(job, partnerId);
    if (job.kind === 'void') {
      void audit.record([{
        id: crypto.randomUUID(), at: iso(), actor: 'bridge', action: 'void_check', target: job.subject, event_id: job.event_id, partner: partnerId, outcome: 'success',
        note: result.data?.voided ? `a label was found at ${partnerId} and voided` : `no label at ${partnerId}: nothing to void`,
      }]);
    }
    if (result.milestones?.length && job.kind !== 'void') {
      const r = await acceptMilestones(result.milestones, { partner: partnerId });
      if (r.refused.length) logger.error({ partner: partnerId, refused: r.refused }, 'a partner step returned milestones the contract or ownership refuses');
    }
    // No write for "applied": applying is idempotent (bag merge, outbox and publishes keyed by id),
    // so a crash before the job row is deleted just applies it again on start.
    job.applied = true;
    logger.info({ event_id: job.event_id, subject: job.subject, partner: partnerId, action: job.action, calls: job.calls }, 'delivered');
    if (job.action === 'releaseOrder') metrics?.orderRelease(partnerId, true);
    if (job.action === 'createShipment' || job.action === 'createReturnLabel') metrics?.labelRequest(partnerId, true);
    await settle(job.subject);
  }

  /** One void check per carrier left behind, in its own group: it never holds back the aggregate. */
  async function planVoidChecks(job: Job, winner: string) {
    const rows = (job.abandoned ?? [])
      .filter((p) => p !== winner && adapters.has(p) && !bySubject.has(voidSubject(job, p)))
      .map((p) => voidCheckJob(job, p, gates.get(p)!.limits.max_attempts, iso()));
    if (!rows.length) return;
    logger.warn({ event_id: job.event_id, carriers: rows.map((r) => r.step), fallback: winner }, 'fell back after a call that may have bought a label: checking the carriers left behind');
    await persist(rows);
  }

  function hasNext(job: Job) {
    return job.candidate + 1 < job.candidates.length;
  }
  function moveOn(job: Job, why: string) {
    const from = partnerOf(job);
    // A label may exist at the carrier we leave (a call that may have acted): check it once the fallback bought one.
    if (job.in_doubt && LABELS.has(job.action)) job.abandoned = [...new Set([...(job.abandoned ?? []), from])];
    job.candidate += 1;
    job.attempts = 0;
    job.in_doubt = false;
    job.state = 'pending';
    job.run_at = iso();
    job.last_error = `${from}: ${why}; falling back to ${partnerOf(job)}`;
    logger.warn({ event_id: job.event_id, from, to: partnerOf(job), why }, 'falling back to the next carrier');
  }
  function giveUp(job: Job, state: 'dead' | 'manual', errorClass: 'technical' | 'business', reason: JobReason | undefined, message: string) {
    job.state = state;
    job.error_class = errorClass;
    job.reason = reason;
    job.last_error = message;
    job.dead_at = iso();
    metrics?.deadLettered(errorClass, reason);
    if (job.action === 'releaseOrder') metrics?.orderRelease(partnerOf(job), false);
    if (job.action === 'createShipment' || job.action === 'createReturnLabel') metrics?.labelRequest(partnerOf(job), false);
    const log = errorClass === 'business' ? 'business exception: a person must act' : state === 'manual' ? 'manual handling needed' : 'dead letter';
    logger.warn({ event_id: job.event_id, subject: job.subject, partner: partnerOf(job), reason, error: message }, log);
  }

  /** The current candidate's circuit is open: fall back, go to manual handling, or wait. */
  async function circuitOpen(job: Job, retryInMs: number) {
    const partnerId = partnerOf(job);
    if (hasNext(job)) moveOn(job, 'circuit open');
    else if (roleOf(partnerId) === 'carrier' && job.kind === 'event') {
      giveUp(job, 'manual', 'technical', 'no_carrier_available', `${partnerId}: circuit open and no fallback carrier left: ship it by hand or replay when a carrier is back`);
    } else {
      job.state = 'pending';
      job.run_at = iso(nowMs() + Math.max(1, Number.isFinite(retryInMs) ? retryInMs : 1000));
    }
    await persist([job]);
  }

  async function fail(job: Job, partnerId: string, e: unknown, reconcile: boolean) {
    if (e instanceof CircuitOpenError) {
      // Refused before calling: not a call, not an attempt.
      job.calls -= 1;
      job.in_doubt = reconcile;
      await circuitOpen(job, e.retryInMs);
      return refreshGroup(job.group);
    }
    const err = e instanceof PartnerError ? e : new PartnerError('retryable', String((e as Error)?.message ?? e), { cause: e });
    const status = err.details.status;
    // The partner answered "no" (it did not act): prior doubt stays as it was; otherwise it may have acted.
    const answeredNo = err.kind === 'permanent' || (status !== undefined && (status < 500 || status === 503));
    job.in_doubt = answeredNo ? reconcile : true;
    const now = nowMs();
    // A partner echoing a credential back must not put it in the event's status.
    const message = redact(`${partnerId}: ${err.message}`, secrets) as string;
    const limits = gates.get(partnerId)!.limits;
    if (err.kind === 'permanent') {
      giveUp(job, 'dead', 'business', err.details.reason ?? 'refused_by_partner', message);
    } else if ((status === 429 || status === 503) && hasNext(job)) {
      moveOn(job, `refused for now (${status})`);
    } else if (err.details.retryAfterMs !== undefined) {
      job.state = 'pending';
      job.last_error = `${message} (Retry-After ${err.details.retryAfterMs} ms, not counted)`;
      job.run_at = iso(now + Math.max(0, Math.min(err.details.retryAfterMs, 86_400_000)));
    } else {
      job.attempts += 1;
      if (job.max_attempts > 0 && job.attempts >= job.max_attempts) {
        if (hasNext(job)) moveOn(job, `gave up after ${job.attempts} attempts (${err.message})`);
        else if (job.candidates.length > 1) giveUp(job, 'manual', 'technical', 'no_carrier_available', `${message}; every carrier of the route failed: ship it by hand or replay`);
        else giveUp(job, 'dead', 'technical', 'attempts_exhausted', `${message} (after ${job.attempts} attempts)`);
      } else {
        job.state = 'pending';
        job.last_error = message;
        job.run_at = iso(now + backoffDelay(job.attempts, limits.backoff.base_ms, limits.backoff.cap_ms, io.random));
      }
    }
    await persist([job]);
    await refreshGroup(job.group);
  }

  // ---------------------------------------------------------------- milestones

  async function acceptMilestones(list: unknown[], from: { partner: string }) {
    await open();
    const accepted: Milestone[] = [];
    const refused: { id?: string; reason: string }[] = [];
    for (const raw of list) {
      const id = (raw as { id?: unknown })?.id;
      const checked = checkMilestone(raw);
      if (!checked.ok) {
        refused.push({ id: typeof id === 'string' ? id : undefined, reason: `${checked.problem.path}: ${checked.problem.message}` });
        continue;
      }
      const m = checked.value;
      if (m.source.partner !== from.partner) {
        refused.push({ id: m.id, reason: `source.partner is "${m.source.partner}" but it came from ${from.partner}` });
        continue;
      }
      const why = ownershipRefusal(config, m, from.partner, new Set((await aggs.read(m.aggregate))?.partners ?? []));
      if (why) {
        logger.warn({ milestone_id: m.id, type: m.type, partner: from.partner, aggregate: m.aggregate, reason: why }, 'milestone refused: partner does not own it');
        refused.push({ id: m.id, reason: why });
        continue;
      }
      accepted.push(m);
    }
    if (accepted.length) {
      await writeback.enqueue(accepted);
      metrics?.milestonesSeen(accepted);
      const rows: Job[] = [];
      const now = nowMs();
      for (const m of accepted) {
        const wf = config.workflows[workflowOfMilestone(m.type)];
        const runAt = wf?.mode === 'batch' ? nextFlush(now, wf.flush_interval_ms) : now;
        for (const p of visibilityPartners(config, m.type)) {
          if (p.id === from.partner) continue;
          const subject = `${m.id}~${p.id}`;
          if (bySubject.has(subject)) continue;
          rows.push({
            id: `${subject}/${p.id}`, kind: 'publish', subject, event_id: m.event_id, type: m.type, aggregate: m.aggregate,
            group: `${p.id}|${m.aggregate}`, seq: ++publishSeq, step: p.id, action: 'publishMilestone', candidates: [p.id], candidate: 0,
            key: `${m.id}:${p.id}`, attempts: 0, max_attempts: 0, calls: 0, run_at: iso(runAt), state: 'pending', in_doubt: false,
            milestone: m, replays: 0, rekeys: 0, created_at: iso(now), updated_at: iso(now),
          });
        }
      }
      if (rows.length) await persist(rows);
      pump();
    }
    return { accepted: accepted.map((m) => m.id), refused };
  }

  async function pollNow() {
    for (const [id, adapter] of adapters) {
      if (adapter.role !== 'warehouse' || !adapter.collectUpdates) continue;
      const gate = gates.get(id)!;
      try {
        const ms = await gate.call((signal) => (adapter as WarehouseAdapter).collectUpdates!({ signal }));
        if (ms.length) {
          const r = await acceptMilestones(ms, { partner: id });
          if (r.refused.length) logger.warn({ partner: id, refused: r.refused }, 'collected updates refused');
        }
      } catch (e) {
        logger.warn({ partner: id, err: e }, 'collecting updates failed; next poll tries again');
      }
    }
  }
  function schedulePoll() {
    const intervals = config.partners.filter((p) => p.role === 'warehouse' && (adapters.get(p.id) as WarehouseAdapter).collectUpdates).map((p) => p.poll_interval_ms ?? 60_000);
    if (!intervals.length || stopped) return;
    pollTimer = io.setTimeout(() => {
      void pollNow().finally(schedulePoll);
    }, Math.min(...intervals));
  }

  // ---------------------------------------------------------------- dead letters

  function view(subject: string): DeadLetter | undefined {
    const js = [...(bySubject.get(subject) ?? [])];
    const failed = js.filter((j) => DEAD_STATES.has(j.state));
    if (!failed.length) return undefined;
    const f = failed.find((j) => j.state === 'dead') ?? failed[0];
    const blocking = new Set<string>();
    if (f.kind === 'event') for (const j of byGroup.get(f.group) ?? []) if (j.seq > f.seq && j.kind === 'event') blocking.add(j.subject);
    return {
      id: subject, kind: f.kind, state: f.state as 'dead' | 'manual', type: f.type, aggregate: f.aggregate, event_id: f.event_id,
      error_class: f.error_class ?? 'technical', reason: f.reason, last_error: f.last_error ?? '', partners: failed.map(partnerOf).filter((p) => p !== undefined),
      attempts: js.reduce((n, j) => n + j.calls, 0), keys: failed.map((j) => j.key), dead_at: f.dead_at ?? f.updated_at,
      replays: f.replays, blocking: [...blocking],
    };
  }
  function allDead(filter: DeadLetterFilter = {}): DeadLetter[] {
    const out: DeadLetter[] = [];
    const seen = new Set<string>();
    for (const j of jobs.values()) {
      if (!DEAD_STATES.has(j.state) || seen.has(j.subject)) continue;
      seen.add(j.subject);
      const d = view(j.subject);
      if (d && matches(d, filter)) out.push(d);
    }
    for (const d of [...writeback.rejected().map(writebackView), ...writeback.rejectedStates().map(stateWritebackView)]) {
      if (matches(d, filter)) out.push(d);
    }
    return out.sort(byDeadAt);
  }
  async function withBody(d: DeadLetter): Promise<DeadLetter> {
    if (d.kind === 'writeback') return d;
    const j = [...bySubject.get(d.id)!].find((x) => DEAD_STATES.has(x.state))!;
    return { ...d, body: await bodyOf(j) };
  }

  async function replay(id: string, opts: ReplayOptions) {
    if (id.startsWith('writeback:')) {
      const mid = id.slice('writeback:'.length);
      let milestone: Milestone | undefined;
      if (opts.payload !== undefined) {
        const row = writeback.rejected().find((r) => r.id === mid);
        if (!row) throw new ApiError(404, 'not_found', `no dead letter ${id}`);
        const checked = checkMilestone({ ...row.milestone, payload: opts.payload });
        if (!checked.ok) throw new ApiError(400, 'invalid_payload', checked.problem.message, checked.problem.path);
        milestone = checked.value;
      }
      const r = await writeback.replay(mid, milestone);
      if (!r) throw new ApiError(404, 'not_found', `no dead letter ${id}`);
      await audit.record([{
        id: crypto.randomUUID(), at: iso(), actor: opts.actor, action: 'replay', target: id, event_id: r.event_id,
        ...(milestone && r.before && { before: r.before.payload, after: milestone.payload }),
      }]);
      return { id, state: 'pending' };
    }
    const js = [...(bySubject.get(id) ?? [])];
    const failed = js.filter((j) => DEAD_STATES.has(j.state));
    if (!failed.length) {
      const stored = js.length ? undefined : await store.get(id);
      if (!js.length && !stored) throw new ApiError(404, 'not_found', `no dead letter ${id}`);
      throw new ApiError(409, 'not_dead', `${id} is not in the dead-letter queue (state ${js.length ? eventStatus(id).state : stored!.state})`);
    }
    let before: unknown;
    let after: unknown;
    if (opts.payload !== undefined) {
      if (failed[0].kind !== 'event') throw new ApiError(400, 'not_editable', 'only event payloads can be edited here');
      const body = (await bodyOf(failed[0])) as Event;
      const checked = checkEvent({ ...body, payload: opts.payload });
      if (!checked.ok) throw new ApiError(400, 'invalid_payload', checked.problem.message, checked.problem.path);
      before = body.payload;
      after = checked.value.payload;
    }
    if (failed[0].action === 'route') return replayUnrouted(failed[0], opts);
    const gone = failed.map((j) => j.candidates[0]).find((p) => !adapters.has(p));
    if (gone) throw new ApiError(409, 'partner_not_configured', `partner ${gone} is not in the configuration: add it back before replaying, or discard`);
    const keysBefore = failed.map((j) => j.key);
    for (const j of failed) {
      j.state = 'pending';
      j.attempts = 0;
      j.candidate = 0;
      j.run_at = iso();
      j.last_error = undefined;
      j.error_class = undefined;
      j.dead_at = undefined;
      j.replays += 1;
      // Replaying an interrupted unsafe call is the operator's word that the partner did not act.
      if (j.reason === 'may_have_applied') j.in_doubt = false;
      if (opts.new_key) {
        j.rekeys += 1;
        j.key = `${j.subject.split('~')[0]}:${j.step}:r${j.rekeys}`;
        // A new key is a new request: nothing to reconcile against the old one.
        j.in_doubt = false;
      }
      j.reason = undefined;
      if (after !== undefined) j.payload = after;
    }
    await persist(failed);
    await audit.record([{
      id: crypto.randomUUID(), at: iso(), actor: opts.actor, action: 'replay', target: id, event_id: failed[0].event_id,
      new_key: !!opts.new_key, keys: { before: keysBefore, after: failed.map((j) => j.key) }, ...(after !== undefined && { before, after }),
    }]);
    logger.info({ subject: id, actor: opts.actor, new_key: !!opts.new_key, edited: after !== undefined }, 'dead letter replayed');
    await refreshGroup(failed[0].group);
    pump();
    return view(id) ?? { id, state: failed[0].kind === 'event' ? eventStatus(id).state : 'pending' };
  }

  /** Routes an unrouted event again (after a configuration change and restart); still no route: says so and changes nothing. */
  async function replayUnrouted(job: Job, opts: ReplayOptions) {
    const stored = await store.get(job.event_id!);
    if (!stored) throw new ApiError(409, 'event_gone', `the stored event ${job.event_id} is gone (pruned?): discard this entry`);
    if (opts.payload !== undefined) throw new ApiError(400, 'not_editable', 'an unrouted event is routed as Odoo sent it: fix the routing, or fix the document in Odoo and send it again');
    const event = stored.event;
    if (!planSteps(config, event).steps.length) {
      throw new ApiError(409, 'still_unrouted', `still no route matches ${job.subject} (${job.type}): add a route to the bridge configuration, restart, then replay; or discard`);
    }
    unindex(job);
    await jobsLog.delete([job.id]);
    await audit.record([{ id: crypto.randomUUID(), at: iso(), actor: opts.actor, action: 'replay', target: job.subject, event_id: job.event_id, note: 'routed again' }]);
    logger.info({ subject: job.subject, actor: opts.actor }, 'unrouted event routed again');
    await admit([event]);
    return view(job.subject) ?? { id: job.subject, state: eventStatus(job.subject).state };
  }

  async function discard(id: string, opts: { actor: string; note?: string }) {
    if (id.startsWith('writeback:')) {
      const r = await writeback.discard(id.slice('writeback:'.length));
      if (!r) throw new ApiError(404, 'not_found', `no dead letter ${id}`);
      await audit.record([{ id: crypto.randomUUID(), at: iso(), actor: opts.actor, action: 'discard', target: id, event_id: r.event_id, note: opts.note }]);
      return { id, state: 'discarded' };
    }
    const js = [...(bySubject.get(id) ?? [])];
    const failed = js.filter((j) => DEAD_STATES.has(j.state));
    if (!failed.length) {
      if (!js.length && !(await store.get(id))) throw new ApiError(404, 'not_found', `no dead letter ${id}`);
      throw new ApiError(409, 'not_dead', `${id} is not in the dead-letter queue`);
    }
    for (const j of failed) j.state = 'discarded';
    await persist(failed);
    await audit.record([{
      id: crypto.randomUUID(), at: iso(), actor: opts.actor, action: 'discard', target: id, event_id: failed[0].event_id, keys: { before: failed.map((j) => j.key), after: [] }, note: opts.note,
    }]);
    logger.info({ subject: id, actor: opts.actor }, 'dead letter discarded');
    const state = failed[0].kind === 'event' ? eventStatus(id).state : 'discarded';
    await settle(id);
    pump();
    return { id, state };
  }

  // ---------------------------------------------------------------- lifecycle

  /** Forgets aggregates idle longer than their retention with no work left, and audit entries past theirs. */
  async function prune() {
    const n = await aggs.prune(nowMs() - aggregateRetentionMs, (key) => aggJobs.has(key));
    if (n) logger.info({ aggregates: n }, 'forgot idle aggregates');
    const cutoff = nowMs() - auditRetentionMs;
    await audit.prune(cutoff);
  }

  async function recover() {
    recovering = true;
    const rows: Job[] = [];
    for await (const j of jobsLog.values()) rows.push(j);
    const loaded = await aggs.load(rows.filter((j) => j.kind === 'event').map((j) => j.aggregate));
    for (const [key, row] of loaded) aggs.pin(key, row);
    await prune();
    const resumed: Job[] = [];
    const interrupted: AuditEntry[] = [];
    for (const j of rows) {
      if (j.kind === 'publish') publishSeq = Math.max(publishSeq, j.seq);
      if (j.state === 'running') {
        // The process died during this call: the partner may have acted. Its step's rule decides the next call.
        interrupted.push(attemptStarted(j, partnerOf(j), 'interrupted'));
        j.state = 'pending';
        j.in_doubt = true;
        // Not before the call's own timeout has passed since it left: a request the partner is still
        // working on would be missed by a lookup, or answered as in progress.
        const timeout = gates.get(partnerOf(j))?.limits.timeout_ms ?? 0;
        j.run_at = iso(Math.max(nowMs(), Date.parse(j.updated_at) + timeout));
        resumed.push(j);
      }
      index(j);
    }
    for (const j of rows) {
      if (FINISHED.has(j.state) || DEAD_STATES.has(j.state) || adapters.has(partnerOf(j))) continue;
      giveUp(j, 'dead', 'technical', undefined, `partner ${partnerOf(j)} is not in the configuration any more: add it back and replay, or discard`);
      if (!resumed.includes(j)) resumed.push(j);
    }
    if (resumed.length) {
      logger.warn({ jobs: resumed.length }, 'resuming partner calls interrupted by a stop or crash');
      // The interrupted calls are on record before their jobs leave `running`: a crash in between
      // finds them running again and records them again, never a call that left no trace.
      await audit.record(interrupted);
      await persist(resumed);
    }
    // Plan again what the engine held (fresh steps are not written), before anything settles;
    // events still `received` wait for their turn in the window.
    for await (const events of eventsInEngine(store)) await admit(events);
    // ...and the events of written jobs whatever their stored state says (a crash between the
    // job's write and the status's), so no step of theirs is missing when they settle.
    const ids = [...new Set(rows.filter((j) => j.kind === 'event').map((j) => j.event_id!))];
    for (let i = 0; i < ids.length; i += 500) {
      const stored = await Promise.all(ids.slice(i, i + 500).map((id) => store.get(id)));
      await admit(stored.filter((x) => x !== undefined).map((x) => x!.event));
    }
    backlog.resume();
    // Answers stored but maybe not applied: apply again (idempotent), then finish what is finished.
    for (const j of rows) if (j.state === 'done') await apply(j);
    for (const subject of new Set(rows.map((j) => j.subject))) await settle(subject);
    for (const g of new Set(rows.map((j) => j.group))) await refreshGroup(g);
    recovering = false;
  }

  /** Waits until routing of accepted events (and refills) has caught up. */
  async function intakeSettled() {
    for (let seen: Promise<unknown> | undefined; seen !== intake;) {
      seen = intake;
      await intake;
    }
  }

  const engine: Engine = {
    writeback,
    async start() {
      if (started) return;
      started = true;
      stopped = false;
      await open();
      // Listen first: events accepted while recovering queue behind it (admit skips what recovery routed).
      intake = recover();
      store.onAccepted((events) => {
        void audit.record(events.map((e) => ({
          id: crypto.randomUUID(), at: iso(), actor: 'odoo', action: 'submitted' as const, target: e.id, event_id: e.id, type: e.type, aggregate: e.aggregate, sequence: e.sequence,
        })));
        const queued = backlog.accept(events, (admitThem) => {
          intake = intake.then(admitThem).catch((e) => logger.error({ err: e }, 'routing accepted events failed'));
        });
        // Left waiting in the store: taken from there as room frees up.
        if (!queued) pump();
      });
      await intake;
      writeback.start();
      schedulePoll();
      const daily = () => {
        pruneTimer = io.setTimeout(() => void prune().catch((e) => logger.error({ err: e }, 'pruning aggregates or the audit failed')).finally(() => { if (!stopped) daily(); }), DAY);
      };
      daily();
      pump();
    },
    async stop() {
      stopped = true;
      if (wake && io.clearTimeout) io.clearTimeout(wake.handle);
      wake = undefined;
      if (pollTimer !== undefined && io.clearTimeout) io.clearTimeout(pollTimer);
      if (pruneTimer !== undefined && io.clearTimeout) io.clearTimeout(pruneTimer);
      await writeback.stop();
      await intakeSettled();
      while (inFlight.size) await Promise.allSettled([...inFlight]);
      await audit.flush();
      if (started) {
        started = false;
        opened = undefined;
        await logs.close();
      }
    },
    async runDue() {
      for (let i = 0; i < 10_000; i++) {
        await intakeSettled();
        pump();
        if (!inFlight.size) {
          await writeback.runDue();
          await intakeSettled();
          pump();
          if (!inFlight.size && !refilling) return;
        }
        await Promise.allSettled([...inFlight]);
      }
      throw new Error('runDue did not settle after 10000 rounds');
    },
    acceptMilestones,
    pollNow,
    deadLetters: {
      list(filter = {}, p = {}) {
        return page(allDead(filter), p);
      },
      get(id) {
        if (id.startsWith('writeback:')) {
          const mid = id.slice('writeback:'.length);
          const row = writeback.rejected().find((r) => r.id === mid);
          const state = writeback.rejectedStates().find((r) => `${STATE_PREFIX}${r.id}` === mid);
          return row ? writebackView(row) : state && stateWritebackView(state);
        }
        return view(id);
      },
      async show(id) {
        const d = engine.deadLetters.get(id);
        return d && withBody(d);
      },
      replay,
      async replayMany(filter, opts) {
        const targets = allDead(filter).slice(0, opts.limit ?? 500);
        const replayed: string[] = [];
        const failed: { id: string; error: string }[] = [];
        for (const d of targets) {
          try {
            await replay(d.id, { actor: opts.actor, new_key: opts.new_key });
            replayed.push(d.id);
          } catch (e) {
            failed.push({ id: d.id, error: (e as Error).message });
          }
        }
        return { replayed, failed };
      },
      discard,
    },
    async audit(filter) {
      await audit.flush();
      const acts = filter.actions?.length ? new Set(filter.actions) : undefined;
      // Operator actions only, of any event: their own chain, not a scan of the whole trail.
      const operatorsOnly = !filter.event_id && !filter.target && acts && [...acts].every((a) => (OPERATOR_ACTIONS as readonly string[]).includes(a));
      return audit.query(filter.event_id ?? filter.target ?? (operatorsOnly ? OPERATORS_KEY : undefined), filter.limit ?? 500,
        (e) => (!acts || acts.has(e.action)) && (!filter.event_id || !filter.target || e.target === filter.target));
    },
    status() {
      const ps: EngineStatus['partners'] = {};
      for (const [id, gate] of gates) {
        const h = headroom.value(id, gate.bucketLevel());
        ps[id] = { circuit: gate.circuit().state, in_flight: busy.get(id) ?? 0, pending: pending.get(id)?.size ?? 0, ...(h !== undefined && { headroom: h }) };
      }
      const count = (s: string) => [...jobs.values()].filter((j) => j.state === s).length;
      return { partners: ps, jobs: { pending: count('pending'), running: count('running'), dead: count('dead'), manual: count('manual') }, writeback: writeback.status() };
    },
    jobs: () => [...jobs.values()].map((j) => structuredClone(j)),
    steps: (eventId) => [...jobs.values()].filter((j) => j.event_id === eventId || j.subject === eventId).map((j) => structuredClone(j)),
    footprint: () => ({ jobs: jobs.size, active_events: active.size, backlog: backlog.waiting, hot_aggregates: opened ? aggs?.hotSize ?? 0 : 0, aggregates: opened ? aggs?.size ?? 0 : 0 }),
  };
  return engine;
}
