/** Operator read API over stored events. Mounted behind the admin bearer token. */
import { Hono } from 'hono';
import * as v from 'valibot';
import { ApiError } from '../errors.ts';
import { EVENT_STATES, type Store, type StoredEvent } from '../store/types.ts';

const ListQuery = v.object({
  state: v.optional(v.picklist(EVENT_STATES, `state must be one of ${EVENT_STATES.join(', ')}`)),
  type: v.optional(v.string()),
  aggregate: v.optional(v.string()),
  limit: v.optional(v.pipe(v.string(), v.regex(/^\d+$/, 'limit must be a whole number'), v.transform(Number), v.minValue(1, 'limit must be >= 1'), v.maxValue(500, 'limit must be <= 500')), '50'),
  cursor: v.optional(v.pipe(v.string(), v.regex(/^[0-9a-z]+$/, 'cursor must be a next_cursor value from a previous page'))),
});

/** The public shape of a stored event: its status first, the event itself under `event`. */
export function eventView(s: StoredEvent) {
  const { event, ...status } = s;
  return { id: event.id, type: event.type, aggregate: event.aggregate, sequence: event.sequence, ...status, event };
}

export function eventRoutes(deps: { store: Store }): Hono {
  return new Hono()
    .get('/events', async (c) => {
      const q = v.safeParse(ListQuery, c.req.query());
      if (!q.success) throw new ApiError(400, 'invalid_query', q.issues[0].message, v.getDotPath(q.issues[0]) ?? undefined);
      const page = await deps.store.list({ ...q.output, limit: q.output.limit as unknown as number });
      return c.json({ items: page.items.map(eventView), next_cursor: page.next_cursor ?? null });
    })
    .get('/events/:id', async (c) => {
      const found = await deps.store.get(c.req.param('id'));
      if (!found) throw new ApiError(404, 'not_found', `no event with id ${c.req.param('id')}`);
      return c.json(eventView(found));
    });
}
