/**
 * A Standard Webhooks receiver (a visibility platform or a customer notification hub): verifies
 * every delivery with the spec's recipe, counts each message id once, can answer 410 Gone.
 * Spec: https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md
 * Effects: milestone_published (unique message ids), duplicate_received, signature_rejected.
 */
import { Hono } from 'hono';
import { verifyStandardWebhook } from '../../adapters/signatures.ts';
import { controlRoutes, Effects, faultInjection, runFaults, type RunFaults, type SimOptions, type Simulator } from '../kit.ts';

export interface StandardWebhooksSim extends Simulator {
  /** Messages received, by webhook-id, first delivery kept. */
  readonly received: Map<string, { type: string; data: unknown }>;
  readonly run: RunFaults & { gone?: boolean };
}

export function createStandardWebhooksSim(o: SimOptions & { secrets?: string[]; gone?: boolean } = {}): StandardWebhooksSim {
  const effects = new Effects();
  const run: RunFaults & { gone?: boolean; random?: () => number } = { ...runFaults(o), gone: o.gone };
  const now = o.now ?? (() => new Date());
  const received = new Map<string, { type: string; data: unknown }>();
  const app = new Hono();
  controlRoutes(app, run, effects);
  app.post('/_control/gone', async (c) => {
    run.gone = Boolean(((await c.req.json().catch(() => ({}))) as { gone?: boolean }).gone ?? true);
    return c.json({ gone: run.gone });
  });
  app.get('/_control/received', (c) => c.json([...received.entries()].map(([id, m]) => ({ id, ...m }))));
  app.use('/webhooks/*', faultInjection(run, {
    invalid: () => ({ status: 400, body: { error: 'bad request (simulated)' } }),
    refuse: () => ({ status: 422, body: { error: 'refused (simulated)' } }),
  }));
  app.post('/webhooks/*', async (c) => {
    if (run.gone) return c.text('Gone', 410);
    const raw = Buffer.from(await c.req.arrayBuffer());
    const v = verifyStandardWebhook(o.secrets ?? [o.webhookSecret ?? ''], c.req.raw.headers, raw, now());
    if (!v.ok) {
      effects.add('signature_rejected');
      return c.text('', 401);
    }
    const id = c.req.header('webhook-id')!;
    // Spec, "Webhook metadata": the id "remains the same no matter how many times a webhook that has
    // failed is retried. The ID is often used as an idempotency key": a receiver acts once per id.
    if (received.has(id)) {
      effects.add('duplicate_received');
      return c.body(null, 204);
    }
    let msg: { type?: string; data?: unknown };
    try {
      msg = JSON.parse(raw.toString('utf8'));
    } catch {
      return c.text('invalid JSON', 400);
    }
    received.set(id, { type: String(msg.type), data: msg.data });
    effects.add('milestone_published');
    return c.body(null, 204);
  });
  return { kind: 'standard-webhooks', app, effects, run, received };
}
