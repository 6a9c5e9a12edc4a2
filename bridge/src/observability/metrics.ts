/**
 * The product's Prometheus metrics: what the bridge really does, for people who run the business.
 *
 * Two kinds of figures:
 * - recorded: small typed functions (`metrics.partnerCall(...)`) the engine, adapters, ingest and
 *   write-back call where the thing happens (counters and histograms);
 * - derived on scrape from the store (events by state, dead letters by class, write-back backlog
 *   and lag, overdue milestones, partner queue depths), so they are right after a restart and
 *   before any recording call is wired.
 *
 * Labels are bounded: event and milestone types come from the contract, partner ids from the
 * configuration (or at most MAX_PARTNERS distinct well-formed ids), outcomes and classes from
 * fixed lists. Anything else is reported as "other". No id ever becomes a label value.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { EVENT_TYPES, MILESTONE_TYPES, SHIPMENT_STATUS_RANK, type MilestoneType } from '../../../shared/src/index.ts';
import { JOB_REASONS } from '../core/jobs.ts';
import { outboxFigures, storedWritebackFigures, type OutboxFigures } from '../odoo/outbox.ts';
import { stateLogs } from '../store/state-logs.ts';
import { UNFINISHED_STATES, type EventCounts, type Store } from '../store/types.ts';
import { createExpectations, expectationStamp, type ExpectationRow } from './expectations.ts';

export const PREFIX = 'logistics_bridge_';

/** How a partner call ended. `circuit_open` is a call refused by the breaker (never sent). */
export const CALL_OUTCOMES = ['success', 'retryable', 'permanent', 'timeout', 'circuit_open'] as const;
export type CallOutcome = (typeof CALL_OUTCOMES)[number];
export const ERROR_CLASSES = ['none', 'technical', 'business'] as const;
export type ErrorClass = (typeof ERROR_CLASSES)[number];
export const INGEST_OUTCOMES = ['accepted', 'duplicate', 'rejected'] as const;
export type IngestOutcome = (typeof INGEST_OUTCOMES)[number];
export const CIRCUIT_STATES = ['closed', 'half-open', 'open', 'isolated'] as const;
export type CircuitStateName = (typeof CIRCUIT_STATES)[number];
/** Why something went to the dead-letter queue (the engine's JobReason and the contract's reasons). */
export const DEAD_LETTER_REASONS = [...JOB_REASONS, 'insufficient_stock', 'duplicate_order', 'other'] as const;

/** Keyed log of the milestone expectations behind the completeness gauge (one row per aggregate). */
export const EXPECTATIONS = 'observability_expectations';
const MAX_PARTNERS = 64;
const PARTNER_ID = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/**
 * Milestones a delivered event makes due, and within how long (ms). A shipment status of a higher
 * rank (SHIPMENT_STATUS_RANK) satisfies a lower one: a delivered shipment is not "missing in transit".
 */
export const DEFAULT_EXPECTATIONS: Record<string, { milestone: MilestoneType; within_ms: number }[]> = {
  'order.released': [{ milestone: 'order.accepted', within_ms: 60 * 60_000 }],
  'shipment.requested': [
    { milestone: 'label.created', within_ms: 60 * 60_000 },
    { milestone: 'shipment.in_transit', within_ms: 48 * 3_600_000 },
    { milestone: 'shipment.delivered', within_ms: 7 * 86_400_000 },
  ],
};

/** What the engine reports about partners and write-back (structurally `Engine['status']`). */
export interface EngineStatusLike {
  partners: Record<string, { circuit: string; in_flight: number; pending: number; headroom?: number }>;
  writeback?: OutboxFigures & { odoo_down?: boolean; auth_paused?: boolean };
}

/** The SLA targets of the configured partners, in the units the metrics use. */
export function slaOf(partners: { id: string; sla?: { answer_ms?: number; success_ratio?: number } }[]): Pick<MetricsOptions, 'slaSeconds' | 'slaSuccess'> {
  const slaSeconds: Record<string, number> = {};
  const slaSuccess: Record<string, number> = {};
  for (const p of partners) {
    if (p.sla?.answer_ms !== undefined) slaSeconds[p.id] = p.sla.answer_ms / 1000;
    if (p.sla?.success_ratio !== undefined) slaSuccess[p.id] = p.sla.success_ratio;
  }
  return { slaSeconds, slaSuccess };
}

