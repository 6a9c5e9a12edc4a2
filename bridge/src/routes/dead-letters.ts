/**
 * Operator routes for the dead-letter queue and its audit trail, mounted under /v1 behind the
 * admin bearer token. Every action records who (X-Operator, default "admin-token"), when and what.
 *
 *   GET  /dead-letters                 ?kind&state&partner&type&aggregate&error_class&reason&since&until&limit&cursor
 *   GET  /dead-letters/:id
 *   POST /dead-letters/:id/replay      {new_key?: boolean, payload?: object}
 *   POST /dead-letters/replay          {filter: {...same keys as the list...}, new_key?: boolean, limit?: number}
 *   POST /dead-letters/:id/discard     {note?: string}
 *   GET  /audit                        ?event_id&target&action(,action...)&limit
 *   GET  /events/:id/audit             the event's whole trail: submission, requests, attempts, states, operator actions
 *   GET  /engine                       breakers, queue depths, rate headroom, write-back health, what the engine holds
 *   POST /replays                     {partner, since, until?, types?, run_id?, dry_run?}: delivered events sent again to one partner
 *   POST /odoo/resume                  lift a write-back authentication pause after fixing the key
 */
import { Hono, type Context } from 'hono';
import * as v from 'valibot';
import { ApiError } from '../errors.ts';
import { actorOf, type Operator } from '../operators.ts';
import type { DeadLetterFilter, Engine } from '../core/engine.ts';
import { AUDIT_ACTIONS } from '../core/jobs.ts';

const Filter = v.strictObject({
  kind: v.optional(v.picklist(['event', 'publish', 'writeback', 'void'])),
  state: v.optional(v.picklist(['dead', 'manual'])),
  partner: v.optional(v.string()),
  type: v.optional(v.string()),
  aggregate: v.optional(v.string()),
  error_class: v.optional(v.picklist(['technical', 'business'])),
  reason: v.optional(v.string()),
  since: v.optional(v.pipe(v.string(), v.isoTimestamp('since must be an RFC 3339 date-time'))),
  until: v.optional(v.pipe(v.string(), v.isoTimestamp('until must be an RFC 3339 date-time'))),
});
const Replay = v.strictObject({ new_key: v.optional(v.boolean()), payload: v.optional(v.record(v.string(), v.unknown())) });
const BulkReplay = v.strictObject({
  filter: v.optional(Filter, {}),
  new_key: v.optional(v.boolean()),
  limit: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(500))),
});
const Discard = v.strictObject({ note: v.optional(v.string()) });
const PointInTime = v.strictObject({
  partner: v.pipe(v.string(), v.minLength(1, 'partner is required')),
  since: v.pipe(v.string(), v.isoTimestamp('since must be an RFC 3339 date-time')),
  until: v.optional(v.pipe(v.string(), v.isoTimestamp('until must be an RFC 3339 date-time'))),
  types: v.optional(v.array(v.string())),
  run_id: v.optional(v.string()),
  dry_run: v.optional(v.boolean()),
});

function parse<T>(schema: v.GenericSchema<unknown, T>, input: unknown): T {
  const r = v.safeParse(schema, input);
  if (r.success) return r.output;
  const issue = r.issues[0];
  throw new ApiError(400, 'invalid_request', issue.message, v.getDotPath(issue) ?? undefined);
}
async function body(c: Context): Promise<unknown> {
  const text = await c.req.text();
  if (!text.trim()) return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError(400, 'invalid_json', 'the body must be JSON');
  }
}
/** Who acted: the operator the token belongs to (app.ts); with the admin token, the X-Operator it names. */
const actor = (c: Context) => actorOf(c.get('operator' as never) as Operator | undefined, c.req.header('x-operator'));

/** The dead-letter and audit routes; mount under /v1 behind the admin token. */
export function deadLetterRoutes(deps: { engine: Engine }): Hono {
  const { engine } = deps;
  const app = new Hono();
  app.onError((err, c) => {
    if (err instanceof ApiError) return c.json(err.toJSON(), err.status);
    throw err;
  });

  app.get('/dead-letters', (c) => {
    const q = c.req.query();
    const { limit, cursor, ...rest } = q;
    const filter = parse(Filter, rest) as DeadLetterFilter;
    const n = limit === undefined ? 100 : Number(limit);
    if (!Number.isInteger(n) || n < 1 || n > 500) throw new ApiError(400, 'invalid_request', 'limit must be an integer from 1 to 500', 'limit');
    return c.json(engine.deadLetters.list(filter, { limit: n, cursor }));
  });

  app.post('/dead-letters/replay', async (c) => {
    const b = parse(BulkReplay, await body(c));
    const r = await engine.deadLetters.replayMany(b.filter as DeadLetterFilter, { actor: actor(c), new_key: b.new_key, limit: b.limit });
    return c.json(r);
  });

  app.get('/dead-letters/:id', async (c) => {
    const d = await engine.deadLetters.show(c.req.param('id'));
    if (!d) throw new ApiError(404, 'not_found', `no dead letter ${c.req.param('id')}`);
    return c.json(d);
  });

  app.post('/dead-letters/:id/replay', async (c) => {
    const b = parse(Replay, await body(c));
    const r = await engine.deadLetters.replay(c.req.param('id'), { actor: actor(c), new_key: b.new_key, payload: b.payload });
    return c.json(r, 202);
  });

  app.post('/replays', async (c) => {
    const b = parse(PointInTime, await body(c));
    const r = await engine.replayFrom({ ...b, actor: actor(c) });
    return c.json(r, b.dry_run ? 200 : 202);
  });

  app.post('/dead-letters/:id/discard', async (c) => {
    const b = parse(Discard, await body(c));
    return c.json(await engine.deadLetters.discard(c.req.param('id'), { actor: actor(c), note: b.note }));
  });

  const auditQuery = (c: Context) => {
    const { limit, action } = c.req.query();
    const n = limit === undefined ? 500 : Number(limit);
    if (!Number.isInteger(n) || n < 1 || n > 5000) throw new ApiError(400, 'invalid_request', 'limit must be an integer from 1 to 5000', 'limit');
    const actions = action ? action.split(',').map((a) => a.trim()).filter(Boolean) : undefined;
    const unknown = actions?.find((a) => !(AUDIT_ACTIONS as readonly string[]).includes(a));
    if (unknown) throw new ApiError(400, 'invalid_request', `action must be among ${AUDIT_ACTIONS.join(', ')}`, 'action');
    return { limit: n, actions };
  };
  app.get('/audit', async (c) => {
    const { event_id, target } = c.req.query();
    return c.json({ items: await engine.audit({ event_id, target, ...auditQuery(c) }) });
  });
  app.get('/events/:id/audit', async (c) => c.json({ event_id: c.req.param('id'), items: await engine.audit({ event_id: c.req.param('id'), ...auditQuery(c) }) }));

  app.get('/engine', (c) => {
    const m = process.memoryUsage();
    const mb = (n: number) => Math.round(n / 1048576);
    return c.json({
      ...engine.status(), footprint: engine.footprint(),
      process: { rss_mb: mb(m.rss), heap_used_mb: mb(m.heapUsed), heap_total_mb: mb(m.heapTotal), external_mb: mb(m.external), array_buffers_mb: mb(m.arrayBuffers) },
    });
  });

  app.post('/odoo/resume', (c) => {
    engine.writeback.resume();
    return c.json(engine.writeback.status());
  });

  return app;
}
