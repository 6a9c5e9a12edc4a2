/**
 * AfterShip-shaped tracking platform simulator: POST /trackings (`as-api-key`; 4003 when the
 * tracking exists; no idempotency header is documented, none is honoured), GET /trackings, and `aftership-hmac-sha256`-signed tracking_update webhooks.
 * Shapes after https://www.aftership.com/docs/tracking/quickstart/api-quick-start and
 * https://www.aftership.com/docs/tracking/webhook/webhook-signature
 * Effects: milestone_published (trackings created), webhook_sent.
 */
import { Hono } from 'hono';
import { signAfterShip } from '../../adapters/signatures.ts';
import { controlRoutes, Effects, faultInjection, idMaker, runFaults, sendWebhooks, urlOf, type OutgoingWebhook, type SendOptions, type SimOptions, type Simulator } from '../kit.ts';

type Tag = 'InfoReceived' | 'InTransit' | 'OutForDelivery' | 'AttemptFail' | 'Delivered' | 'Exception' | 'AvailableForPickup';
interface SimTracking { id: string; tracking_number: string; slug: string; title?: string; order_id?: string; custom_fields: Record<string, string>; tag: Tag; created_at: string }

export interface AfterShipSim extends Simulator {
  readonly trackings: Map<string, SimTracking>;
  updates(trackingNumber: string, tags: Tag[], opts?: { signedBy?: string }): OutgoingWebhook[];
  emitTracking(trackingNumber: string, tags: Tag[], opts?: SendOptions & { signedBy?: string }): Promise<number[]>;
}

export function createAfterShipSim(o: SimOptions & { apiKey?: string } = {}): AfterShipSim {
  const effects = new Effects();
  const run = runFaults(o);
  const now = o.now ?? (() => new Date());
  const newId = idMaker(o.random);
  const trackings = new Map<string, SimTracking>();
  const app = new Hono();
  const env = (code: number, type: string, message: string, data: unknown = {}) => ({ meta: { code, type, message }, data });

  controlRoutes(app, run, effects);
  app.post('/_control/webhooks', async (c) => {
    const b = (await c.req.json().catch(() => ({}))) as { tracking_number?: string; tags?: Tag[] } & SendOptions;
    if (!b.tracking_number) return c.json({ error: 'tracking_number required' }, 400);
    return c.json({ statuses: await sim.emitTracking(b.tracking_number, b.tags ?? ['InTransit', 'OutForDelivery', 'Delivered'], b) });
  });
  app.use('/trackings*', faultInjection(run, {
    invalid: () => ({ status: 400, body: env(4001, 'BadRequest', 'Invalid JSON data.') }),
    refuse: () => ({ status: 422, body: env(4005, 'BadRequest', 'The value of `tracking_number` is invalid.') }),
  }));
  app.use('/trackings*', async (c, next) => {
    const key = c.req.header('as-api-key');
    if (!key || (o.apiKey && key !== o.apiKey)) return c.json(env(401, 'Unauthorized', 'Invalid API key.'), 401);
    await next();
  });
  app.post('/trackings', async (c) => {
    const b = (await c.req.json().catch(() => null)) as Partial<SimTracking> | null;
    if (!b?.tracking_number) return c.json(env(4002, 'BadRequest', 'The value of `tracking_number` is required.'), 400);
    // https://www.aftership.com/docs/tracking/quickstart/request-errors: 400, meta.code 4003,
    // "Tracking already exists." (the page promises no body beyond the envelope, so data stays empty).
    if (trackings.has(b.tracking_number)) return c.json(env(4003, 'BadRequest', 'Tracking already exists.', {}), 400);
    const t: SimTracking = {
      id: newId('', 24), tracking_number: b.tracking_number, slug: b.slug ?? 'usps', title: b.title, order_id: b.order_id,
      custom_fields: (b.custom_fields ?? {}) as Record<string, string>, tag: 'InfoReceived', created_at: now().toISOString(),
    };
    trackings.set(t.tracking_number, t);
    effects.add('milestone_published');
    if (o.autoProgressMs) {
      (['InTransit', 'OutForDelivery', 'Delivered'] as Tag[]).forEach((tag, i) =>
        setTimeout(() => void sim.emitTracking(t.tracking_number, [tag], { signedBy: 'J. Doe' }).catch(() => undefined), o.autoProgressMs! * (i + 1)).unref?.());
    }
    return c.json(env(201, 'Created', 'Created', t), 201);
  });
  app.get('/trackings', (c) => c.json(env(200, 'OK', 'OK', { trackings: [...trackings.values()] })));

  function updates(trackingNumber: string, tags: Tag[], opts: { signedBy?: string } = {}): OutgoingWebhook[] {
    const t = trackings.get(trackingNumber);
    const base = now().getTime();
    const checkpoints: Record<string, unknown>[] = [];
    return tags.map((tag, i) => {
      const at = new Date(base + i * 60_000).toISOString().replace(/\.\d{3}Z$/, '+00:00');
      checkpoints.push({ checkpoint_time: at, created_at: at, tag, subtag: `${tag}_001`, message: `${tag} (simulated)`, location: 'Pleasant Hill, CA, USA', city: 'Pleasant Hill', state: 'CA', country_iso3: 'USA' });
      const body = JSON.stringify({
        event: 'tracking_update',
        event_id: newId('', 32),
        is_tracking_first_tag: true,
        msg: {
          id: t?.id ?? newId('', 24), tracking_number: trackingNumber, slug: t?.slug ?? 'usps', title: t?.title, order_id: t?.order_id,
          custom_fields: t?.custom_fields ?? {}, tag, subtag: `${tag}_001`, subtag_message: tag,
          signed_by: tag === 'Delivered' ? opts.signedBy ?? null : null, checkpoints: [...checkpoints], updated_at: at,
        },
        ts: Math.floor(base / 1000) + i * 60,
      });
      if (t) t.tag = tag;
      return { body, headers: { 'aftership-hmac-sha256': signAfterShip(o.webhookSecret ?? '', body) } };
    });
  }

  const sim: AfterShipSim = {
    kind: 'aftership', app, effects, run, trackings, updates,
    async emitTracking(trackingNumber, tags, opts = {}) {
      if (!o.webhookUrl) throw new Error('aftership sim: no webhookUrl configured');
      const res = await sendWebhooks(o.fetch ?? fetch, urlOf(o.webhookUrl), updates(trackingNumber, tags, opts), opts);
      effects.add('webhook_sent', res.length);
      return res;
    },
  };
  return sim;
}
