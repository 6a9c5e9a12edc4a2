/**
 * The delivery engine's wiring and lifecycle: what happens to an event after the bridge
 * acknowledged it, and to a milestone until Odoo and the visibility partners have it.
 *
 * The pieces, each in its own file:
 * - intake.ts: events routed into jobs (one per partner step, with an idempotency key reused by
 *   every retry and replay); partner milestones checked and fanned out;
 * - dispatcher.ts: starts what may run, in `sequence` order per aggregate, within each partner's
 *   rate limit, concurrency cap and circuit;
 * - partner-call.ts: one call, durable before it leaves, its answer stored before it is applied;
 * - failure-rule.ts: the one rule for what follows a failure; transitions.ts: the only functions
 *   that change a job's state; job-index.ts: the jobs in memory;
 * - settlement.ts: an event's status, and what happens when it is finished;
 * - dead-letter-ops.ts: replay and discard; recovery.ts: what a crash left behind;
 * - engine-events.ts: what the engine announces, for the metrics and the log.
 *
 * Memory follows the work in flight, not the volume seen: at most `maxActiveEvents` events are
 * routed into jobs at once (the rest wait in the store, backlog.ts); jobs and the aggregate
 * memory live in keyed logs (on disk, or in the store's database: stateLogs), append-only with
 * group commit; finished jobs leave memory and the log, and an aggregate's row is in memory only
 * while it has jobs (aggregates.ts). Every step is recorded in the audit trail (audit.ts).
 */
import type { AdapterFactory, AdapterIO, PartnerAdapter, WarehouseAdapter } from '../adapters/types.ts';
import type { Config, ResolvedPartner } from '../config/load.ts';
import type { KeyedLog } from '../store/keyed-log.ts';
import { stateLogs } from '../store/state-logs.ts';
import { createWriteback } from '../odoo/outbox.ts';
import { createOdooClient } from '../odoo/client.ts';
import { AggregateMemory } from './aggregates.ts';
import { auditTrail, OPERATORS_KEY, recordingFetch } from './audit.ts';
import { createBacklog } from './backlog.ts';
import { createDeadLetterOps } from './dead-letter-ops.ts';
import { createDispatcher } from './dispatcher.ts';
import { announcer, logListener, metricsListener, type EngineListener } from './engine-events.ts';
import type { EngineIO, Parts } from './engine-parts.ts';
import { createHeadroom } from './headroom.ts';
import { createIntake } from './intake.ts';
import { JobIndex } from './job-index.ts';
import { AGGREGATES, AUDIT, JOBS, POINT_IN_TIME_RUNS, OPERATOR_ACTIONS, type AggregateRow, type AuditEntry, type Job } from './jobs.ts';
import { createPartnerCalls } from './partner-call.ts';
import { createPartnerGate, type PartnerGate, type ResolvedLimits } from './policy.ts';
import { recover } from './recovery.ts';
import { createPointInTime, type PointInTimeRow } from './point-in-time.ts';
import { createSettlement } from './settlement.ts';
import type { Engine, EngineOptions, EngineStatus } from './engine-api.ts';

export type { DeadLetter, DeadLetterFilter } from './dead-letter-view.ts';
export type { EngineIO, EngineMetrics } from './engine-parts.ts';
export type { Engine, EngineOptions, EngineStatus, ReplayOptions } from './engine-api.ts';

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

/** The partners of the configuration with their adapters and gates; a wrong adapter name or role says which entry to fix. */
function buildPartners(config: Config, registry: Record<string, AdapterFactory>, adapterIO: AdapterIO, nowMs: () => number) {
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
  return { partners, adapters, gates };
}

