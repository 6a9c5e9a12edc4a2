/**
 * `GET /metrics`: Prometheus text exposition.
 *
 * Not behind the admin token: a scraper should not hold the key that can replay and discard.
 * The figures carry no ids and no personal data (bounded labels only). Protected by default: with
 * METRICS_TOKEN set, the scraper must send `Authorization: Bearer <METRICS_TOKEN>` (Prometheus
 * `authorization: { credentials: ... }`); without it, only loopback clients may scrape (403 for others).
 */
import { Hono } from 'hono';
import type { Metrics } from '../observability/metrics.ts';
import { sameSecret } from '../secrets.ts';
import { storedWritebackFigures, type OutboxFigures } from '../odoo/outbox.ts';
import type { Store } from '../store/types.ts';

/** Whether the request came over the loopback interface (node-server puts the socket in env.incoming; none: an in-process request). */
function fromLoopback(env: unknown): boolean {
  const remote = (env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming?.socket?.remoteAddress;
  return remote === undefined || remote === '127.0.0.1' || remote === '::1' || remote === '::ffff:127.0.0.1' || remote.startsWith('127.');
}

/** Mount as a public route at `/`; `token` (METRICS_TOKEN) makes the scrape require a bearer token. */
export function metricsRoutes(deps: { metrics: Metrics; token?: string }): Hono {
  return new Hono().get('/metrics', async (c) => {
    if (deps.token) {
      const m = /^Bearer (.+)$/i.exec(c.req.header('authorization') ?? '');
      if (!m || !sameSecret(m[1], deps.token)) {
        c.header('WWW-Authenticate', 'Bearer realm="metrics"');
        return c.json({ error: { code: 'unauthorized', message: 'send Authorization: Bearer <METRICS_TOKEN>' } }, 401);
      }
    }
    else if (!fromLoopback(c.env)) {
      return c.json({ error: { code: 'forbidden', message: 'metrics answer only loopback clients unless METRICS_TOKEN is set: set it and send Authorization: Bearer <METRICS_TOKEN>' } }, 403);
    }
    const body = await deps.metrics.exposition();
    return c.body(body, 200, { 'content-type': deps.metrics.contentType, 'cache-control': 'no-store' });
  });
}

/** The overview's age buckets: each counts ages below its bound (and not below the one before); the last counts the rest. */
const AGE_BUCKETS: [string, number][] = [['lt_1m', 60], ['lt_15m', 900], ['lt_1h', 3600], ['lt_1d', 86_400], ['ge_1d', Number.POSITIVE_INFINITY]];

/**
 * `GET /v1/overview` (admin token): what the Odoo "Logistics Bridge" overview shows in one call:
 * unfinished events by state and age, the oldest event still on its way, dead letters by class,
 * and the write-back backlog and lag. Mount with `adminRoutes`.
 */
export function overviewRoutes(deps: {
  store: Store;
  now?: () => Date;
  /** The write-back queue as its writer holds it (the engine's `writeback.status()`); default: read from the store. */
  writeback?: () => OutboxFigures;
}): Hono {
  return new Hono().get('/overview', async (c) => {
    const now = (deps.now ?? (() => new Date()))();
    const t = now.getTime();
    const counts = await deps.store.counts({ now, ageBoundsSeconds: AGE_BUCKETS.slice(0, -1).map(([, max]) => max) });
    const by_state: Record<string, { count: number; age: Record<string, number> }> = {};
    for (const [state, row] of Object.entries(counts.byState)) {
      if (row.count) by_state[state] = { count: row.count, age: Object.fromEntries(AGE_BUCKETS.map(([k], i) => [k, row.ages[i]])) };
    }
    const o = counts.oldestPending;
    const oldest = o && { ...o, age_seconds: Math.round(Math.max(0, (t - Date.parse(o.received_at)) / 1000)) };
    const dead = {
      business: counts.deadLetters.dead.business + counts.deadLetters.manual.business,
      technical: counts.deadLetters.dead.technical + counts.deadLetters.manual.technical,
    };
    const wb = deps.writeback?.() ?? storedWritebackFigures(deps.store);
    // Milestones and event states Odoo refused are business dead letters (a person fixes the data in Odoo).
    dead.business += wb.rejected + (wb.states_rejected ?? 0);
    const backlog = wb.pending;
    const lag = wb.oldest_pending_at ? Math.max(0, (t - Date.parse(wb.oldest_pending_at)) / 1000 || 0) : 0;
    return c.json({
      generated_at: now.toISOString(), by_state, oldest_pending: oldest ?? null, dead_letters: dead,
      writeback: { backlog, lag_seconds: Math.round(lag), states_backlog: wb.states_pending ?? 0, dead_letters: wb.rejected + (wb.states_rejected ?? 0) },
    });
  });
}
