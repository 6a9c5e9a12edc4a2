/**
 * Operator routes for shadow (dual-run) runs, under /v1 behind the admin token:
 *   POST /shadow       {partner, since, until?, types?, legacy: [...] | "jsonl text", ignore?}  runs one, keeps its report
 *   GET  /shadow       the kept reports, newest first (counts only)
 *   GET  /shadow/:id   one report with every item
 */
import { Hono } from 'hono';
import * as v from 'valibot';
import { ApiError } from '../errors.ts';
import { actorOf, type Operator } from '../operators.ts';
import type { ShadowReports } from '../cutover/shadow-reports.ts';

const Run = v.strictObject({
  partner: v.pipe(v.string(), v.minLength(1, 'partner is required')),
  since: v.pipe(v.string(), v.isoTimestamp('since must be an RFC 3339 date-time')),
  until: v.optional(v.pipe(v.string(), v.isoTimestamp('until must be an RFC 3339 date-time'))),
  types: v.optional(v.array(v.string())),
  legacy: v.union([v.string(), v.array(v.record(v.string(), v.unknown()))], 'legacy must be the legacy requests: an array, or JSON Lines text'),
  ignore: v.optional(v.array(v.string())),
});

export function shadowRoutes(deps: { reports: ShadowReports }): Hono {
  const app = new Hono();
  app.onError((err, c) => {
    if (err instanceof ApiError) return c.json(err.toJSON(), err.status);
    throw err;
  });
  app.post('/shadow', async (c) => {
    let body: unknown;
    try {
      body = await c.req.json();
    } catch {
      throw new ApiError(400, 'invalid_json', 'the body must be JSON');
    }
    const r = v.safeParse(Run, body);
    if (!r.success) throw new ApiError(400, 'invalid_request', r.issues[0].message, v.getDotPath(r.issues[0]) ?? undefined);
    const report = await deps.reports.run({ ...r.output, legacy: r.output.legacy as never, actor: actorOf(c.get('operator' as never) as Operator | undefined, c.req.header('x-operator')) });
    return c.json(report);
  });
  app.get('/shadow', (c) => c.json({ items: deps.reports.list().map(({ items: _items, ...summary }) => summary) }));
  app.get('/shadow/:id', (c) => {
    const r = deps.reports.get(c.req.param('id'));
    if (!r) throw new ApiError(404, 'not_found', `no shadow report ${c.req.param('id')}`);
    return c.json(r);
  });
  return app;
}
