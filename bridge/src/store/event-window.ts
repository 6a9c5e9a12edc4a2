/** Stored events that occurred in a time window (operator tools: shadow runs, point-in-time replays); a scan of the store's pages. */
import type { Event } from '../../../shared/src/index.ts';
import type { EventState, Store } from './types.ts';

export async function eventsOccurredIn(store: Pick<Store, 'list'>, w: { since: string; until: string; types?: ReadonlySet<string>; state?: EventState }): Promise<Event[]> {
  const out: Event[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.list({ ...(w.state && { state: w.state }), limit: 500, cursor });
    for (const s of page.items) {
      const e = s.event;
      if (e.occurred_at >= w.since && e.occurred_at < w.until && (!w.types || w.types.has(e.type))) out.push(e);
    }
    cursor = page.next_cursor;
  } while (cursor);
  return out;
}