export interface MetricsOptions {
  /** Source of the store-derived gauges; without it they are absent. */
  store?: Store;
  /** Folder of the metrics' own log (milestone expectations), as the engine's `stateDir` (ignored when the store keeps its state logs); undefined: in memory with the store. */
  stateDir?: string;
  /** Configured partner ids: the only partner label values (others become "other"). */
  partners?: string[];
  /** Live engine figures (breaker states, in-flight calls); the jobs collection is read otherwise. */
  engineStatus?: () => EngineStatusLike;
  /** Answer-time targets per partner (seconds), for the SLA figures. */
  slaSeconds?: Record<string, number>;
  /** Success-ratio targets per partner (0..1), for the SLA figures. */
  slaSuccess?: Record<string, number>;
  /** Node process metrics (CPU, memory, event loop) under the same prefix. */
  processMetrics?: boolean;
  now?: () => Date;
  expectations?: typeof DEFAULT_EXPECTATIONS;
}

const seconds = (fromIso: string | undefined, to: number) => {
  const t = fromIso ? Date.parse(fromIso) : NaN;
  return Number.isFinite(t) ? Math.max(0, (to - t) / 1000) : undefined;
};

/** Creates a registry with every product metric and the functions that record them. */
export function createMetrics(o: MetricsOptions = {}) {
  const now = o.now ?? (() => new Date());
  const registry = new Registry();
  if (o.processMetrics) collectDefaultMetrics({ register: registry, prefix: PREFIX });
  const configured = o.partners ? new Set(o.partners) : undefined;
  const seenPartners = new Set<string>();
  const expectations = o.expectations ?? DEFAULT_EXPECTATIONS;
  const store = o.store;
  const completeness = store && createExpectations({
    log: () => stateLogs(store, { dir: o.stateDir }).keyed<ExpectationRow>(EXPECTATIONS, { stamp: expectationStamp }),
    rules: expectations, now: () => now().getTime(),
    // Figures must never break delivery: a failed write only makes the gauge stale.
    onError: () => undefined,
  });

  /** A partner id as a label value: configured or well-formed and among the first MAX_PARTNERS seen. */
  function partner(id: string): string {
    if (configured) return configured.has(id) ? id : 'other';
    if (!PARTNER_ID.test(id)) return 'other';
    if (seenPartners.has(id)) return id;
    if (seenPartners.size >= MAX_PARTNERS) return 'other';
    seenPartners.add(id);
    return id;
  }
  const oneOf = <T extends string>(list: readonly T[], value: string, fallback: T): T => ((list as readonly string[]).includes(value) ? (value as T) : fallback);
  const eventType = (t: string) => oneOf([...EVENT_TYPES, 'other'] as const, t, 'other');
  const milestoneType = (t: string) => oneOf([...MILESTONE_TYPES, 'other'] as const, t, 'other');

  const r = { registers: [registry] };
  // Latency buckets: partner answers take milliseconds (a partner on the same network answers in
  // 5-20 ms) to tens of seconds, so they start at 5 ms; commit -> partner is milliseconds when
  // nothing waits and hours when something does; partner -> Odoo runs from seconds to hours.
  const CALL_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
  const FLOW_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 14400, 86400];
  const COMMIT_BUCKETS = [0.005, 0.01, 0.025, 0.05, ...FLOW_BUCKETS];

  const events = new Counter({ ...r, name: `${PREFIX}events_received_total`, help: 'Events Odoo published to the bridge, by type and ingest outcome (accepted, duplicate, rejected).', labelNames: ['type', 'outcome'] as const });
  const calls = new Counter({ ...r, name: `${PREFIX}partner_calls_total`, help: 'Partner calls by partner, outcome and error class (technical: will retry; business: a person must act).', labelNames: ['partner', 'outcome', 'error_class'] as const });
  const callSeconds = new Histogram({ ...r, name: `${PREFIX}partner_call_duration_seconds`, help: 'Partner answer time, by partner and outcome.', labelNames: ['partner', 'outcome'] as const, buckets: CALL_BUCKETS });
  const withinSla = new Counter({ ...r, name: `${PREFIX}partner_calls_within_sla_total`, help: 'Successful partner calls answered within the partner\'s configured answer-time target.', labelNames: ['partner'] as const });
  const slaTarget = new Gauge({ ...r, name: `${PREFIX}partner_sla_target_seconds`, help: 'Configured answer-time target per partner (p95 of successful calls should be at or under it).', labelNames: ['partner'] as const });
  const slaSuccessTarget = new Gauge({ ...r, name: `${PREFIX}partner_sla_success_ratio_target`, help: 'Configured share of calls a partner should answer successfully (business refusals and calls never sent left out).', labelNames: ['partner'] as const });
  const throttled = new Counter({ ...r, name: `${PREFIX}partner_rate_limited_total`, help: 'Partner answers with HTTP 429 (Too Many Requests).', labelNames: ['partner'] as const });
  const headroomSet = new Map<string, number>();
  new Gauge({
    ...r, name: `${PREFIX}partner_rate_limit_headroom_ratio`, help: 'Share of the partner\'s rate limit still available (0..1): the lower of our own token bucket and the partner\'s rate-limit headers.', labelNames: ['partner'] as const,
    collect() {
      this.reset();
      const values = new Map(headroomSet);
      for (const [id, p] of Object.entries(safe(o.engineStatus)?.partners ?? {})) if (p.headroom !== undefined) values.set(partner(id), p.headroom);
      for (const [id, v] of values) this.set({ partner: id }, v);
    },
  });
  const circuitSet = new Map<string, CircuitStateName>();
  new Gauge({
    ...r, name: `${PREFIX}partner_circuit_state`, help: 'Circuit breaker state per partner: 1 for the current state (closed, half-open, open, isolated), 0 for the others.', labelNames: ['partner', 'state'] as const,
    collect() {
      this.reset();
      const states = new Map(circuitSet);
      const status = safe(o.engineStatus);
      for (const [id, p] of Object.entries(status?.partners ?? {})) states.set(partner(id), oneOf(CIRCUIT_STATES, p.circuit, 'closed'));
      for (const [id, s] of states) for (const st of CIRCUIT_STATES) this.set({ partner: id, state: st }, st === s ? 1 : 0);
    },
  });
  new Gauge({
    ...r, name: `${PREFIX}partner_pending_calls`, help: 'Partner calls waiting to be made (queued, retrying or waiting for their turn).', labelNames: ['partner'] as const,
    collect() {
      this.reset();
      const status = safe(o.engineStatus);
      for (const [id, p] of Object.entries(status?.partners ?? {})) this.inc({ partner: partner(id) }, p.pending);
    },
  });
  const deadLettered = new Counter({ ...r, name: `${PREFIX}dead_lettered_total`, help: 'Partner steps that entered the dead-letter queue, by error class and reason.', labelNames: ['error_class', 'reason'] as const });
  const releases = new Counter({ ...r, name: `${PREFIX}order_releases_total`, help: 'Order releases to warehouses, by partner and outcome (success, failed). Success rate = success / all.', labelNames: ['partner', 'outcome'] as const });
  const labels = new Counter({ ...r, name: `${PREFIX}carrier_label_requests_total`, help: 'Carrier label (shipment) requests, by partner and outcome (success, failed).', labelNames: ['partner', 'outcome'] as const });
  const commitToPartner = new Histogram({ ...r, name: `${PREFIX}commit_to_partner_seconds`, help: 'From the Odoo commit (event occurred_at) to the first partner request for it, by event type.', labelNames: ['type'] as const, buckets: COMMIT_BUCKETS });
  const written = new Counter({ ...r, name: `${PREFIX}writeback_milestones_total`, help: 'Milestones written back to Odoo, by milestone type.', labelNames: ['type'] as const });
  const writeLatency = new Histogram({ ...r, name: `${PREFIX}writeback_latency_seconds`, help: 'From the partner\'s milestone (occurred_at) to it being committed in Odoo, by milestone type.', labelNames: ['type'] as const, buckets: FLOW_BUCKETS });
  const refused = new Counter({ ...r, name: `${PREFIX}writeback_refusals_total`, help: 'Write-back calls or items Odoo refused, by queue (milestones, states) and refusal (transient, conflict, permanent, auth); none is dropped.', labelNames: ['queue', 'refusal'] as const });
  const pods = new Counter({ ...r, name: `${PREFIX}pod_propagated_total`, help: 'Proofs of delivery written into Odoo.' });
  const podLatency = new Histogram({ ...r, name: `${PREFIX}pod_propagation_seconds`, help: 'From the proof of delivery at the partner to it being visible in Odoo.', buckets: FLOW_BUCKETS });
  const inventoryLatency = new Histogram({ ...r, name: `${PREFIX}inventory_update_latency_seconds`, help: 'From a partner\'s inventory report to the level being visible in Odoo.', buckets: FLOW_BUCKETS });

  // ---- derived from the store on scrape
  /** The write-back queue as its writer holds it in memory (the engine's status), else as the store has it. */
  const outbox = (): OutboxFigures => safe(o.engineStatus)?.writeback ?? (o.store?.isOpen ? storedWritebackFigures(o.store) : outboxFigures([]));
  let countsCache: { at: number; counts: Promise<EventCounts | undefined> } | undefined;
  /** One store count per scrape, shared by the gauges below (no event body is read). */
  function counts(): Promise<EventCounts | undefined> {
    const t = Date.now();
    if (countsCache && t - countsCache.at < 1000) return countsCache.counts;
    const c = o.store?.isOpen ? o.store.counts({ now: now() }) : Promise.resolve(undefined);
    countsCache = { at: t, counts: c };
    return c;
  }
  if (o.store) {
    new Gauge({
      ...r, name: `${PREFIX}events`, help: 'Events in the bridge not yet finished, by state (delivered and discarded ones are counted by the counters).', labelNames: ['state'] as const,
      async collect() {
        this.reset();
        const c = await counts();
        for (const state of UNFINISHED_STATES) this.set({ state }, c?.byState[state].count ?? 0);
      },
    });
    new Gauge({
      ...r, name: `${PREFIX}oldest_pending_event_age_seconds`, help: 'Age of the oldest event still on its way to its partners (received, queued, delivering, retrying or blocked); 0 when none.',
      async collect() {
        const oldest = (await counts())?.oldestPending;
        this.set((oldest && seconds(oldest.received_at, now().getTime())) ?? 0);
      },
    });
    new Gauge({
      ...r, name: `${PREFIX}dead_letters`, help: 'Events in the dead-letter queue (state dead) or waiting for manual handling (state manual), by error class.', labelNames: ['error_class', 'state'] as const,
      async collect() {
        this.reset();
        for (const c of ['technical', 'business']) for (const s of ['dead', 'manual']) this.set({ error_class: c, state: s }, 0);
        const dead = (await counts())?.deadLetters;
        for (const state of ['dead', 'manual'] as const) for (const c of ['technical', 'business'] as const) this.inc({ error_class: c, state }, dead?.[state][c] ?? 0);
        // Milestones and event states Odoo refused are dead letters too (a person fixes the data in Odoo).
        this.inc({ error_class: 'business', state: 'dead' }, outbox().rejected + (outbox().states_rejected ?? 0));
      },
    });
    new Gauge({
      ...r, name: `${PREFIX}writeback_backlog`, help: 'Milestones waiting to be written to Odoo.',
      collect() {
        this.set(outbox().pending);
      },
    });
    new Gauge({
      ...r, name: `${PREFIX}writeback_dead_letters`, help: 'Write-backs Odoo refused for good, waiting for an operator to replay or discard them, by queue.', labelNames: ['queue'] as const,
      collect() {
        const f = outbox();
        this.set({ queue: 'milestones' }, f.rejected);
        this.set({ queue: 'states' }, f.states_rejected ?? 0);
      },
    });
    new Gauge({
      ...r, name: `${PREFIX}writeback_states_backlog`, help: 'Event delivery states waiting to be shown in Odoo.',
      collect() {
        this.set(outbox().states_pending ?? 0);
      },
    });
    new Gauge({
      ...r, name: `${PREFIX}writeback_lag_seconds`, help: 'Age of the oldest milestone still waiting for Odoo; 0 when none waits.',
      collect() {
        const oldest = outbox().oldest_pending_at;
        this.set(oldest ? seconds(oldest, now().getTime()) ?? 0 : 0);
      },
    });
    new Gauge({
      ...r, name: `${PREFIX}shipments_missing_milestone`, help: 'Shipments and orders missing an expected milestone past its due time, by the missing milestone.', labelNames: ['milestone'] as const,
      async collect() {
        this.reset();
        for (const list of Object.values(expectations)) for (const e of list) this.set({ milestone: e.milestone }, 0);
        for (const [m, n] of (await completeness?.missing()) ?? []) this.inc({ milestone: milestoneType(m) }, n);
      },
    });
  }

  /** Every value of a metric, with its labels (collect callbacks run). */
  async function values(name: string) {
    const m = registry.getSingleMetric(`${PREFIX}${name}`);
    return m ? (await m.get()).values : [];
  }
  const sum = (vs: { value: number }[]) => vs.reduce((n, x) => n + x.value, 0);

  const api = {
    registry,
    /** The figures people read on the dashboard, computed from this registry. */
    async figures(): Promise<Figures> {
      const rel = await values('order_releases_total');
      const relAll = sum(rel);
      const lab = await values('carrier_label_requests_total');
      const callVals = await values('partner_calls_total');
      const durations = await values('partner_call_duration_seconds');
      const circuits = await values('partner_circuit_state');
      const pendingVals = await values('partner_pending_calls');
      const throttledVals = await values('partner_rate_limited_total');
      const headroomVals = await values('partner_rate_limit_headroom_ratio');
      const slaVals = await values('partner_calls_within_sla_total');
      const ids = new Set<string>([...callVals, ...circuits, ...pendingVals].map((v) => String(v.labels.partner)));
      for (const id of o.partners ?? []) ids.add(id);
      const partners: PartnerFigures[] = [...ids].sort().map((id) => {
        const mine = callVals.filter((v) => v.labels.partner === id);
        const ok = sum(mine.filter((v) => v.labels.outcome === 'success'));
        // The partner's own reliability: refusals of our data and calls never sent are not its failures.
        const answered = sum(mine.filter((v) => v.labels.outcome === 'success' || v.labels.outcome === 'retryable' || v.labels.outcome === 'timeout'));
        const p95 = quantile(durations.filter((v) => v.labels.partner === id && v.labels.outcome === 'success'), 0.95);
        const answerTarget = o.slaSeconds?.[id];
        const successTarget = o.slaSuccess?.[id];
        const successRatio = answered ? ok / answered : undefined;
        return {
          partner: id,
          calls: sum(mine),
          success: ok,
          technical_errors: sum(mine.filter((v) => v.labels.error_class === 'technical')),
          business_errors: sum(mine.filter((v) => v.labels.error_class === 'business')),
          rate_limited: sum(throttledVals.filter((v) => v.labels.partner === id)),
          circuit: String(circuits.find((v) => v.labels.partner === id && v.value === 1)?.labels.state ?? 'closed'),
          pending: sum(pendingVals.filter((v) => v.labels.partner === id)),
          headroom: headroomVals.find((v) => v.labels.partner === id)?.value,
          p95_seconds: p95,
          sla_target_seconds: answerTarget,
          within_sla: answerTarget !== undefined && ok > 0 ? sum(slaVals.filter((v) => v.labels.partner === id)) / ok : undefined,
          success_ratio: successRatio,
          success_target: successTarget,
          sla_missed: {
            answer: answerTarget !== undefined && p95 !== undefined && p95 > answerTarget,
            success: successTarget !== undefined && successRatio !== undefined && successRatio < successTarget,
          },
        };
      });
      const commit = await values('commit_to_partner_seconds');
      const missing = await values('shipments_missing_milestone');
      return {
        order_release_success_rate: relAll ? sum(rel.filter((v) => v.labels.outcome === 'success')) / relAll : undefined,
        order_releases: relAll,
        label_failures: sum(lab.filter((v) => v.labels.outcome === 'failed')),
        label_requests: sum(lab),
        commit_to_partner: { p50: quantile(commit, 0.5), p95: quantile(commit, 0.95), p99: quantile(commit, 0.99) },
        writeback_backlog: sum(await values('writeback_backlog')),
        writeback_lag_seconds: sum(await values('writeback_lag_seconds')),
        writeback_dead_letters: sum(await values('writeback_dead_letters')),
        pod_propagated: sum(await values('pod_propagated_total')),
        pod_p95_seconds: quantile(await values('pod_propagation_seconds'), 0.95),
        inventory_p95_seconds: quantile(await values('inventory_update_latency_seconds'), 0.95),
        missing_milestones: missing.filter((v) => v.value > 0).map((v) => ({ milestone: String(v.labels.milestone), count: v.value })),
        partners,
      };
    },
    /** Prometheus text exposition. */
    async exposition(): Promise<string> {
      return registry.metrics();
    },
    contentType: registry.contentType,
    /** Ingest: `n` events of `type` were accepted, were duplicates, or were rejected by validation. */
    eventsReceived(type: string, outcome: IngestOutcome, n = 1) {
      if (n > 0) events.inc({ type: eventType(type), outcome }, n);
    },
    /**
     * One partner call ended (or was refused by the breaker: outcome circuit_open, seconds 0).
     * `errorClass` defaults from the outcome: permanent -> business, other failures -> technical.
     */
    partnerCall(partnerId: string, outcome: CallOutcome, secondsTaken: number, errorClass?: ErrorClass) {
      const p = partner(partnerId);
      const cls = errorClass ?? (outcome === 'success' ? 'none' : outcome === 'permanent' ? 'business' : 'technical');
      calls.inc({ partner: p, outcome, error_class: cls });
      if (outcome !== 'circuit_open') callSeconds.observe({ partner: p, outcome }, Math.max(0, secondsTaken));
      const target = o.slaSeconds?.[partnerId];
      if (outcome === 'success' && target !== undefined && secondsTaken <= target) withinSla.inc({ partner: p });
    },
    /** The partner answered 429. */
    rateLimited(partnerId: string) {
      throttled.inc({ partner: partner(partnerId) });
    },
    /** Rate-limit headroom from the partner's headers (remaining of limit), where no engine reports it live. */
    rateLimitHeadroom(partnerId: string, remaining: number, limit: number) {
      if (limit > 0) headroomSet.set(partner(partnerId), Math.max(0, Math.min(1, remaining / limit)));
    },
    /** Breaker transitions, for when no `engineStatus` is given (the engine's live state wins). */
    circuitState(partnerId: string, state: CircuitStateName) {
      circuitSet.set(partner(partnerId), state);
    },
    /** Sets the answer-time targets (seconds) per partner, from the configuration. */
    slaTargets(targets: Record<string, number>) {
      o.slaSeconds = { ...o.slaSeconds, ...targets };
      for (const [id, s] of Object.entries(targets)) slaTarget.set({ partner: partner(id) }, s);
    },
    /** Sets the success-ratio targets (0..1) per partner, from the configuration. */
    slaSuccessTargets(targets: Record<string, number>) {
      o.slaSuccess = { ...o.slaSuccess, ...targets };
      for (const [id, x] of Object.entries(targets)) slaSuccessTarget.set({ partner: partner(id) }, x);
    },
    /** A partner step entered the dead-letter queue (or manual handling). */
    deadLettered(errorClass: 'technical' | 'business', reason?: string) {
      deadLettered.inc({ error_class: errorClass, reason: oneOf(DEAD_LETTER_REASONS, reason ?? 'other', 'other') });
    },
    /** A releaseOrder step finished: delivered to the warehouse, or given up (dead/manual). */
    orderRelease(partnerId: string, ok: boolean) {
      releases.inc({ partner: partner(partnerId), outcome: ok ? 'success' : 'failed' });
    },
    /** A createShipment / createReturnLabel step finished: label bought, or given up. */
    labelRequest(partnerId: string, ok: boolean) {
      labels.inc({ partner: partner(partnerId), outcome: ok ? 'success' : 'failed' });
    },
    /** The first partner request for an event goes out now: records occurred_at -> now. Call once per event. */
    firstPartnerRequest(event: { type: string; occurred_at: string }, at: Date = now()) {
      const s = seconds(event.occurred_at, at.getTime());
      if (s !== undefined) commitToPartner.observe({ type: eventType(event.type) }, s);
    },
    /**
     * Odoo committed these milestones (the write-back batch answered ok): counts them, records
     * partner -> Odoo latency, proof-of-delivery and inventory latencies, and settles expectations.
     */
    milestonesWritten(milestones: { type: string; occurred_at: string; aggregate: string }[], at: Date = now()) {
      const t = at.getTime();
      for (const m of milestones) {
        const type = milestoneType(m.type);
        written.inc({ type });
        const s = seconds(m.occurred_at, t);
        if (s !== undefined) writeLatency.observe({ type }, s);
        if (m.type === 'shipment.proof_of_delivery') {
          pods.inc();
          if (s !== undefined) podLatency.observe(s);
        }
        if (m.type === 'inventory.level' && s !== undefined) inventoryLatency.observe(s);
      }
      api.milestonesSeen(milestones);
    },
    /** Odoo refused a write-back call or item (classified by refusal.ts). */
    writebackRefused(queue: 'milestones' | 'states', refusal: string) {
      refused.inc({ queue, refusal });
    },
    /** An event was delivered to its partners: its expected milestones are now due (see DEFAULT_EXPECTATIONS). */
    eventDelivered(event: { type: string; aggregate: string }, at: Date = now()) {
      void completeness?.delivered(event, at.getTime());
    },
    /** Milestones arrived (accepted from a partner): expectations they meet are settled. */
    milestonesSeen(milestones: { type: string; aggregate: string }[]) {
      if (milestones.length) void completeness?.seen(milestones);
    },
    /** Resolves once the expectation changes recorded so far are written (tests). */
    settled: async () => { await completeness?.settled(); },
  };
  if (o.slaSeconds) api.slaTargets(o.slaSeconds);
  if (o.slaSuccess) api.slaSuccessTargets(o.slaSuccess);
  return api;
}

