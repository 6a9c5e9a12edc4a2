/** POST /v1/webhooks/:partner — signed partner webhooks in, canonical milestones to the write-back queue. */
import { Hono } from 'hono';
import { adapterRegistry } from '../adapters/registry.ts';
import { createGateway, type GatewayDeps } from '../webhooks/gateway.ts';

export type WebhookRouteDeps = Omit<GatewayDeps, 'registry'> & { registry?: GatewayDeps['registry'] };

export function webhookRoutes(deps: WebhookRouteDeps): Hono {
  const gateway = createGateway({ registry: adapterRegistry, ...deps });
  const app = new Hono();
  app.post('/v1/webhooks/:partner', async (c) => {
    const answer = await gateway.receive(c.req.param('partner'), c.req.raw);
    return answer.body === null ? c.body(null, answer.status as 401) : c.json(answer.body, answer.status as 200);
  });
  return app;
}