/** Creates the engine; call `start()` once the store is open. */
export function createEngine(options: EngineOptions): Engine {
  const { store, config, registry, logger, metrics, aggregateRetentionMs = 180 * DAY, maxActiveEvents = 5000, auditRetentionMs = 30 * DAY } = options;
  const io = defaults(options.io ?? {});
  const nowMs = () => io.now().getTime();
  const iso = (ms = nowMs()) => new Date(ms).toISOString();
  const stateLog = options.logs ?? stateLogs(store, { dir: options.stateDir, fsync: options.fsync });
  const logs = {} as { jobs: KeyedLog<Job>; aggs: AggregateMemory };
  let opened: Promise<void> | undefined;
  let pitRuns: KeyedLog<PointInTimeRow> | undefined;
  /** Opens the engine's logs (once; start() and the operator reads call it). */
  const open = () => (opened ??= (async () => {
    logs.jobs = await stateLog.keyed<Job>(JOBS);
    pitRuns = await stateLog.keyed<PointInTimeRow>(POINT_IN_TIME_RUNS, { stamp: (r) => Date.parse(r.at) });
    logs.aggs = new AggregateMemory(await stateLog.keyed<AggregateRow>(AGGREGATES, { stamp: (r) => Date.parse(r.updated_at) }), iso);
  })().catch((e) => { opened = undefined; throw e; }));
  const audit = auditTrail(() => stateLog.history<AuditEntry>(AUDIT, { now: nowMs }), logger);
  const secrets = [...config.partners.flatMap((p) => Object.values(p.credentials ?? {})), config.odoo?.api_key].filter((x): x is string => !!x);
  const { partners, adapters, gates } = buildPartners(config, registry, { fetch: recordingFetch(io.fetch, nowMs), now: io.now, dataDir: io.dataDir! }, nowMs);
  const odooClient = options.odoo ?? (config.odoo ? createOdooClient({ ...config.odoo, fetch: io.fetch }) : undefined);
  const writeback = createWriteback({
    store, client: odooClient, settings: config.odoo, io, logger, workflows: config.workflows, onWritten: metrics && ((ms) => metrics.milestonesWritten(ms, io.now())),
    onRefused: (refusal, queue) => metrics?.writebackRefused?.(queue, refusal),
  });
  const listeners: EngineListener[] = [logListener(logger), ...(metrics ? [metricsListener(metrics)] : [])];
  const index = new JobIndex();

  const parts: Parts = {
    config, store, logger, metrics, io, nowMs, iso, index, logs, audit, secrets, partners, adapters, gates, headroom: createHeadroom(nowMs), writeback, bodies: new Map(),
    announce: announcer(listeners),
    /**
     * Writes jobs durably. No copy: the log serialises them as put() is called (its group commit
     * writes that text later), so later in-memory changes never reach the disk ahead of their own write.
     */
    async persist(list) {
      const at = iso();
      for (const j of list) {
        j.updated_at = at;
        index.put(j);
      }
      await logs.jobs.put(list);
    },
  };

  let started = false;
  let refilling = false;
  let intakeChain: Promise<unknown> = Promise.resolve();
  let pollTimer: unknown;
  let pruneTimer: unknown;
  const settlement = createSettlement(parts);
  const refillBatch = Math.max(1, Math.min(500, Math.ceil(maxActiveEvents / 10)));
  const backlog = createBacklog({ store, max: maxActiveEvents, active: () => settlement.active.size, known: (id) => index.hasSubject(id), admit: (events) => intake.admit(events) });
  const pump = () => dispatcher.pump();
  const calls = createPartnerCalls({ ...parts, settlement, acceptMilestones: (list, from) => intake.acceptMilestones(list, from) });
  const intake = createIntake({ ...parts, settlement, calls, pump, open });
  const dispatcher = createDispatcher({
    index, gates, io, nowMs, logger, roleOf: (id) => partners.get(id)?.role, run: calls.run, circuitOpen: calls.circuitOpen,
    afterPump() {
      // Room in the window: take waiting events from the store (behind whatever intake is doing), a
      // tenth of the window at a time (each take scans the store's index).
      if (backlog.waiting && settlement.active.size <= maxActiveEvents - refillBatch && !refilling) {
        refilling = true;
        intakeChain = intakeChain.then(() => backlog.refill()).catch((e) => logger.error({ err: e }, 'taking waiting events from the store failed'))
          .finally(() => { refilling = false; pump(); });
      }
    },
  });
  const deadLetters = createDeadLetterOps({ ...parts, settlement, calls, intake, pump });
  const replayFrom = createPointInTime({ ...parts, settlement, pump, runs: () => pitRuns! });

  /** Forgets aggregates idle longer than their retention with no work left, and audit entries past theirs. */
  async function prune() {
    const n = await logs.aggs.prune(nowMs() - aggregateRetentionMs, (key) => index.hasAggregate(key));
    if (n) logger.info({ aggregates: n }, 'forgot idle aggregates');
    await audit.prune(nowMs() - auditRetentionMs);
  }

  async function pollNow() {
    for (const [id, adapter] of adapters) {
      if (adapter.role !== 'warehouse' || !adapter.collectUpdates) continue;
      try {
        const ms = await gates.get(id)!.call((signal) => (adapter as WarehouseAdapter).collectUpdates!({ signal }));
        if (ms.length) {
          const r = await intake.acceptMilestones(ms, { partner: id });
          if (r.refused.length) logger.warn({ partner: id, refused: r.refused }, 'collected updates refused');
        }
      } catch (e) {
        logger.warn({ partner: id, err: e }, 'collecting updates failed; next poll tries again');
      }
    }
  }
  let stopped = false;
  function schedulePoll() {
    const intervals = config.partners.filter((p) => p.role === 'warehouse' && (adapters.get(p.id) as WarehouseAdapter).collectUpdates).map((p) => p.poll_interval_ms ?? 60_000);
    if (!intervals.length || stopped) return;
    pollTimer = io.setTimeout(() => {
      void pollNow().finally(schedulePoll);
    }, Math.min(...intervals));
  }

  /** Waits until routing of accepted events (and refills) has caught up. */
  async function intakeSettled() {
    for (let seen: Promise<unknown> | undefined; seen !== intakeChain;) {
      seen = intakeChain;
      await intakeChain;
    }
  }

  const engine: Engine = {
    writeback,
    async start() {
      if (started) return;
      started = true;
      stopped = false;
      dispatcher.begin();
      await open();
      // Listen first: events accepted while recovering queue behind it (admit skips what recovery routed).
      // While recovering, nothing starts: stored answers are applied before later steps may need them.
      dispatcher.setPaused(true);
      intakeChain = recover({ ...parts, settlement, calls, intake, prune, resumeBacklog: () => backlog.resume() }).finally(() => dispatcher.setPaused(false));
      store.onAccepted((events) => {
        void audit.record(events.map((e) => ({
          id: crypto.randomUUID(), at: iso(), actor: 'odoo', action: 'submitted' as const, target: e.id, event_id: e.id, type: e.type, aggregate: e.aggregate, sequence: e.sequence,
        })));
        const queued = backlog.accept(events, (admitThem) => {
          intakeChain = intakeChain.then(admitThem).catch((e) => logger.error({ err: e }, 'routing accepted events failed'));
        });
        // Left waiting in the store: taken from there as room frees up.
        if (!queued) pump();
      });
      await intakeChain;
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
      dispatcher.stop();
      if (pollTimer !== undefined && io.clearTimeout) io.clearTimeout(pollTimer);
      if (pruneTimer !== undefined && io.clearTimeout) io.clearTimeout(pruneTimer);
      await writeback.stop();
      await intakeSettled();
      while (dispatcher.inFlight.size) await Promise.allSettled([...dispatcher.inFlight]);
      await audit.flush();
      if (started) {
        started = false;
        opened = undefined;
        await stateLog.close();
      }
    },
    async runDue() {
      for (let i = 0; i < 10_000; i++) {
        await intakeSettled();
        pump();
        if (!dispatcher.inFlight.size) {
          await writeback.runDue();
          await intakeSettled();
          pump();
          if (!dispatcher.inFlight.size && !refilling) return;
        }
        await Promise.allSettled([...dispatcher.inFlight]);
      }
      throw new Error('runDue did not settle after 10000 rounds');
    },
    acceptMilestones: intake.acceptMilestones,
    async replayFrom(request) {
      await open();
      return replayFrom(request);
    },
    pollNow,
    deadLetters,
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
        const h = parts.headroom.value(id, gate.bucketLevel());
        ps[id] = { circuit: gate.circuit().state, in_flight: dispatcher.busy(id), pending: index.pending.get(id)?.size ?? 0, ...(h !== undefined && { headroom: h }) };
      }
      return { partners: ps, jobs: { pending: index.count('pending'), running: index.count('running'), dead: index.count('dead'), manual: index.count('manual') }, writeback: writeback.status() };
    },
    jobs: () => [...index.values()].map((j) => structuredClone(j)),
    steps: (eventId) => [...index.values()].filter((j) => j.event_id === eventId || j.subject === eventId).map((j) => structuredClone(j)),
    footprint: () => ({ jobs: index.size, active_events: settlement.active.size, backlog: backlog.waiting, hot_aggregates: opened ? logs.aggs?.hotSize ?? 0 : 0, aggregates: opened ? logs.aggs?.size ?? 0 : 0 }),
  };
  return engine;
}
