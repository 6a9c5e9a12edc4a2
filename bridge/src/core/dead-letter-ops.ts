/**
 * The dead-letter queue as operators work it: list, show, replay (same key or a new one, optionally
 * with an edited payload, re-validated first), discard. Entries are the failed jobs of a subject
 * (event, publish, void check) or a milestone Odoo refused; every action is audited.
 */
import type { Event, Milestone } from '../../../shared/src/index.ts';
import { checkEvent, checkMilestone } from '../../../shared/src/index.ts';
import { ApiError } from '../errors.ts';
import { byDeadAt, matches, page, parseDeadLetterId, stateWritebackView, writebackView, type DeadLetter, type DeadLetterFilter } from './dead-letter-view.ts';
import { STATE_PREFIX } from '../odoo/state-queue.ts';
import type { Parts } from './engine-parts.ts';
import type { Engine, ReplayOptions } from './engine-api.ts';
import type { Intake } from './intake.ts';
import type { Job } from './jobs.ts';
import type { PartnerCalls } from './partner-call.ts';
import { planSteps } from './routing.ts';
import type { Settlement } from './settlement.ts';
import * as t from './transitions.ts';
import { DEAD_STATES, partnerOf } from './transitions.ts';

type Deps = Pick<Parts, 'config' | 'store' | 'index' | 'logs' | 'audit' | 'adapters' | 'writeback' | 'logger' | 'iso' | 'persist'> & {
  settlement: Pick<Settlement, 'refreshGroup' | 'settle'>;
  calls: Pick<PartnerCalls, 'bodyOf'>;
  intake: Pick<Intake, 'admit'>;
  pump(): void;
};

