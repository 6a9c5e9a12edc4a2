/**
 * One partner call of a job, from the durable attempt to the applied answer:
 * - the attempt is written (jobs log and audit) before the request leaves, so a crash during the
 *   call leaves a running job that recovery reconciles;
 * - in doubt, the step's safety rule decides: `lookup-before-retry` adopts what the partner has,
 *   `partner-deduplicates` sends the same key, `unsafe` goes to manual handling, never called again;
 * - the answer is stored before anything is done with it; then applied (data bag, who performed
 *   what, milestones it told us) and the event settles;
 * - a failure is classified once (failure-rule.ts) and its decision applied (transitions.ts).
 */
import { upcastEvent, type Event, type Milestone } from '../../../shared/src/index.ts';
import type { CallContext, CarrierAdapter, PartnerAdapter, StepResult, StepSafety, VisibilityAdapter, WarehouseAdapter } from '../adapters/types.ts';
import { attemptEntries, recordingCall, redact, type CallScope } from './audit.ts';
import type { Parts } from './engine-parts.ts';
import { afterFailure, classifyFailure, type Failure } from './failure-rule.ts';
import type { AuditEntry, Job } from './jobs.ts';
import type { Settlement } from './settlement.ts';
import * as t from './transitions.ts';
import { partnerOf } from './transitions.ts';
import { UNDOES, type Action } from './routing.ts';
import { refOf, voidCheckJob, voidLeftover, voidSubject } from './void-check.ts';

/** How a step of this adapter stays exactly once (undefined: not an effectful step, e.g. a void check's lookup). */
export function safetyOf(adapter: PartnerAdapter, action: Job['action']): StepSafety | undefined {
  return (adapter.safety as Record<string, StepSafety>)[action];
}

/** The audit entry of a call leaving (`started`), or found interrupted by a crash on the next start. */
export function attemptStarted(job: Job, partnerId: string, at: string, outcome: 'started' | 'interrupted' = 'started'): AuditEntry {
  return {
    id: crypto.randomUUID(), at, actor: 'bridge', action: 'attempt', target: job.subject, ...(job.event_id && { event_id: job.event_id }),
    partner: partnerId, step: job.step, key: job.key, call: job.calls, outcome, ...(job.in_doubt && outcome === 'started' && { note: 'in doubt: an earlier call may have acted' }),
  };
}

export interface PartnerCalls {
  /** Runs the job's next call; a failure outside the partner call (store I/O, a bug) is not lost: the job waits and runs again. */
  run(job: Job): Promise<void>;
  /** Applies a stored answer (idempotent), then settles the event. */
  apply(job: Job, partnerId?: string): Promise<void>;
  /** The job's partner has an open circuit: fall back, go to manual handling, or wait. */
  circuitOpen(job: Job, retryInMs: number): Promise<void>;
  /** Gives a job up and announces it. */
  giveUp(job: Job, state: 'dead' | 'manual', errorClass: 'technical' | 'business', reason: Job['reason'], message: string): void;
  /** The event or milestone a job carries (an operator-edited payload replaces the stored one's). */
  bodyOf(job: Job): Promise<Event | Milestone | undefined>;
}

type Deps = Pick<Parts, 'store' | 'logs' | 'index' | 'audit' | 'adapters' | 'gates' | 'partners' | 'headroom' | 'metrics' | 'logger' | 'io' | 'nowMs' | 'iso' | 'secrets' | 'announce' | 'persist' | 'bodies'> & {
  settlement: Settlement;
  /** Milestones a partner's answer told us. */
  acceptMilestones(list: unknown[], from: { partner: string }): Promise<{ refused: { id?: string; reason: string }[] }>;
};

