/**
 * The jobs in memory and their indexes: by id, by subject (event or publish), by ordering group,
 * pending per current partner, and event jobs per aggregate. The engine is its only writer; it
 * reads state, it never changes it (transitions.ts does).
 *
 * Ordering: within a group, a job runs only when no earlier job of the group is unfinished (a dead
 * publish does not hold back later publishes); an event whose group has an earlier dead or manual
 * job is `blocked` by it.
 */
import type { EventState, EventStatus } from '../store/types.ts';
import type { Job } from './jobs.ts';
import { DEAD_STATES, FINISHED, partnerOf } from './transitions.ts';

export type DerivedStatus = Partial<EventStatus> & { state: EventState };

export class JobIndex {
  readonly byId = new Map<string, Job>();
  private readonly bySubject = new Map<string, Set<Job>>();
  /** Unfinished jobs per ordering group. */
  private readonly byGroup = new Map<string, Set<Job>>();
  /** Pending jobs per current partner, in arrival order. */
  readonly pending = new Map<string, Set<Job>>();
  /** Event jobs in memory per aggregate: its row stays in memory while there are any. */
  private readonly perAggregate = new Map<string, number>();

  get size(): number {
    return this.byId.size;
  }
  has(id: string): boolean {
    return this.byId.has(id);
  }
  hasSubject(subject: string): boolean {
    return this.bySubject.has(subject);
  }
  hasAggregate(aggregate: string): boolean {
    return this.perAggregate.has(aggregate);
  }
  /** The jobs of an event or publish, oldest first. */
  ofSubject(subject: string): Job[] {
    return [...(this.bySubject.get(subject) ?? [])];
  }
  /** Its dead or manual jobs. */
  failedOf(subject: string): Job[] {
    return this.ofSubject(subject).filter((j) => DEAD_STATES.has(j.state));
  }
  /** Unfinished jobs of an ordering group. */
  ofGroup(group: string): Iterable<Job> {
    return this.byGroup.get(group) ?? [];
  }
  values(): IterableIterator<Job> {
    return this.byId.values();
  }
  count(state: Job['state']): number {
    let n = 0;
    for (const j of this.byId.values()) if (j.state === state) n++;
    return n;
  }

  /** Adds a job or re-files it after a transition. */
  put(job: Job): void {
    if (!this.byId.has(job.id) && job.kind === 'event') this.perAggregate.set(job.aggregate, (this.perAggregate.get(job.aggregate) ?? 0) + 1);
    this.byId.set(job.id, job);
    let s = this.bySubject.get(job.subject);
    if (!s) this.bySubject.set(job.subject, (s = new Set()));
    s.add(job);
    let g = this.byGroup.get(job.group);
    if (!g) this.byGroup.set(job.group, (g = new Set()));
    if (FINISHED.has(job.state)) g.delete(job);
    else g.add(job);
    if (g.size === 0) this.byGroup.delete(job.group);
    for (const set of this.pending.values()) set.delete(job);
    if (job.state === 'pending') {
      const p = partnerOf(job);
      let ps = this.pending.get(p);
      if (!ps) this.pending.set(p, (ps = new Set()));
      ps.add(job);
    }
  }

  /** Takes a pending job out of its partner's queue (it is about to run). */
  take(job: Job): void {
    this.pending.get(partnerOf(job))?.delete(job);
  }

  remove(job: Job): void {
    if (this.byId.has(job.id) && job.kind === 'event') {
      const n = (this.perAggregate.get(job.aggregate) ?? 1) - 1;
      if (n > 0) this.perAggregate.set(job.aggregate, n);
      else this.perAggregate.delete(job.aggregate);
    }
    this.byId.delete(job.id);
    this.bySubject.get(job.subject)?.delete(job);
    if (this.bySubject.get(job.subject)?.size === 0) this.bySubject.delete(job.subject);
    this.byGroup.get(job.group)?.delete(job);
    if (this.byGroup.get(job.group)?.size === 0) this.byGroup.delete(job.group);
    this.pending.get(partnerOf(job))?.delete(job);
  }

  /** The earliest unfinished job of the group that is dead or manual and comes before `seq`, if any. */
  blockerOf(group: string, seq: number): Job | undefined {
    let best: Job | undefined;
    for (const j of this.ofGroup(group)) if (j.seq < seq && DEAD_STATES.has(j.state) && (!best || j.seq < best.seq)) best = j;
    return best;
  }

  /** Whether nothing earlier in its group holds the job back. */
  isHead(job: Job): boolean {
    // A dead publish does not hold back later publishes: tracking news must not stall on one bad message.
    for (const j of this.ofGroup(job.group)) if (j.seq < job.seq && !(j.kind === 'publish' && DEAD_STATES.has(j.state))) return false;
    return true;
  }

  /** Event subjects of the group's unfinished jobs. */
  eventsOfGroup(group: string): Set<string> {
    const subjects = new Set<string>();
    for (const j of this.ofGroup(group)) if (j.kind === 'event') subjects.add(j.subject);
    return subjects;
  }

  /** The event's state as the store shows it, derived from its jobs. */
  statusOf(subject: string): DerivedStatus {
    const js = this.ofSubject(subject);
    const attempts = js.reduce((n, j) => n + j.calls, 0);
    const failed = js.find((j) => j.state === 'dead') ?? js.find((j) => j.state === 'manual');
    if (failed) return { state: failed.state as 'dead' | 'manual', attempts, last_error: failed.last_error, error_class: failed.error_class, blocked_by: undefined };
    if (js.every((j) => j.state === 'done')) return { state: 'delivered', attempts, last_error: undefined, error_class: undefined, blocked_by: undefined };
    if (js.every((j) => FINISHED.has(j.state))) return { state: 'discarded', attempts, blocked_by: undefined };
    const last_error = js.find((j) => j.last_error)?.last_error;
    const blocker = js[0] && this.blockerOf(js[0].group, js[0].seq);
    if (blocker) return { state: 'blocked', attempts, blocked_by: blocker.subject, last_error: `waiting: earlier event ${blocker.subject} is ${blocker.state}` };
    if (js.some((j) => j.state === 'running')) return { state: 'delivering', attempts, last_error, blocked_by: undefined };
    if (js.some((j) => j.state === 'pending' && (j.attempts > 0 || j.last_error))) return { state: 'retrying', attempts, last_error, blocked_by: undefined };
    return { state: 'queued', attempts, last_error, blocked_by: undefined };
  }
}
