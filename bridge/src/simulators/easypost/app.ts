/**
 * EasyPost-shaped carrier simulator: POST /v2/shipments, POST /v2/shipments/:id/buy, POST
 * /v2/shipments/:id/refund, GET /v2/shipments/:id (an id or our reference), POST /v2/trackers, and
 * signed tracker.updated Events (X-Hmac-Signature) to the bridge.
 * Shapes after https://docs.easypost.com/docs/shipments and https://docs.easypost.com/docs/events
 *
 * It behaves as EasyPost documents, not as we would like: EasyPost documents no idempotency key,
 * so `Idempotency-Key` is ignored and every POST /v2/shipments creates a new shipment (the bridge
 * finds its own by `reference` instead). A reference is not unique either: the docs promise a
 * lookup by it, not a refusal of a second one.
 * Effects: shipment_created, label_purchased, return_label_purchased, label_refunded, webhook_sent.
 */
import { Hono, type Context } from 'hono';
import { signEasyPost } from '../../adapters/signatures.ts';
import {
  controlRoutes, Effects, faultInjection, idMaker, runFaults, sendWebhooks, urlOf,
  type OutgoingWebhook, type SendOptions, type SimOptions, type Simulator,
} from '../kit.ts';

type Status = 'pre_transit' | 'in_transit' | 'out_for_delivery' | 'delivered' | 'return_to_sender' | 'failure';
interface SimShipment {
  id: string;
  object: 'Shipment';
  reference?: string;
  is_return: boolean;
  mode: 'test';
  to_address: Record<string, unknown>;
  from_address: Record<string, unknown>;
  parcel: Record<string, unknown>;
  /** "All of the options passed to the shipment" (https://docs.easypost.com/docs/shipments, Shipment object). */
  options: Record<string, unknown>;
  rates: { id: string; object: 'Rate'; carrier: string; service: string; rate: string; currency: string; shipment_id: string }[];
  selected_rate: SimShipment['rates'][number] | null;
  postage_label: { object: 'PostageLabel'; label_url: string; label_file_type: string; label_date: string } | null;
  tracking_code: string | null;
  tracker: { id: string; object: 'Tracker'; public_url: string } | null;
  refund_status: string | null;
  created_at: string;
}

export interface EasyPostSim extends Simulator {
  /** Sends tracker.updated Events for a tracking code, one per status, signed with the webhook secret. */
  emitTracking(trackingCode: string, statuses: Status[], opts?: SendOptions & { signedBy?: string }): Promise<number[]>;
  /** The signed Event bodies it would send (for tests that post them themselves). */
  trackerEvents(trackingCode: string, statuses: Status[], opts?: { signedBy?: string }): OutgoingWebhook[];
  readonly shipments: Map<string, SimShipment>;
}