export function createPartnerCalls(d: Deps): PartnerCalls {
  const { store, index, audit, adapters, gates, headroom, metrics, logger, io, nowMs, iso, secrets, announce, persist, settlement } = d;
  /** Request bodies already audited per job (a retry sends the same request again). */
  const transformed = new WeakMap<Job, Set<string>>();
  const roleOf = (id: string) => d.partners.get(id)?.role;

  function giveUp(job: Job, state: 'dead' | 'manual', errorClass: 'technical' | 'business', reason: Job['reason'], message: string) {
    t.giveUp(job, state, errorClass, reason, message, iso());
    announce({ type: 'gave_up', job });
  }

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
    const event = d.bodies.get(job.event_id!) ?? (await store.get(job.event_id!))?.event;
    if (!event) return undefined;
    // The store keeps what Odoo sent; adapters see the current version of its type (an operator's
    // edited payload is already in that version: it was checked against the upcast event).
    const current = upcastEvent(event) as Event;
    return job.payload === undefined ? current : ({ ...current, payload: job.payload } as Event);
  }

  async function run(job: Job) {
    try {
      await call(job);
    } catch (e) {
      logger.error({ err: e, job: job.id }, 'engine step failed outside the partner call; trying again in 5 s');
      t.deferred(job, iso(nowMs() + 5_000));
      index.put(job);
    }
  }

  async function call(job: Job) {
    const { aggs } = d.logs;
    const agg = aggs.peek(job.aggregate) ?? (await aggs.read(job.aggregate));
    const undo = UNDOES[job.action as Action];
    const performer = undo && agg?.performed[undo];
    if (performer && !job.replay_run && performer !== partnerOf(job) && adapters.has(performer)) t.redirected(job, performer);
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
      t.giveUp(job, 'dead', 'technical', undefined, `the stored event ${job.event_id} is gone (pruned?)`, iso());
      await persist([job]);
      return settlement.refreshGroup(job.group);
    }
    const wasInDoubt = job.in_doubt;
    if (wasInDoubt && safetyOf(adapter, job.action)?.rule === 'unsafe') return interruptedUnsafe(job, partnerId);
    if (metrics && job.kind === 'event' && job.calls === 0 && (body as Event).occurred_at) metrics.firstPartnerRequest(body as Event, io.now());
    t.startCall(job);
    // The attempt is durable, in the jobs log and the audit, before the request leaves: a crash
    // during the call leaves a running job (reconciled on start) and a `started` audit entry. The
    // event's status (derived from the jobs, which recovery derives again) is written alongside.
    await Promise.all([persist([job]), audit.record([attemptStarted(job, partnerId, iso())]), job.kind === 'event' && settlement.refreshGroup(job.group)]);
    const data = agg?.data[partnerId] ?? {};
    const began = nowMs();
    const scope: CallScope = { requests: [] };
    try {
      const result = await gate.call((signal) => recordingCall(scope, async () => {
        // In doubt, a lookup-before-retry step finds and adopts what the partner has; a
        // partner-deduplicates step sends the same key again (an unsafe one never gets here).
        const ctx: CallContext = { idempotencyKey: job.key, correlationId: job.event_id ?? job.subject, signal, data, inDoubt: wasInDoubt };
        return invoke(adapter, job, body, ctx);
      }));
      announce({ type: 'call_ended', partner: partnerId, outcome: 'success', seconds: (nowMs() - began) / 1000 });
      // The call's outcome is in the audit before its job moves on: a crash in between leaves the job
      // running (recovery records it interrupted), never a finished job whose call the audit lost.
      await recordAttempt(job, partnerId, scope, nowMs() - began);
      // The answer is durable before anything is done with it: a crash from here on never asks again.
      t.succeeded(job, result);
      await persist([job]);
      await apply(job, partnerId);
    } catch (e) {
      const failure = classifyFailure(e);
      announce({ type: 'call_ended', partner: partnerId, outcome: failure.outcome, seconds: failure.outcome === 'circuit_open' ? 0 : (nowMs() - began) / 1000, status: failure.status });
      await recordAttempt(job, partnerId, scope, nowMs() - began, failure.outcome, e);
      await failed(job, partnerId, failure, wasInDoubt);
    }
  }

  /** Audits one call of a step (and the partner's rate-limit headers feed the headroom). */
  function recordAttempt(job: Job, partnerId: string, scope: CallScope, ms: number, outcome: NonNullable<AuditEntry['outcome']> = 'success', e?: unknown): Promise<void> {
    for (const r of scope.requests) headroom.observe(partnerId, r.headers);
    let seen = transformed.get(job);
    if (!seen) transformed.set(job, (seen = new Set()));
    return audit.record(attemptEntries({ job, partnerId, call: scope, ms, outcome, error: e, secrets, seen, at: iso() }));
  }

  /** An unsafe step whose last call may have acted: a person checks the partner; never called blindly again. */
  async function interruptedUnsafe(job: Job, partnerId: string) {
    const safety = safetyOf(adapters.get(partnerId)!, job.action)!;
    giveUp(job, 'manual', 'technical', 'may_have_applied', `${partnerId}: call ${job.calls} of ${job.action} (key ${job.key}) may have acted without its answer reaching the bridge, `
      + `and ${partnerId} documents no key or lookup that makes a retry safe (${safety.doc}): check the partner; if it acted, discard this entry; if not, replay it`);
    await persist([job]);
    // The state change (with this message) is audited by refreshGroup.
    await settlement.refreshGroup(job.group);
  }

  /** Applies the failure rule's decision to the job. */
  function decide(job: Job, partnerId: string, failure: Failure, wasInDoubt: boolean) {
    const limits = gates.get(partnerId)!.limits;
    const after = afterFailure(job, failure, {
      partner: partnerId, role: roleOf(partnerId), backoff: limits.backoff, wasInDoubt, now: nowMs(), random: io.random,
      redact: (m) => redact(m, secrets) as string,
    });
    const r = t.failed(job, after, iso);
    if (r.gaveUp) announce({ type: 'gave_up', job });
    if (r.fellBack) announce({ type: 'fell_back', job, ...r.fellBack });
  }

  async function failed(job: Job, partnerId: string, failure: Failure, wasInDoubt: boolean) {
    // Refused before calling: not a call, not an attempt.
    if (failure.outcome === 'circuit_open') t.refusedByBreaker(job, wasInDoubt);
    decide(job, partnerId, failure, wasInDoubt);
    await persist([job]);
    await settlement.refreshGroup(job.group);
  }

  async function circuitOpen(job: Job, retryInMs: number) {
    decide(job, partnerOf(job), { outcome: 'circuit_open', message: 'circuit open', retryInMs }, job.in_doubt);
    await persist([job]);
    await settlement.refreshGroup(job.group);
  }

  /** Applies a stored answer: the partner's data bag, who performed what, the milestones it told us. */
  async function apply(job: Job, partnerId = partnerOf(job)) {
    const result = job.result ?? {};
    if (job.kind === 'event') {
      const agg = d.logs.aggs.row(job.aggregate);
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
      const r = await d.acceptMilestones(result.milestones, { partner: partnerId });
      if (r.refused.length) logger.error({ partner: partnerId, refused: r.refused }, 'a partner step returned milestones the contract or ownership refuses');
    }
    // No write for "applied": applying is idempotent (bag merge, outbox and publishes keyed by id),
    // so a crash before the job row is deleted just applies it again on start.
    t.applied(job);
    announce({ type: 'step_done', job, partner: partnerId });
    await settlement.settle(job.subject);
  }

  /** One void check per carrier left behind, in its own group: it never holds back the aggregate. */
  async function planVoidChecks(job: Job, winner: string) {
    const rows = (job.abandoned ?? [])
      .filter((p) => p !== winner && adapters.has(p) && !index.hasSubject(voidSubject(job, p)))
      .map((p) => voidCheckJob(job, p, gates.get(p)!.limits.max_attempts, iso()));
    if (!rows.length) return;
    logger.warn({ event_id: job.event_id, carriers: rows.map((r) => r.step), fallback: winner }, 'fell back after a call that may have bought a label: checking the carriers left behind');
    await persist(rows);
  }

  return { run, apply, circuitOpen, giveUp, bodyOf };
}
