/** The Hono app: middleware and route mounting, nothing else. */
import { Hono, type MiddlewareHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { ApiError } from './errors.ts';
import type { Logger } from './log.ts';
import type { Store } from './store/types.ts';
import { healthRoutes } from './routes/health.ts';
import { eventRoutes } from './routes/events.ts';
import { operatorDirectory, roleFor, hasRole, type Role } from './operators.ts';

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
  /** Named operators with roles (the configuration's `operators`), beside the admin token. */
  operators?: { name: string; role: Role; token: string }[];
}

/** Paths under /v1 that authenticate themselves (signed partner webhooks). */
const SELF_AUTHENTICATED = /^\/v1\/webhooks\//;

export function createApp(deps: AppDeps): Hono {
  const app = new Hono();
  const directory = operatorDirectory({ adminToken: deps.adminToken, operators: deps.operators });
  const unauthorized = (message: string) => new ApiError(401, 'unauthorized', message);
  /** Bearer token -> operator (401 when missing, malformed or unknown), then the route's role (403). */
  const operatorAuth: MiddlewareHandler = async (c, next) => {
    const header = c.req.header('authorization');
    if (!header) throw unauthorized('send Authorization: Bearer <BRIDGE_ADMIN_TOKEN or your operator token>');
    const m = /^Bearer ([\x21-\x7e]+)$/i.exec(header.trim());
    if (!m) throw unauthorized('the Authorization header must be "Bearer <token>"');
    const op = directory.identify(m[1]);
    if (!op) throw unauthorized('wrong token: send Authorization: Bearer <BRIDGE_ADMIN_TOKEN or your operator token>');
    const needed = roleFor(c.req.method, c.req.path);
    if (!hasRole(op.role, needed)) throw new ApiError(403, 'forbidden', `${op.name} is a ${op.role}: ${c.req.method} ${c.req.path} needs the ${needed} role`);
    c.set('operator' as never, op as never);
    await next();
  };
  const operatorOnly: MiddlewareHandler = (c, next) => (SELF_AUTHENTICATED.test(c.req.path) ? next() : operatorAuth(c, next));

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
