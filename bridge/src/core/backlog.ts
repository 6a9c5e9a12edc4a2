/**
 * The admission window: at most `max` events are routed into jobs in memory at once; the rest
 * wait in the store as `received` (acknowledged and durable) and are taken in arrival order as
 * room frees up. A backlog of a million events so costs the store's index, not a million jobs.
 */
import type { Event } from '../../../shared/src/index.ts';
import type { EventState, Store } from '../store/types.ts';

/** States an event can have while its jobs (some maybe never written) belong in memory. */
const IN_ENGINE: EventState[] = ['queued', 'blocked', 'delivering', 'retrying', 'dead', 'manual'];

export interface Backlog {
  /**
   * Events just accepted: `admit` is queued with them when there is room, counting what is already
   * queued; otherwise they are left waiting in the store and nothing holds them in memory (a burst of
   * a hundred thousand events must not sit in a promise chain). Returns whether they were queued.
   */
  accept(events: Event[], enqueue: (admit: () => Promise<void>) => void): boolean;
  /** Takes waiting events while there is room; safe to call often. */
  refill(): Promise<void>;
  /** After a start: every `received` event in the store waits its turn. */
  resume(): void;
  readonly waiting: boolean;
}

export function createBacklog(o: {
  store: Store;
  max: number;
  /** Events in memory that count against the window. */
  active: () => number;
  /** Whether the engine holds this event already. */
  known: (id: string) => boolean;
  admit: (events: Event[]) => Promise<void>;
}): Backlog {
  let waiting = false;
  /** An event arrived while waiting (maybe after the last scan looked). */
  let missed = false;
  let cursor: string | undefined;
  /** Events queued for admission and not yet admitted. */
  let queued = 0;
  return {
    get waiting() { return waiting; },
    accept(events, enqueue) {
      if (waiting || o.active() + queued + events.length > o.max) {
        waiting = true;
        missed = true;
        return false;
      }
      queued += events.length;
      enqueue(async () => {
        queued -= events.length;
        // The window may have filled meanwhile: then they wait in the store like the others.
        if (waiting || o.active() >= o.max) {
          waiting = true;
          missed = true;
          return;
        }
        await o.admit(events);
      });
      return true;
    },
    resume() {
      waiting = true;
      cursor = undefined;
    },
    async refill() {
      while (waiting && o.active() < o.max) {
        missed = false;
        const page = await o.store.list({ state: 'received', limit: Math.min(500, Math.max(1, o.max - o.active())), cursor });
        const fresh = page.items.map((s) => s.event).filter((e) => !o.known(e.id));
        // Admitted events leave `received`, so a scan from the same cursor does not see them again.
        if (fresh.length) await o.admit(fresh);
        if (page.next_cursor) cursor = page.next_cursor;
        else if (!missed) waiting = false;
      }
    },
  };
}

/** Events the engine worked on before a stop (not `received`, not finished), page by page. */
export async function* eventsInEngine(store: Store): AsyncIterable<Event[]> {
  for (const state of IN_ENGINE) {
    let cursor: string | undefined;
    do {
      const page = await store.list({ state, limit: 500, cursor });
      if (page.items.length) yield page.items.map((s) => s.event);
      cursor = page.next_cursor;
    } while (cursor);
  }
}