export function createEasyPostSim(o: SimOptions & { apiKey?: string } = {}): EasyPostSim {
  const effects = new Effects();
  const run = runFaults(o);
  const newId = idMaker(o.random);
  const now = o.now ?? (() => new Date());
  const shipments = new Map<string, SimShipment>();
  const app = new Hono();
  const apiError = (status: number, code: string, message: string, errors: { field: string; message: string }[] = []) =>
    ({ status, body: { error: { code, message, errors } } });

  controlRoutes(app, run, effects);
  app.post('/_control/webhooks', async (c) => {
    const b = (await c.req.json().catch(() => ({}))) as { tracking_code?: string; statuses?: Status[] } & SendOptions;
    if (!b.tracking_code) return c.json({ error: 'tracking_code required' }, 400);
    return c.json({ statuses: await sim.emitTracking(b.tracking_code, b.statuses ?? ['in_transit', 'out_for_delivery', 'delivered'], b) });
  });

  app.use('/v2/*', faultInjection(run, {
    invalid: () => apiError(422, 'PARAMETER.INVALID', 'Wrong parameter type.', [{ field: 'shipment.parcel.weight', message: 'must be greater than 0' }]),
    refuse: () => apiError(422, 'ADDRESS.VERIFY.FAILURE', 'Unable to verify address.', [{ field: 'street1', message: 'Address not found' }]),
  }));
  app.use('/v2/*', async (c, next) => {
    const auth = c.req.header('authorization') ?? '';
    const user = auth.startsWith('Basic ') ? Buffer.from(auth.slice(6), 'base64').toString().split(':')[0] : '';
    if (!user || (o.apiKey && user !== o.apiKey)) return c.json({ error: { code: 'APIKEY.REQUIRED', message: 'Invalid or missing API key.', errors: [] } }, 401);
    await next();
  });

  const answer = (c: Context, r: { status: number; body: unknown }) => c.json(r.body as object, r.status as 200);

  // https://docs.easypost.com/docs/shipments (Create a Shipment): a valid to/from address and parcel
  // populate `rates`. No idempotency key is documented, so none is honoured: a repeat creates again.
  app.post('/v2/shipments', async (c) => answer(c, await (async () => {
    const body = (await c.req.json().catch(() => null)) as { shipment?: Partial<SimShipment> & { is_return?: boolean } } | null;
    const s = body?.shipment;
    if (!s?.to_address || !s.from_address || !s.parcel) return apiError(422, 'PARAMETER.REQUIRED', 'Missing required parameter.', [{ field: 'shipment', message: 'to_address, from_address and parcel are required' }]);
    if (String((s.to_address as { street1?: string }).street1 ?? '').toUpperCase().includes('INVALID')) {
      return apiError(422, 'ADDRESS.VERIFY.FAILURE', 'Unable to verify address.', [{ field: 'street1', message: 'Address not found' }]);
    }
    const id = newId('shp_');
    const weight = Number((s.parcel as { weight?: number }).weight ?? 16);
    const rates = [
      { carrier: 'USPS', service: 'GroundAdvantage', base: 6.5 },
      { carrier: 'USPS', service: 'Priority', base: 9.1 },
      { carrier: 'UPS', service: 'Ground', base: 11.2 },
    ].map((r) => ({ id: newId('rate_'), object: 'Rate' as const, carrier: r.carrier, service: r.service, rate: (r.base + weight * 0.02).toFixed(2), currency: 'USD', shipment_id: id }));
    const shipment: SimShipment = {
      id, object: 'Shipment', reference: s.reference, is_return: !!s.is_return, mode: 'test',
      to_address: s.to_address, from_address: s.from_address, parcel: s.parcel, options: (s.options ?? {}) as Record<string, unknown>, rates,
      selected_rate: null, postage_label: null, tracking_code: null, tracker: null, refund_status: null, created_at: now().toISOString(),
    };
    shipments.set(id, shipment);
    effects.add('shipment_created');
    return { status: 201, body: shipment };
  })()));

  /**
   * An id, or our reference: https://docs.easypost.com/docs/shipments (Shipment object: reference is
   * "An optional field that may be used in place of id in other API endpoints"). The docs do not say
   * which shipment answers when several share a reference; this one answers the latest.
   */
  const byIdOrReference = (key: string): SimShipment | undefined =>
    shipments.get(key) ?? [...shipments.values()].reverse().find((x) => x.reference !== undefined && x.reference === key);

  // https://docs.easypost.com/docs/shipments (Retrieve a Shipment); 404 per https://docs.easypost.com/guides/errors-guide
  app.get('/v2/shipments/:id', (c) => {
    const s = byIdOrReference(c.req.param('id'));
    return s ? c.json(s) : c.json({ error: { code: 'NOT_FOUND', message: 'The requested resource could not be found.', errors: [] } }, 404);
  });

  // https://docs.easypost.com/docs/shipments (Buy a Shipment). A shipment holds one label: buying it
  // again is refused with 422 ("well-formed, but unable to process", https://docs.easypost.com/guides/errors-guide).
  // The error code string below is ours: the public error list we found does not name the code for
  // this case, so the adapter never relies on it (in doubt it reads the shipment first).
  app.post('/v2/shipments/:id/buy', async (c) => answer(c, await (async () => {
    const s = byIdOrReference(c.req.param('id'));
    if (!s) return apiError(404, 'NOT_FOUND', 'The requested resource could not be found.');
    if (s.postage_label) return apiError(422, 'SHIPMENT.POSTAGE.EXISTS', 'Postage already exists for this shipment.');
    const body = (await c.req.json().catch(() => null)) as { rate?: { id?: string } } | null;
    const rate = s.rates.find((r) => r.id === body?.rate?.id);
    if (!rate) return apiError(422, 'SHIPMENT.RATE.INVALID', 'Rate not found for this shipment.', [{ field: 'rate.id', message: 'unknown rate' }]);
    const tracking = `9400${String(Math.floor((o.random ?? Math.random)() * 1e18)).padStart(18, '0')}`;
    s.selected_rate = rate;
    s.tracking_code = tracking;
    s.postage_label = { object: 'PostageLabel', label_url: `https://easypost-files.example.com/files/postage_label/${s.id}.pdf`, label_file_type: 'application/pdf', label_date: now().toISOString() };
    s.tracker = { id: newId('trk_'), object: 'Tracker', public_url: `https://track.easypost.com/${tracking}` };
    effects.add(s.is_return ? 'return_label_purchased' : 'label_purchased');
    if (o.autoProgressMs && !s.is_return) {
      const steps: Status[] = ['in_transit', 'out_for_delivery', 'delivered'];
      steps.forEach((st, i) => setTimeout(() => void sim.emitTracking(tracking, [st], { signedBy: st === 'delivered' ? 'J. Doe' : undefined }), o.autoProgressMs! * (i + 1)).unref?.());
    }
    return { status: 200, body: s };
  })()));

  // https://docs.easypost.com/docs/shipments/shipping-refund: once submitted, the shipment's
  // `refund_status` is populated ("submitted"), which a retrieve shows.
  app.post('/v2/shipments/:id/refund', (c) => {
    const s = byIdOrReference(c.req.param('id'));
    if (!s) return c.json({ error: { code: 'NOT_FOUND', message: 'The requested resource could not be found.', errors: [] } }, 404);
    if (!s.postage_label) return c.json({ error: { code: 'SHIPMENT.REFUND.NOT_PURCHASED', message: 'Postage was never purchased.', errors: [] } }, 422);
    if (s.refund_status) return c.json({ error: { code: 'SHIPMENT.REFUND.ALREADY_REQUESTED', message: 'A refund was already requested.', errors: [] } }, 422);
    s.refund_status = 'submitted';
    effects.add('label_refunded');
    return c.json(s);
  });

  app.post('/v2/trackers', async (c) => {
    const b = (await c.req.json().catch(() => null)) as { tracker?: { tracking_code?: string; carrier?: string } } | null;
    if (!b?.tracker?.tracking_code) return c.json({ error: { code: 'PARAMETER.REQUIRED', message: 'tracking_code is required', errors: [] } }, 422);
    effects.add('tracker_created');
    return c.json({ id: newId('trk_'), object: 'Tracker', tracking_code: b.tracker.tracking_code, carrier: b.tracker.carrier ?? 'USPS', status: 'pre_transit', tracking_details: [] }, 201);
  });

  function trackerEvents(trackingCode: string, statuses: Status[], opts: { signedBy?: string } = {}): OutgoingWebhook[] {
    const s = [...shipments.values()].find((x) => x.tracking_code === trackingCode);
    const base = now().getTime();
    const details: Record<string, unknown>[] = [];
    return statuses.map((status, i) => {
      const at = new Date(base + i * 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
      details.push({ object: 'TrackingDetail', message: MESSAGES[status], status, datetime: at, source: 'USPS', tracking_location: { object: 'TrackingLocation', city: 'Pleasant Hill', state: 'CA', country: 'US', zip: '94523' } });
      const event = {
        id: newId('evt_'),
        object: 'Event',
        mode: 'test',
        description: 'tracker.updated',
        previous_attributes: { status: i === 0 ? 'pre_transit' : statuses[i - 1] },
        pending_urls: [],
        completed_urls: [],
        created_at: at,
        updated_at: at,
        status: 'pending',
        result: {
          id: s?.tracker?.id ?? newId('trk_'),
          object: 'Tracker',
          mode: 'test',
          tracking_code: trackingCode,
          status,
          status_detail: status === 'delivered' ? 'arrived_at_destination' : 'status_update',
          signed_by: status === 'delivered' ? opts.signedBy ?? null : null,
          carrier: s?.selected_rate?.carrier ?? 'USPS',
          shipment_id: s?.id ?? null,
          public_url: s?.tracker?.public_url ?? null,
          tracking_details: [...details],
          created_at: s?.created_at ?? at,
          updated_at: at,
        },
      };
      const body = JSON.stringify(event);
      return { body, headers: { 'x-hmac-signature': signEasyPost(o.webhookSecret ?? '', body) } };
    });
  }

  const sim: EasyPostSim = {
    kind: 'easypost', app, effects, run, shipments,
    trackerEvents,
    async emitTracking(trackingCode, statuses, opts = {}) {
      if (!o.webhookUrl) throw new Error('easypost sim: no webhookUrl configured');
      const batch = trackerEvents(trackingCode, statuses, opts);
      const res = await sendWebhooks(o.fetch ?? fetch, urlOf(o.webhookUrl), batch, opts);
      effects.add('webhook_sent', res.length);
      return res;
    },
  };
  return sim;
}

const MESSAGES: Record<Status, string> = {
  pre_transit: 'Pre-Shipment Info Sent to USPS',
  in_transit: 'Arrived at USPS Regional Facility',
  out_for_delivery: 'Out for Delivery',
  delivered: 'Delivered, Front Desk/Reception',
  return_to_sender: 'Return to Sender Processed',
  failure: 'Delivery Attempted - No Access to Delivery Location',
};
