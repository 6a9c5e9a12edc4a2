/** POST /v1/webhooks/:partner — signed partner webhooks in, canonical milestones to the engine's write-back queue. */
import { Hono } from 'hono';
import { adapterRegistry } from '../adapters/registry.ts';
import { createGateway, type Gateway, type GatewayDeps } from '../webhooks/gateway.ts';

export type WebhookRouteDeps = (Omit<GatewayDeps, 'registry'> & { registry?: GatewayDeps['registry'] }) | { gateway: Gateway };

/** The route; pass `{ gateway }` to share one gateway with other code (parked webhooks, shipment status). */
export function webhookRoutes(deps: WebhookRouteDeps): Hono {
  const gateway = 'gateway' in deps ? deps.gateway : createGateway({ registry: adapterRegistry, ...deps });
  const app = new Hono();
  app.post('/v1/webhooks/:partner', async (c) => {
    const answer = await gateway.receive(c.req.param('partner'), c.req.raw);
    return answer.body === null ? c.body(null, answer.status as 401) : c.json(answer.body, answer.status as 200);
  });
  return app;
}