export type Metrics = ReturnType<typeof createMetrics>;

export interface PartnerFigures {
  partner: string;
  calls: number;
  success: number;
  technical_errors: number;
  business_errors: number;
  rate_limited: number;
  circuit: string;
  pending: number;
  headroom?: number;
  p95_seconds?: number;
  sla_target_seconds?: number;
  /** Share of successful calls answered within the target (0..1). */
  within_sla?: number;
  /** Successful calls / calls the partner answered or timed out on (0..1). */
  success_ratio?: number;
  success_target?: number;
  /** Which targets are missed right now: p95 over the answer target, success under its target. */
  sla_missed: { answer: boolean; success: boolean };
}

export interface Figures {
  order_release_success_rate?: number;
  order_releases: number;
  label_failures: number;
  label_requests: number;
  commit_to_partner: { p50?: number; p95?: number; p99?: number };
  writeback_backlog: number;
  writeback_lag_seconds: number;
  /** Milestones and event states Odoo refused for good (replay or discard them). */
  writeback_dead_letters: number;
  pod_propagated: number;
  pod_p95_seconds?: number;
  inventory_p95_seconds?: number;
  missing_milestones: { milestone: string; count: number }[];
  partners: PartnerFigures[];
}

/**
 * A quantile estimated from histogram bucket values (as PromQL's histogram_quantile: linear within
 * the bucket); series with different labels are added up. Undefined when nothing was observed.
 */
export function quantile(vs: { labels: Record<string, unknown>; value: number; metricName?: string }[], q: number): number | undefined {
  const buckets = new Map<number, number>();
  for (const v of vs) {
    if (!v.metricName?.endsWith('_bucket')) continue;
    const le = v.labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(v.labels.le);
    buckets.set(le, (buckets.get(le) ?? 0) + v.value);
  }
  const sorted = [...buckets].sort((a, b) => a[0] - b[0]);
  const total = sorted.at(-1)?.[1] ?? 0;
  if (!total) return undefined;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const [le, count] of sorted) {
    if (count >= rank) {
      if (!Number.isFinite(le)) return prevLe;
      return count === prevCount ? le : prevLe + ((le - prevLe) * (rank - prevCount)) / (count - prevCount);
    }
    prevLe = le;
    prevCount = count;
  }
  return prevLe;
}

function safe<T>(f: (() => T) | undefined): T | undefined {
  try {
    return f?.();
  } catch {
    return undefined;
  }
}