export function createDeadLetterOps(d: Deps): Engine['deadLetters'] {
  const { config, store, index, audit, adapters, writeback, logger, iso, persist, settlement } = d;
  const notFound = (id: string) => new ApiError(404, 'not_found', `no dead letter ${id}`);

  function view(subject: string): DeadLetter | undefined {
    const js = index.ofSubject(subject);
    const failed = js.filter((j) => DEAD_STATES.has(j.state));
    if (!failed.length) return undefined;
    const f = failed.find((j) => j.state === 'dead') ?? failed[0];
    const blocking = new Set<string>();
    if (f.kind === 'event') for (const j of index.ofGroup(f.group)) if (j.seq > f.seq && j.kind === 'event') blocking.add(j.subject);
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
    for (const j of index.values()) {
      if (!DEAD_STATES.has(j.state) || seen.has(j.subject)) continue;
      seen.add(j.subject);
      const v = view(j.subject);
      if (v && matches(v, filter)) out.push(v);
    }
    for (const v of [...writeback.rejected().map(writebackView), ...writeback.rejectedStates().map(stateWritebackView)]) {
      if (matches(v, filter)) out.push(v);
    }
    return out.sort(byDeadAt);
  }

  function get(id: string): DeadLetter | undefined {
    const ref = parseDeadLetterId(id);
    if (ref.kind === 'writeback') {
      const row = writeback.rejected().find((r) => r.id === ref.milestoneId);
      const state = writeback.rejectedStates().find((r) => `${STATE_PREFIX}${r.id}` === ref.milestoneId);
      return row ? writebackView(row) : state && stateWritebackView(state);
    }
    return view(ref.subject);
  }

  async function replayWriteback(id: string, milestoneId: string, opts: ReplayOptions) {
    let milestone: Milestone | undefined;
    if (opts.payload !== undefined) {
      const row = writeback.rejected().find((r) => r.id === milestoneId);
      if (!row) throw notFound(id);
      const checked = checkMilestone({ ...row.milestone, payload: opts.payload });
      if (!checked.ok) throw new ApiError(400, 'invalid_payload', checked.problem.message, checked.problem.path);
      milestone = checked.value;
    }
    const r = await writeback.replay(milestoneId, milestone);
    if (!r) throw notFound(id);
    await audit.record([{
      id: crypto.randomUUID(), at: iso(), actor: opts.actor, action: 'replay', target: id, event_id: r.event_id,
      ...(milestone && r.before && { before: r.before.payload, after: milestone.payload }),
    }]);
    return { id, state: 'pending' };
  }

  /** The failed jobs of a subject, or the error saying why it has none. */
  async function failedJobs(id: string): Promise<Job[]> {
    const js = index.ofSubject(id);
    const failed = js.filter((j) => DEAD_STATES.has(j.state));
    if (failed.length) return failed;
    const stored = js.length ? undefined : await store.get(id);
    if (!js.length && !stored) throw notFound(id);
    throw new ApiError(409, 'not_dead', `${id} is not in the dead-letter queue (state ${js.length ? index.statusOf(id).state : stored!.state})`);
  }

  async function replay(id: string, opts: ReplayOptions) {
    const ref = parseDeadLetterId(id);
    if (ref.kind === 'writeback') return replayWriteback(id, ref.milestoneId, opts);
    const failed = await failedJobs(id);
    let before: unknown;
    let after: unknown;
    if (opts.payload !== undefined) {
      if (failed[0].kind !== 'event') throw new ApiError(400, 'not_editable', 'only event payloads can be edited here');
      const body = (await d.calls.bodyOf(failed[0])) as Event;
      const checked = checkEvent({ ...body, payload: opts.payload });
      if (!checked.ok) throw new ApiError(400, 'invalid_payload', checked.problem.message, checked.problem.path);
      before = body.payload;
      after = checked.value.payload;
    }
    if (failed[0].action === 'route') return replayUnrouted(failed[0], opts);
    const gone = failed.map((j) => j.candidates[0]).find((p) => !adapters.has(p));
    if (gone) throw new ApiError(409, 'partner_not_configured', `partner ${gone} is not in the configuration: add it back before replaying, or discard`);
    const keysBefore = failed.map((j) => j.key);
    for (const j of failed) t.replayed(j, { newKey: opts.new_key, payload: after }, iso());
    await persist(failed);
    await audit.record([{
      id: crypto.randomUUID(), at: iso(), actor: opts.actor, action: 'replay', target: id, event_id: failed[0].event_id,
      new_key: !!opts.new_key, keys: { before: keysBefore, after: failed.map((j) => j.key) }, ...(after !== undefined && { before, after }),
    }]);
    logger.info({ subject: id, actor: opts.actor, new_key: !!opts.new_key, edited: after !== undefined }, 'dead letter replayed');
    await settlement.refreshGroup(failed[0].group);
    d.pump();
    return view(id) ?? { id, state: failed[0].kind === 'event' ? index.statusOf(id).state : 'pending' };
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
    index.remove(job);
    await d.logs.jobs.delete([job.id]);
    await audit.record([{ id: crypto.randomUUID(), at: iso(), actor: opts.actor, action: 'replay', target: job.subject, event_id: job.event_id, note: 'routed again' }]);
    logger.info({ subject: job.subject, actor: opts.actor }, 'unrouted event routed again');
    await d.intake.admit([event]);
    return view(job.subject) ?? { id: job.subject, state: index.statusOf(job.subject).state };
  }

  async function discard(id: string, opts: { actor: string; note?: string }) {
    const ref = parseDeadLetterId(id);
    if (ref.kind === 'writeback') {
      const r = await writeback.discard(ref.milestoneId);
      if (!r) throw notFound(id);
      await audit.record([{ id: crypto.randomUUID(), at: iso(), actor: opts.actor, action: 'discard', target: id, event_id: r.event_id, note: opts.note }]);
      return { id, state: 'discarded' };
    }
    const js = index.ofSubject(id);
    const failed = js.filter((j) => DEAD_STATES.has(j.state));
    if (!failed.length) {
      if (!js.length && !(await store.get(id))) throw notFound(id);
      throw new ApiError(409, 'not_dead', `${id} is not in the dead-letter queue`);
    }
    for (const j of failed) t.discarded(j);
    await persist(failed);
    await audit.record([{
      id: crypto.randomUUID(), at: iso(), actor: opts.actor, action: 'discard', target: id, event_id: failed[0].event_id, keys: { before: failed.map((j) => j.key), after: [] }, note: opts.note,
    }]);
    logger.info({ subject: id, actor: opts.actor }, 'dead letter discarded');
    const state = failed[0].kind === 'event' ? index.statusOf(id).state : 'discarded';
    await settlement.settle(id);
    d.pump();
    return { id, state };
  }

  return {
    list: (filter = {}, p = {}) => page(allDead(filter), p),
    get,
    async show(id) {
      const v = get(id);
      if (!v || v.kind === 'writeback') return v;
      const j = index.failedOf(v.id)[0];
      return { ...v, body: await d.calls.bodyOf(j) };
    },
    replay,
    async replayMany(filter, opts) {
      const targets = allDead(filter).slice(0, opts.limit ?? 500);
      const replayed: string[] = [];
      const failed: { id: string; error: string }[] = [];
      for (const v of targets) {
        try {
          await replay(v.id, { actor: opts.actor, new_key: opts.new_key });
          replayed.push(v.id);
        } catch (e) {
          failed.push({ id: v.id, error: (e as Error).message });
        }
      }
      return { replayed, failed };
    },
    discard,
  };
}
