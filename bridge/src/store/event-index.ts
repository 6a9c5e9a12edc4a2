/**
 * The in-memory index of stored events, in columns: a Map from id to slot plus typed arrays, so
 * 100k events measured 21 MB of heap (about 210 bytes each) instead of 65 MB as objects. Slots are kept in
 * arrival order (`n`); `compact` rebuilds them after deletions.
 */
import { EVENT_STATES, FINISHED_STATES, type EventCounts, type EventState, type EventStatus } from './types.ts';
import { addCount, ageBucket, emptyCounts, isPending } from './event-counts.ts';

/** Where an event's body lies and what the index knows of it. */
export interface Entry extends EventStatus {
  n: number;
  type: string;
  aggregate: string;
  seg: number;
  off: number;
  len: number;
}

type Extras = Pick<EventStatus, 'last_error' | 'error_class' | 'blocked_by'>;
const RECEIVED = EVENT_STATES.indexOf('received');
const FINISHED_CODES = new Set([...FINISHED_STATES].map((s) => EVENT_STATES.indexOf(s)));

export class EventIndex {
  private slotOf = new Map<string, number>();
  private ids: (string | undefined)[] = [];
  private aggregates: string[] = [];
  private types: string[] = [];
  private typeCode = new Map<string, number>();
  private extras = new Map<number, Extras>();
  private cap = 0;
  private used = 0;
  private nums = { n: new Float64Array(0), seg: new Uint32Array(0), off: new Float64Array(0), len: new Uint32Array(0), attempts: new Uint32Array(0), received: new Float64Array(0), updated: new Float64Array(0) };
  private codes = { state: new Uint8Array(0), type: new Uint16Array(0) };
  /** Slots of unfinished events, kept as states change, so counts never walk the finished ones. */
  private unfinishedSlots = new Set<number>();

  get size() { return this.slotOf.size; }
  has(id: string) { return this.slotOf.has(id); }

  get(id: string): Entry | undefined {
    const s = this.slotOf.get(id);
    return s === undefined ? undefined : this.entryAt(s);
  }

  /** Adds an event, or moves it (a relocated survivor) keeping its `n`. */
  set(id: string, e: Entry) {
    this.write(this.place(id, e), e);
  }

  /**
   * Adds a just-received event (state `received`, no attempts) that is not in the index yet (the
   * store checked): the ingest path, without building an Entry. Strings are kept as given: V8's
   * JSON.parse copies them out of the frame, so they keep no received frame alive (an earlier
   * copy here cost 0.5 µs per event; test/bridge/ingest-memory.test.ts watches this).
   */
  addReceived(id: string, e: { n: number; type: string; aggregate: string; seg: number; off: number; len: number; at: number }) {
    const s = this.place(id, e);
    this.setState(s, RECEIVED);
    this.nums.attempts[s] = 0;
    this.nums.received[s] = e.at;
    this.nums.updated[s] = e.at;
  }

  /** The slot of `id` (a new one when it is not indexed yet) with where its record lies; returns the slot. */
  private place(id: string, e: { n: number; type: string; aggregate: string; seg: number; off: number; len: number }): number {
    let s = this.slotOf.get(id);
    if (s === undefined) {
      this.grow();
      s = this.used++;
      this.slotOf.set(id, s);
      this.ids[s] = id;
      this.aggregates[s] = e.aggregate;
    }
    this.nums.n[s] = e.n;
    this.nums.seg[s] = e.seg;
    this.nums.off[s] = e.off;
    this.nums.len[s] = e.len;
    this.codes.type[s] = this.code(e.type);
    return s;
  }

  /** Applies a status change. */
  patch(id: string, p: Partial<EventStatus>) {
    const s = this.slotOf.get(id);
    if (s === undefined) return;
    this.write(s, { ...this.entryAt(s), ...p });
  }

  delete(id: string) {
    const s = this.slotOf.get(id);
    if (s === undefined) return;
    this.slotOf.delete(id);
    this.unfinishedSlots.delete(s);
    this.ids[s] = undefined;
    this.extras.delete(s);
  }

  /** Live entries with their ids, in slot order (arrival order after `compact`). */
  *entries(): IterableIterator<[string, Entry]> {
    for (let s = 0; s < this.used; s++) {
      const id = this.ids[s];
      if (id !== undefined) yield [id, this.entryAt(s)];
    }
  }

