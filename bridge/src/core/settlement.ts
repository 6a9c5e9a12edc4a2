/**
 * Where an event stands, and what happens when it is finished: its status (derived from its jobs)
 * written to the store, audited and queued for Odoo's screens; a finished event's jobs forgotten
 * and its aggregate's high-water mark moved, so the next event of the aggregate may go.
 */
import type { EventState } from '../store/types.ts';
import { redact } from './audit.ts';
import type { DerivedStatus } from './job-index.ts';
import type { Parts } from './engine-parts.ts';
import { FINISHED } from './transitions.ts';

/** Event states that hold a place in the admission window (dead, manual and blocked ones wait for a person). */
const COUNTED = new Set<EventState>(['received', 'queued', 'delivering', 'retrying']);

export interface Settlement {
  /** Events holding a place in the admission window. */
  readonly active: ReadonlySet<string>;
  writeStatus(eventId: string, status: DerivedStatus): Promise<void>;
  /** Re-derives and records the status of every event in the group (blocked_by changes with the group). */
  refreshGroup(group: string): Promise<void>;
  /** An event whose jobs are all finished: record it, forget its jobs, let the next of its aggregate go. */
  settle(subject: string): Promise<void>;
}

export function createSettlement(p: Pick<Parts, 'index' | 'store' | 'logs' | 'audit' | 'writeback' | 'metrics' | 'logger' | 'iso' | 'io' | 'secrets' | 'bodies'>): Settlement {
  const { index, store, audit, writeback, metrics, logger, iso, io, secrets, bodies } = p;
  const active = new Set<string>();
  /** The last status written per event in memory (to skip repeats) and its state (for the audit). */
  const lastStatus = new Map<string, { key: string; state: EventState }>();

  async function writeStatus(eventId: string, status: DerivedStatus) {
    if (COUNTED.has(status.state)) active.add(eventId);
    else {
      active.delete(eventId);
      // Waiting for a person (or finished): its body is read from the store if it is ever needed again.
      bodies.delete(eventId);
    }
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
      await store.patchStatus(eventId, status);
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

  async function refreshGroup(group: string) {
    await Promise.all([...index.eventsOfGroup(group)].map((s) => writeStatus(s, index.statusOf(s))));
  }

  async function settle(subject: string) {
    const js = index.ofSubject(subject);
    if (!js.length || !js.every((j) => FINISHED.has(j.state) && (j.state !== 'done' || j.applied))) {
      if (js[0]) await refreshGroup(js[0].group);
      return;
    }
    const first = js[0];
    const { aggs, jobs } = p.logs;
    if (first.kind === 'event') {
      const agg = aggs.row(first.aggregate);
      agg.high_water = Math.max(agg.high_water, first.seq);
      agg.updated_at = iso();
      const status = index.statusOf(subject);
      // Both durable before the jobs are forgotten (a finished status with no jobs is never run
      // again); either one alone after a crash is made whole by recovery applying the jobs again.
      await Promise.all([aggs.save(agg), writeStatus(subject, status)]);
      lastStatus.delete(subject);
      active.delete(subject);
      bodies.delete(subject);
      if (status.state === 'delivered') metrics?.eventDelivered({ type: first.type, aggregate: first.aggregate }, io.now());
    }
    for (const j of js) index.remove(j);
    // Its row is on disk: kept in memory only while jobs of the aggregate are.
    if (first.kind === 'event' && !index.hasAggregate(first.aggregate)) aggs.evict(first.aggregate);
    await jobs.delete(js.map((j) => j.id));
    await refreshGroup(first.group);
  }

  return { active, writeStatus, refreshGroup, settle };
}
