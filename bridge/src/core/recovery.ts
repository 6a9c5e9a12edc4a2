/**
 * On start: the work a stop or crash left behind. Calls found running were interrupted (the partner
 * may have acted): they are audited as such first, then wait their call's timeout and go again in
 * doubt, so their step's safety rule decides. Jobs of partners no longer configured go to the
 * dead-letter queue. Events routed but unwritten are planned again; stored answers not yet applied
 * are applied (idempotent); finished events settle.
 */
import type { Event } from '../../../shared/src/index.ts';
import { eventsInEngine } from './backlog.ts';
import type { Parts } from './engine-parts.ts';
import type { Intake } from './intake.ts';
import type { AuditEntry, Job } from './jobs.ts';
import { attemptStarted, type PartnerCalls } from './partner-call.ts';
import type { Settlement } from './settlement.ts';
import * as t from './transitions.ts';
import { DEAD_STATES, FINISHED, partnerOf } from './transitions.ts';

type Deps = Pick<Parts, 'store' | 'index' | 'logs' | 'audit' | 'adapters' | 'gates' | 'logger' | 'nowMs' | 'iso' | 'persist'> & {
  settlement: Pick<Settlement, 'refreshGroup' | 'settle'>;
  calls: Pick<PartnerCalls, 'apply' | 'giveUp'>;
  intake: Pick<Intake, 'admit' | 'notePublishSeq'>;
  /** Forgets what is past its retention (before recovery looks at the aggregates). */
  prune(): Promise<void>;
  /** Lets the backlog take waiting events again. */
  resumeBacklog(): void;
};

export async function recover(d: Deps): Promise<void> {
  const { store, index, audit, adapters, gates, logger, nowMs, iso, persist, settlement, calls, intake } = d;
  const rows: Job[] = [];
  for await (const j of d.logs.jobs.values()) rows.push(j);
  const loaded = await d.logs.aggs.load(rows.filter((j) => j.kind === 'event').map((j) => j.aggregate));
  for (const [key, row] of loaded) d.logs.aggs.pin(key, row);
  await d.prune();
  const resumed: Job[] = [];
  const interruptedCalls: AuditEntry[] = [];
  for (const j of rows) {
    if (j.kind === 'publish') intake.notePublishSeq(j.seq);
    if (j.state === 'running') {
      // The process died during this call: the partner may have acted. Its step's rule decides the next call.
      interruptedCalls.push(attemptStarted(j, partnerOf(j), iso(), 'interrupted'));
      // Not before the call's own timeout has passed since it left: a request the partner is still
      // working on would be missed by a lookup, or answered as in progress.
      const timeout = gates.get(partnerOf(j))?.limits.timeout_ms ?? 0;
      t.interrupted(j, iso(Math.max(nowMs(), Date.parse(j.updated_at) + timeout)));
      resumed.push(j);
    }
    index.put(j);
  }
  for (const j of rows) {
    if (FINISHED.has(j.state) || DEAD_STATES.has(j.state) || adapters.has(partnerOf(j))) continue;
    calls.giveUp(j, 'dead', 'technical', undefined, `partner ${partnerOf(j)} is not in the configuration any more: add it back and replay, or discard`);
    if (!resumed.includes(j)) resumed.push(j);
  }
  if (resumed.length) {
    logger.warn({ jobs: resumed.length }, 'resuming partner calls interrupted by a stop or crash');
    // The interrupted calls are on record before their jobs leave `running`: a crash in between
    // finds them running again and records them again, never a call that left no trace.
    await audit.record(interruptedCalls);
    await persist(resumed);
  }
  // Plan again what the engine held (fresh steps are not written), before anything settles;
  // events still `received` wait for their turn in the window.
  for await (const events of eventsInEngine(store)) await intake.admit(events);
  // ...and the events of written jobs whatever their stored state says (a crash between the
  // job's write and the status's), so no step of theirs is missing when they settle.
  // (Not for a point-in-time replay's jobs: their event was delivered; only the replay's partner is sent it again.)
  const ids = [...new Set(rows.filter((j) => j.kind === 'event' && !j.replay_run).map((j) => j.event_id!))];
  for (let i = 0; i < ids.length; i += 500) {
    const stored = await Promise.all(ids.slice(i, i + 500).map((id) => store.get(id)));
    await intake.admit(stored.filter((x) => x !== undefined).map((x) => x!.event as Event));
  }
  d.resumeBacklog();
  // Answers stored but maybe not applied: apply again (idempotent), then finish what is finished.
  for (const j of rows) if (j.state === 'done') await calls.apply(j);
  for (const subject of new Set(rows.map((j) => j.subject))) await settlement.settle(subject);
  for (const g of new Set(rows.map((j) => j.group))) await settlement.refreshGroup(g);
}
