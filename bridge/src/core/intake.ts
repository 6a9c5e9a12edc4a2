/**
 * What enters the engine: events routed into jobs (one per partner step), and partner milestones
 * checked (contract, ownership) then queued for Odoo and fanned out to the visibility partners.
 */
import type { Event, Milestone } from '../../../shared/src/index.ts';
import { checkMilestone } from '../../../shared/src/index.ts';
import type { Parts } from './engine-parts.ts';
import type { Job } from './jobs.ts';
import type { PartnerCalls } from './partner-call.ts';
import { ownershipRefusal, planSteps, routingAttributes, visibilityPartners, workflowOfEvent, workflowOfMilestone } from './routing.ts';
import type { Settlement } from './settlement.ts';

export interface Intake {
  /**
   * Routes events into jobs (idempotent: steps that already have a job are skipped). Fresh jobs
   * are not written: until a first call they can be planned again from the stored event (that is
   * what recovery does), which keeps the jobs file as small as the work in flight.
   */
  admit(events: Event[]): Promise<void>;
  acceptMilestones(list: unknown[], from: { partner: string }): Promise<{ accepted: string[]; refused: { id?: string; reason: string }[] }>;
  /** Publishes are numbered after the highest one found on start. */
  notePublishSeq(seq: number): void;
}

type Deps = Pick<Parts, 'config' | 'index' | 'logs' | 'gates' | 'writeback' | 'metrics' | 'logger' | 'nowMs' | 'iso' | 'persist' | 'bodies'> & {
  settlement: Pick<Settlement, 'refreshGroup'>;
  calls: Pick<PartnerCalls, 'giveUp'>;
  pump(): void;
  /** Opens the engine's logs (milestones may arrive before start). */
  open(): Promise<void>;
};

function nextFlush(now: number, interval: number): number {
  return Math.ceil(now / interval) * interval;
}

export function createIntake(d: Deps): Intake {
  const { config, index, gates, writeback, metrics, logger, nowMs, iso, persist, bodies } = d;
  let publishSeq = 0;

  async function admit(events: Event[]) {
    const { aggs } = d.logs;
    const durable: Job[] = [];
    const touched = new Set<string>();
    const loaded = await aggs.load(events.map((e) => e.aggregate));
    const now = nowMs();
    for (const event of events) {
      // A delivered event being replayed to one partner (point-in-time.ts): only its replay jobs run;
      // its own steps were delivered (recovery sees it unfinished while the replay runs).
      if (index.hasSubject(event.id) && index.ofSubject(event.id).some((j) => j.replay_run)) continue;
      const plan = planSteps(config, event);
      if (!plan.steps.length) {
        if (!index.hasSubject(event.id)) {
          const job = unroutedJob(event, now);
          index.put(job);
          touched.add(job.group);
          durable.push(job);
        }
        continue;
      }
      const wf = config.workflows[workflowOfEvent(event.type)];
      const runAt = wf?.mode === 'batch' ? nextFlush(now, wf.flush_interval_ms) : now;
      const late = aggs.pin(event.aggregate, loaded.get(event.aggregate));
      const outOfOrder = !index.hasSubject(event.id) && late && event.sequence <= late.high_water;
      for (const s of plan.steps) {
        const id = `${event.id}/${s.step}`;
        if (index.has(id)) continue;
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
        index.put(job);
        touched.add(job.group);
        if (outOfOrder) durable.push(job);
      }
      if (!outOfOrder) bodies.set(event.id, event);
      logger.debug({ event_id: event.id, route: plan.route, steps: plan.steps.map((s) => s.step) }, 'event routed');
    }
    for (const key of loaded.keys()) if (!index.hasAggregate(key)) aggs.evict(key);
    if (durable.length) await persist(durable);
    for (const g of touched) await d.settlement.refreshGroup(g);
    d.pump();
  }

  /** An event no rule routes: nobody heard of it, so a person decides (add a route and replay, or discard). */
  function unroutedJob(event: Event, now: number): Job {
    const job: Job = {
      id: `${event.id}/route`, kind: 'event', subject: event.id, event_id: event.id, type: event.type, aggregate: event.aggregate, group: event.aggregate,
      seq: event.sequence, step: 'route', action: 'route', candidates: [], candidate: 0, key: `${event.id}:route`, attempts: 0, max_attempts: 0, calls: 0,
      run_at: iso(now), state: 'pending', in_doubt: false, replays: 0, rekeys: 0, created_at: iso(now), updated_at: iso(now),
    };
    const attrs = Object.entries(routingAttributes(event)).filter(([, v]) => v !== undefined).map(([k, v]) => `${k} ${v}`).join(', ');
    d.calls.giveUp(job, 'manual', 'business', 'unrouted', `no partner is routed for this ${event.type}${attrs ? ` (${attrs})` : ''}: add a route for it to the bridge configuration and replay, or discard it if no partner needs it`);
    return job;
  }

  async function acceptMilestones(list: unknown[], from: { partner: string }) {
    await d.open();
    const { aggs } = d.logs;
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
          if (index.hasSubject(subject)) continue;
          rows.push({
            id: `${subject}/${p.id}`, kind: 'publish', subject, event_id: m.event_id, type: m.type, aggregate: m.aggregate,
            group: `${p.id}|${m.aggregate}`, seq: ++publishSeq, step: p.id, action: 'publishMilestone', candidates: [p.id], candidate: 0,
            key: `${m.id}:${p.id}`, attempts: 0, max_attempts: 0, calls: 0, run_at: iso(runAt), state: 'pending', in_doubt: false,
            milestone: m, replays: 0, rekeys: 0, created_at: iso(now), updated_at: iso(now),
          });
        }
      }
      if (rows.length) await persist(rows);
      d.pump();
    }
    return { accepted: accepted.map((m) => m.id), refused };
  }

  return {
    admit, acceptMilestones,
    notePublishSeq(seq) {
      publishSeq = Math.max(publishSeq, seq);
    },
  };
}
