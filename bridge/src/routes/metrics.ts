/**
 * `GET /metrics`: Prometheus text exposition.
 *
 * Not behind the admin token: a scraper should not hold the key that can replay and discard.
 * The figures carry no ids and no personal data (bounded labels only). Where the port is reachable
 * by others, set METRICS_TOKEN: then the scraper must send `Authorization: Bearer <METRICS_TOKEN>`
 * (Prometheus `authorization: { credentials: ... }`).
 */
import { Hono } from 'hono';
import { timingSafeEqual } from 'node:crypto';
import type { Metrics } from '../observability/metrics.ts';

/** Constant-time string comparison (different lengths are simply unequal). */
export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
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
    const body = await deps.metrics.exposition();
    return c.body(body, 200, { 'content-type': deps.metrics.contentType, 'cache-control': 'no-store' });
  });
}