  /** Entries matching the filter; state and segment are checked on the columns, so others are never materialised. */
  *where(filter: { state?: EventState; seg?: number; notStates?: ReadonlySet<EventState> }): IterableIterator<[string, Entry]> {
    const want = filter.state === undefined ? -1 : EVENT_STATES.indexOf(filter.state);
    for (let s = 0; s < this.used; s++) {
      if (this.ids[s] === undefined) continue;
      if (want >= 0 && this.codes.state[s] !== want) continue;
      if (filter.seg !== undefined && this.nums.seg[s] !== filter.seg) continue;
      if (filter.notStates?.has(EVENT_STATES[this.codes.state[s]])) continue;
      yield [this.ids[s]!, this.entryAt(s)];
    }
  }

  /** Rebuilds the columns without deleted slots, ordered by `n`. */
  compact() {
    const live = [...this.entries()].sort((a, b) => a[1].n - b[1].n);
    this.slotOf.clear(); this.unfinishedSlots.clear(); this.ids = []; this.aggregates = []; this.extras.clear(); this.used = 0; this.cap = 0;
    for (const k of Object.keys(this.nums) as (keyof typeof this.nums)[]) (this.nums as any)[k] = new (this.nums[k].constructor as any)(0);
    this.codes.state = new Uint8Array(0); this.codes.type = new Uint16Array(0);
    for (const [id, e] of live) this.set(id, e);
  }

  /**
   * Unfinished events by state, age and error class, from the columns of the unfinished slots only
   * (the backlog, not the retained history): no record is read.
   */
  counts(bounds: readonly number[], nowMs: number): EventCounts {
    const out = emptyCounts(bounds);
    let oldest = -1;
    for (const s of this.unfinishedSlots) {
      const state = EVENT_STATES[this.codes.state[s]];
      const received = this.nums.received[s];
      addCount(out, state, this.extras.get(s)?.error_class, ageBucket(Math.max(0, (nowMs - received) / 1000), bounds));
      if (isPending(state) && (oldest < 0 || received < this.nums.received[oldest] || (received === this.nums.received[oldest] && this.nums.n[s] < this.nums.n[oldest]))) oldest = s;
    }
    if (oldest >= 0) {
      out.oldestPending = {
        id: this.ids[oldest]!, type: this.types[this.codes.type[oldest]], aggregate: this.aggregates[oldest],
        state: EVENT_STATES[this.codes.state[oldest]], received_at: new Date(this.nums.received[oldest]).toISOString(),
      };
    }
    return out;
  }

  private setState(s: number, code: number) {
    this.codes.state[s] = code;
    if (FINISHED_CODES.has(code)) this.unfinishedSlots.delete(s);
    else this.unfinishedSlots.add(s);
  }

  private write(s: number, e: EventStatus) {
    this.setState(s, EVENT_STATES.indexOf(e.state));
    this.nums.attempts[s] = e.attempts;
    this.nums.received[s] = Date.parse(e.received_at);
    this.nums.updated[s] = Date.parse(e.updated_at);
    if (e.last_error !== undefined || e.error_class !== undefined || e.blocked_by !== undefined) {
      this.extras.set(s, { last_error: e.last_error, error_class: e.error_class, blocked_by: e.blocked_by });
    } else this.extras.delete(s);
  }

  private entryAt(s: number): Entry {
    const x = this.extras.get(s);
    return {
      n: this.nums.n[s], seg: this.nums.seg[s], off: this.nums.off[s], len: this.nums.len[s],
      type: this.types[this.codes.type[s]], aggregate: this.aggregates[s],
      state: EVENT_STATES[this.codes.state[s]], attempts: this.nums.attempts[s],
      received_at: new Date(this.nums.received[s]).toISOString(), updated_at: new Date(this.nums.updated[s]).toISOString(),
      ...(x?.last_error !== undefined && { last_error: x.last_error }),
      ...(x?.error_class !== undefined && { error_class: x.error_class }),
      ...(x?.blocked_by !== undefined && { blocked_by: x.blocked_by }),
    };
  }

  private code(type: string): number {
    let c = this.typeCode.get(type);
    if (c === undefined) { c = this.types.length; this.types.push(type); this.typeCode.set(type, c); }
    return c;
  }

  private grow() {
    if (this.used < this.cap) return;
    const cap = Math.max(1024, this.cap * 2);
    for (const k of Object.keys(this.nums) as (keyof typeof this.nums)[]) {
      const next = new (this.nums[k].constructor as any)(cap);
      next.set(this.nums[k]);
      (this.nums as any)[k] = next;
    }
    for (const k of Object.keys(this.codes) as (keyof typeof this.codes)[]) {
      const next = new (this.codes[k].constructor as any)(cap);
      next.set(this.codes[k]);
      (this.codes as any)[k] = next;
    }
    this.cap = cap;
  }
}
