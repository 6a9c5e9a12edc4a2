/**
 * Replay from a point in time: events already delivered, sent again to ONE partner (a new partner
 * onboarded with its history, or a partner that lost data), nothing to the others.
 *
 * Its own idempotency rules:
 * - each replay is a named run (`run_id`); each (run, event, step) is sent at most once: running the
 *   same run again (after a crash, or by mistake) sends only what the run has not sent yet;
 * - its calls carry a new key `<event id>:<step>:pit-<run id>` (the partner must treat them as new
 *   requests: it lost, or never had, the first ones); within the run every retry reuses it, and the
 *   step's safety rule applies in doubt as for any call;
 * - order per aggregate is kept (jobs in the aggregate's group, by the event's sequence);
 * - `dry_run` lists what would be sent and changes nothing.
 */
import type { Event } from '../../../shared/src/index.ts';
import { ApiError } from '../errors.ts';
import type { KeyedLog } from '../store/keyed-log.ts';
import type { Parts } from './engine-parts.ts';
import type { Job } from './jobs.ts';
import { planSteps } from './routing.ts';
import { eventsOccurredIn } from '../store/event-window.ts';
import type { Settlement } from './settlement.ts';

export interface PointInTimeRequest {
  partner: string;
  /** Events that occurred at or after this time (RFC 3339)... */
  since: string;
  /** ...and before this one (default: now). */
  until?: string;
  /** Only these event types (default: every type routed to the partner). */
  types?: string[];
  /** Names the run (default: derived from partner and window): the same run never sends an event twice. */
  run_id?: string;
  dry_run?: boolean;
  actor: string;
}

export interface PointInTimeResult {
  run_id: string;
  dry_run: boolean;
  /** Steps queued (or that would be). */
  steps: { event_id: string; type: string; aggregate: string; step: string; action: string }[];
  /** Already sent by this run earlier. */
  already_sent: number;
}

/** One (run, event, step) the run has queued: its record makes the run idempotent. */
export interface PointInTimeRow {
  id: string;
  run_id: string;
  at: string;
}

type Deps = Pick<Parts, 'config' | 'store' | 'index' | 'audit' | 'adapters' | 'gates' | 'logger' | 'iso' | 'nowMs' | 'persist'> & {
  runs: () => KeyedLog<PointInTimeRow>;
  settlement: Pick<Settlement, 'refreshGroup'>;
  pump(): void;
};

const RUN_ID = /^[A-Za-z0-9_.-]{1,64}$/;

export function createPointInTime(d: Deps) {
  async function deliveredIn(since: string, until: string, types?: Set<string>): Promise<Event[]> {
    const events = await eventsOccurredIn(d.store, { since, until, types, state: 'delivered' });
    return events.sort((a, b) => (a.aggregate === b.aggregate ? a.sequence - b.sequence : a.occurred_at < b.occurred_at ? -1 : 1));
  }

  return async function replayFrom(r: PointInTimeRequest): Promise<PointInTimeResult> {
    if (!d.adapters.has(r.partner)) throw new ApiError(400, 'unknown_partner', `no partner "${r.partner}" in the configuration (${[...d.adapters.keys()].join(', ')})`);
    const since = Date.parse(r.since);
    const until = r.until === undefined ? d.nowMs() : Date.parse(r.until);
    if (Number.isNaN(since)) throw new ApiError(400, 'invalid_request', 'since must be an RFC 3339 time, e.g. 2026-11-01T00:00:00Z', 'since');
    if (Number.isNaN(until) || until <= since) throw new ApiError(400, 'invalid_request', 'until must be an RFC 3339 time after since', 'until');
    const runId = r.run_id ?? `${r.partner}-${new Date(since).toISOString().replace(/[^0-9]/g, '').slice(0, 14)}`;
    if (!RUN_ID.test(runId)) throw new ApiError(400, 'invalid_request', 'run_id: 1-64 letters, digits, dot, dash or underscore', 'run_id');
    const runs = d.runs();
    const events = await deliveredIn(new Date(since).toISOString(), new Date(until).toISOString(), r.types?.length ? new Set(r.types) : undefined);
    const steps: PointInTimeResult['steps'] = [];
    const jobs: Job[] = [];
    let already = 0;
    const now = d.nowMs();
    for (const event of events) {
      for (const s of planSteps(d.config, event).steps) {
        if (!s.candidates.includes(r.partner)) continue;
        const id = `${runId}|${event.id}|${s.step}`;
        if (runs.has(id) || d.index.has(`${event.id}/${s.step}~pit:${runId}`)) {
          already++;
          continue;
        }
        steps.push({ event_id: event.id, type: event.type, aggregate: event.aggregate, step: s.step, action: s.action });
        jobs.push({
          id: `${event.id}/${s.step}~pit:${runId}`, kind: 'event', subject: event.id, event_id: event.id, type: event.type, aggregate: event.aggregate,
          group: event.aggregate, seq: event.sequence, step: s.step, action: s.action, candidates: [r.partner], candidate: 0,
          key: `${event.id}:${s.step}:pit-${runId}`, attempts: 0, max_attempts: d.gates.get(r.partner)!.limits.max_attempts, calls: 0,
          run_at: d.iso(now), state: 'pending', in_doubt: false, replays: 0, rekeys: 0, replay_run: runId, created_at: d.iso(now), updated_at: d.iso(now),
        });
      }
    }
    if (!r.dry_run && jobs.length) {
      // Jobs first (a crash after them re-sends nothing: the next run sees them), then the run's records.
      await d.persist(jobs);
      await runs.put(jobs.map((j) => ({ id: `${runId}|${j.event_id}|${j.step}`, run_id: runId, at: d.iso(now) })));
      await d.audit.record([{
        id: crypto.randomUUID(), at: d.iso(now), actor: r.actor, action: 'replay', target: `pit:${runId}`,
        note: `point-in-time replay to ${r.partner}: ${jobs.length} steps of events from ${new Date(since).toISOString()} to ${new Date(until).toISOString()}`,
        filter: { partner: r.partner, since: r.since, until: r.until, types: r.types },
      }]);
      d.logger.info({ run_id: runId, partner: r.partner, steps: jobs.length, actor: r.actor }, 'point-in-time replay queued');
      for (const g of new Set(jobs.map((j) => j.group))) await d.settlement.refreshGroup(g);
      d.pump();
    }
    return { run_id: runId, dry_run: !!r.dry_run, steps, already_sent: already };
  };
}
