/**
 * Shippo-shaped carrier simulator: POST /shipments/ (rates), POST /transactions/ (buy; an
 * unverifiable address answers a transaction in ERROR, as Shippo does), GET /transactions/ and
 * /transactions/:id, POST /refunds/, and track_updated webhooks authenticated by a shared token in
 * the URL. Shapes after https://docs.goshippo.com/api-reference/transactions/create-a-shipping-label
 * and https://docs.goshippo.com/docs/tracking/webhooks
 *
 * It honours only what Shippo documents: no idempotency key exists, so an `Idempotency-Key` header
 * is ignored and a second purchase is a second label (the adapter finds its own by `metadata`).
 * Effects: label_purchased, return_label_purchased (one per parcel label), label_refunded, webhook_sent.
 */
import { Hono } from 'hono';
import { controlRoutes, Effects, faultInjection, idMaker, runFaults, sendWebhooks, urlOf, type OutgoingWebhook, type SendOptions, type SimOptions, type Simulator } from '../kit.ts';

type TrackStatus = 'PRE_TRANSIT' | 'TRANSIT' | 'DELIVERED' | 'RETURNED' | 'FAILURE';
interface SimRate { object_id: string; provider: string; servicelevel: { token: string; name: string }; amount: string; currency: string; shipment: string }
interface SimTransaction { object_id: string; status: string; tracking_number?: string; tracking_url_provider?: string; label_url?: string; metadata?: string; rate: SimRate; parcel: string; messages: unknown[]; object_created: string; is_return: boolean }

export interface ShippoSim extends Simulator {
  readonly transactions: Map<string, SimTransaction>;
  trackUpdates(trackingNumber: string, statuses: (TrackStatus | 'OUT_FOR_DELIVERY')[]): OutgoingWebhook[];
  emitTracking(trackingNumber: string, statuses: (TrackStatus | 'OUT_FOR_DELIVERY')[], opts?: SendOptions): Promise<number[]>;
}

