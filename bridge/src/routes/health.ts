/** Liveness and readiness for process managers and load balancers. */
import { Hono } from 'hono';
import type { Store } from '../store/types.ts';

export function healthRoutes(deps: { store: Store; version: string; startedAt: Date }): Hono {
  return new Hono()
    .get('/healthz', (c) => c.json({ status: 'up', version: deps.version, started_at: deps.startedAt.toISOString() }))
    .get('/readyz', (c) => (deps.store.isOpen ? c.json({ status: 'ready', store: 'open' }) : c.json({ status: 'not ready', store: 'closed' }, 503)));
}
