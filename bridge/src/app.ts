/** The Hono app: middleware and route mounting, nothing else. */
import { Hono, type MiddlewareHandler } from 'hono';
import { bearerAuth } from 'hono/bearer-auth';
import { HTTPException } from 'hono/http-exception';
import { ApiError } from './errors.ts';
import type { Logger } from './log.ts';
import type { Store } from './store/types.ts';
import { healthRoutes } from './routes/health.ts';
import { eventRoutes } from './routes/events.ts';

export interface AppDeps {
  store: Store;
  adminToken: string;
  logger: Logger;
  version: string;
  startedAt?: Date;
  /** Extra routes without operator auth (partner webhooks verify their own signatures; simulators in demo mode). */
  publicRoutes?: { path: string; app: Hono }[];
  /** Extra operator routes, mounted under /v1 behind the admin token. */
  adminRoutes?: Hono[];
}

/** Paths under /v1 that authenticate themselves (signed partner webhooks). */
const SELF_AUTHENTICATED = /^\/v1\/webhooks\//;

export function createApp(deps: AppDeps): Hono {
  const app = new Hono();
  const adminAuth = bearerAuth({
    token: deps.adminToken,
    invalidTokenMessage: { error: { code: 'unauthorized', message: 'wrong admin token: send Authorization: Bearer <BRIDGE_ADMIN_TOKEN>' } },
    noAuthenticationHeaderMessage: { error: { code: 'unauthorized', message: 'send Authorization: Bearer <BRIDGE_ADMIN_TOKEN>' } },
    invalidAuthenticationHeaderMessage: { error: { code: 'unauthorized', message: 'the Authorization header must be "Bearer <BRIDGE_ADMIN_TOKEN>"' } },
  });
  const operatorOnly: MiddlewareHandler = (c, next) => (SELF_AUTHENTICATED.test(c.req.path) ? next() : adminAuth(c, next));

  app.onError((err, c) => {
    if (err instanceof ApiError) return c.json(err.toJSON(), err.status);
    if (err instanceof HTTPException) return err.getResponse();
    deps.logger.error({ err, path: c.req.path }, 'request failed');
    return c.json({ error: { code: 'internal', message: 'internal error; see the bridge log' } }, 500);
  });
  app.notFound((c) => c.json({ error: { code: 'not_found', message: `no route for ${c.req.method} ${c.req.path}` } }, 404));

  app.route('/', healthRoutes({ store: deps.store, version: deps.version, startedAt: deps.startedAt ?? new Date() }));
  app.get('/v1/odoo', (c) => c.json({ error: { code: 'upgrade_required', message: 'this is a websocket: connect with Upgrade: websocket' } }, 426));
  for (const r of deps.publicRoutes ?? []) app.route(r.path, r.app);
  app.use('/v1/*', operatorOnly);
  app.route('/v1', eventRoutes({ store: deps.store }));
  for (const r of deps.adminRoutes ?? []) app.route('/v1', r);
  return app;
}