export function createShippoSim(o: SimOptions & { token?: string } = {}): ShippoSim {
  const effects = new Effects();
  const run = runFaults(o);
  const now = o.now ?? (() => new Date());
  const newId = idMaker(o.random);
  const shipments = new Map<string, { object_id: string; address_to: Record<string, unknown>; is_return: boolean; rates: SimRate[]; parcels: string[] }>();
  const rates = new Map<string, SimRate>();
  const transactions = new Map<string, SimTransaction>();
  const app = new Hono();

  controlRoutes(app, run, effects);
  app.post('/_control/webhooks', async (c) => {
    const b = (await c.req.json().catch(() => ({}))) as { tracking_number?: string; statuses?: TrackStatus[] } & SendOptions;
    if (!b.tracking_number) return c.json({ error: 'tracking_number required' }, 400);
    return c.json({ statuses: await sim.emitTracking(b.tracking_number, b.statuses ?? ['TRANSIT', 'DELIVERED'], b) });
  });
  const api = new Hono();
  api.use('*', faultInjection(run, {
    invalid: () => ({ status: 400, body: { parcels: ['This field is required.'] } }),
    refuse: () => ({ status: 400, body: { address_to: ['Address could not be validated: street not found.'] } }),
  }));
  api.use('*', async (c, next) => {
    const auth = c.req.header('authorization') ?? '';
    if (!auth.startsWith('ShippoToken ') || (o.token && auth.slice(12) !== o.token)) return c.json({ detail: 'Invalid token.' }, 401);
    await next();
  });
  // https://docs.goshippo.com/docs/shipments/multipieceshipment: "add a list of Parcel objects to the
  // parcels field in a Shipment"; the rates are for the whole shipment.
  api.post('/shipments/', async (c) => {
    const b = (await c.req.json().catch(() => null)) as { address_to?: Record<string, unknown>; address_from?: unknown; parcels?: unknown[]; extra?: { is_return?: boolean } } | null;
    if (!b?.address_to || !b.address_from) return c.json({ address_to: ['This field is required.'] }, 400);
    if (!Array.isArray(b.parcels) || !b.parcels.length) return c.json({ parcels: ['This field is required.'] }, 400);
    const id = newId('', 32);
    const list = [
      { provider: 'DHL Express', token: 'dhl_express_worldwide', name: 'Express Worldwide', amount: '24.10' },
      { provider: 'UPS', token: 'ups_ground', name: 'Ground', amount: '12.35' },
      { provider: 'USPS', token: 'usps_priority', name: 'Priority Mail', amount: '9.80' },
    ]
      // "USPS does not support multi-piece parcels in a single shipment at this time" (multi-piece page): no USPS rate for several parcels.
      .filter((r) => b.parcels!.length === 1 || r.provider !== 'USPS')
      .map((r) => ({ object_id: newId('', 32), provider: r.provider, servicelevel: { token: r.token, name: r.name }, amount: r.amount, currency: 'USD', shipment: id }));
    for (const r of list) rates.set(r.object_id, r);
    shipments.set(id, { object_id: id, address_to: b.address_to, is_return: !!b.extra?.is_return, rates: list, parcels: b.parcels.map(() => newId('', 32)) });
    return c.json({ object_id: id, status: 'SUCCESS', rates: list }, 201);
  });
  api.get('/rates/:id', (c) => {
    const r = rates.get(c.req.param('id'));
    return r ? c.json(r) : c.json({ detail: 'Not found.' }, 404);
  });
  /**
   * Buying a rate: https://docs.goshippo.com/api-reference/transactions/create-a-shipping-label.
   * A multi-piece shipment's rate buys a label per parcel ("creating transactions works the exact
   * same way as with normal shipments", https://docs.goshippo.com/docs/shipments/multipieceshipment);
   * each Transaction names its `parcel` (Transaction object, list-all-shipping-labels). That the
   * purchase answers the first parcel's transaction and the others are listed with the same rate and
   * metadata is our reading of those pages, not a sentence from them.
   * No idempotency key is documented: a repeated purchase buys again.
   */
  api.post('/transactions/', async (c) => {
    const b = (await c.req.json().catch(() => null)) as { rate?: string; metadata?: string } | null;
    const rate = b?.rate ? rates.get(b.rate) : undefined;
    if (!rate) return c.json({ rate: ['Rate not found.'] }, 400);
    const shipment = shipments.get(rate.shipment)!;
    const bought: SimTransaction[] = [];
    for (const parcel of shipment.parcels) {
      const t: SimTransaction = { object_id: newId('', 32), status: 'SUCCESS', metadata: b?.metadata, rate, parcel, messages: [], object_created: now().toISOString(), is_return: shipment.is_return };
      if (String(shipment.address_to.street1 ?? '').toUpperCase().includes('INVALID')) {
        t.status = 'ERROR';
        t.messages = [{ source: rate.provider, code: 'address_error', text: 'The address as submitted could not be found.' }];
      } else {
        const tn = `SHIPPO${String(Math.floor((o.random ?? Math.random)() * 1e12)).padStart(12, '0')}`;
        t.tracking_number = tn;
        t.tracking_url_provider = `https://tools.usps.com/go/TrackConfirmAction?tLabels=${tn}`;
        t.label_url = `https://shippo-delivery.example.com/${t.object_id}.pdf`;
        effects.add(shipment.is_return ? 'return_label_purchased' : 'label_purchased');
      }
      transactions.set(t.object_id, t);
      bought.push(t);
      if (t.status === 'ERROR') break;
    }
    return c.json(bought[0], 201);
  });
  // https://docs.goshippo.com/api-reference/transactions/list-all-shipping-labels: paginated
  // { next, previous, results }, `results` per page; newest first here (the docs do not promise an order).
  api.get('/transactions/', (c) => {
    const size = Math.max(1, Math.min(100, Number(c.req.query('results') ?? 5) || 5));
    const page = Math.max(1, Number(c.req.query('page') ?? 1) || 1);
    const all = [...transactions.values()].reverse();
    const results = all.slice((page - 1) * size, page * size);
    const next = page * size < all.length ? `${new URL(c.req.url).pathname}?page=${page + 1}&results=${size}` : null;
    return c.json({ next, previous: page > 1 ? `?page=${page - 1}&results=${size}` : null, results });
  });
  // https://docs.goshippo.com/api-reference/transactions/retrieve-a-shipping-label
  api.get('/transactions/:id', (c) => {
    const t = transactions.get(c.req.param('id'));
    return t ? c.json(t) : c.json({ detail: 'Not found.' }, 404);
  });
  // https://docs.goshippo.com/api-reference/refunds/create-a-refund; the transaction then shows
  // status REFUNDED (Transaction.status enum: ... REFUNDED, REFUNDPENDING, REFUNDREJECTED).
  api.post('/refunds/', async (c) => {
    const b = (await c.req.json().catch(() => null)) as { transaction?: string } | null;
    const t = b?.transaction ? transactions.get(b.transaction) : undefined;
    if (!t) return c.json({ transaction: ['Transaction not found.'] }, 400);
    if (t.status === 'REFUNDED') return c.json({ transaction: ['Transaction has already been refunded.'] }, 400);
    t.status = 'REFUNDED';
    effects.add('label_refunded');
    return c.json({ object_id: newId('', 32), status: 'SUCCESS', transaction: t.object_id }, 201);
  });
  app.route('/', api);

  function trackUpdates(trackingNumber: string, statuses: (TrackStatus | 'OUT_FOR_DELIVERY')[]): OutgoingWebhook[] {
    const t = [...transactions.values()].find((x) => x.tracking_number === trackingNumber);
    const base = now().getTime();
    return statuses.map((s, i) => {
      const at = new Date(base + i * 60_000).toISOString();
      const status = s === 'OUT_FOR_DELIVERY' ? 'TRANSIT' : s;
      const body = JSON.stringify({
        event: 'track_updated',
        test: true,
        data: {
          carrier: 'usps', tracking_number: trackingNumber, metadata: t?.metadata ?? null,
          tracking_status: {
            status, status_details: s === 'OUT_FOR_DELIVERY' ? 'Out for delivery' : `${status} (simulated)`, status_date: at,
            substatus: s === 'OUT_FOR_DELIVERY' ? { code: 'out_for_delivery', text: 'Package is out for delivery.', action_required: false } : null,
            location: { city: 'Oakland', state: 'CA', zip: '94607', country: 'US' },
          },
          tracking_history: [],
        },
      });
      return { body, headers: {} };
    });
  }

  const sim: ShippoSim = {
    kind: 'shippo', app, effects, run, transactions, trackUpdates,
    async emitTracking(trackingNumber, statuses, opts = {}) {
      if (!o.webhookUrl) throw new Error('shippo sim: no webhookUrl configured');
      // The shared token rides in the URL's query, as Shippo's docs suggest for securing webhook URLs.
      const target = urlOf(o.webhookUrl);
      const url = opts.badSignature ? target.replace(/token=[^&]*/, 'token=wrong') : target;
      const res = await sendWebhooks(o.fetch ?? fetch, url, trackUpdates(trackingNumber, statuses), { ...opts, badSignature: false });
      effects.add('webhook_sent', res.length);
      return res;
    },
  };
  return sim;
}
