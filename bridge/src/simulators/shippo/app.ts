/**
 * Shippo-shaped carrier simulator: POST /shipments/ (rates), POST /transactions/ (buy; an
 * unverifiable address answers a transaction in ERROR, as Shippo does), GET /transactions/,
 * POST /refunds/, and track_updated webhooks authenticated by a shared token in the URL.
 * No idempotency key: a second purchase is a second label (the adapter looks up by metadata).
 * Shapes after https://docs.goshippo.com/api-reference/transactions/create-a-shipping-label and
 * https://docs.goshippo.com/docs/tracking/webhooks
 * Effects: label_purchased, return_label_purchased, label_refunded, webhook_sent.
 */
import { Hono } from 'hono';
import { controlRoutes, Effects, faultInjection, idMaker, runFaults, sendWebhooks, urlOf, type OutgoingWebhook, type SendOptions, type SimOptions, type Simulator } from '../kit.ts';

type TrackStatus = 'PRE_TRANSIT' | 'TRANSIT' | 'DELIVERED' | 'RETURNED' | 'FAILURE';
interface SimRate { object_id: string; provider: string; servicelevel: { token: string; name: string }; amount: string; currency: string; shipment: string }
interface SimTransaction { object_id: string; status: string; tracking_number?: string; tracking_url_provider?: string; label_url?: string; metadata?: string; rate: SimRate; messages: unknown[]; object_created: string; is_return: boolean }

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
  const shipments = new Map<string, { object_id: string; address_to: Record<string, unknown>; is_return: boolean; rates: SimRate[] }>();
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
  api.post('/shipments/', async (c) => {
    const b = (await c.req.json().catch(() => null)) as { address_to?: Record<string, unknown>; address_from?: unknown; parcels?: unknown[]; extra?: { is_return?: boolean } } | null;
    if (!b?.address_to || !b.address_from) return c.json({ address_to: ['This field is required.'] }, 400);
    if (!Array.isArray(b.parcels) || !b.parcels.length) return c.json({ parcels: ['This field is required.'] }, 400);
    const id = newId('', 32);
    const list = [
      { provider: 'DHL Express', token: 'dhl_express_worldwide', name: 'Express Worldwide', amount: '24.10' },
      { provider: 'UPS', token: 'ups_ground', name: 'Ground', amount: '12.35' },
      { provider: 'USPS', token: 'usps_priority', name: 'Priority Mail', amount: '9.80' },
    ].map((r) => ({ object_id: newId('', 32), provider: r.provider, servicelevel: { token: r.token, name: r.name }, amount: r.amount, currency: 'USD', shipment: id }));
    for (const r of list) rates.set(r.object_id, r);
    shipments.set(id, { object_id: id, address_to: b.address_to, is_return: !!b.extra?.is_return, rates: list });
    return c.json({ object_id: id, status: 'SUCCESS', rates: list }, 201);
  });
  api.get('/rates/:id', (c) => {
    const r = rates.get(c.req.param('id'));
    return r ? c.json(r) : c.json({ detail: 'Not found.' }, 404);
  });
  api.post('/transactions/', async (c) => {
    const b = (await c.req.json().catch(() => null)) as { rate?: string; metadata?: string } | null;
    const rate = b?.rate ? rates.get(b.rate) : undefined;
    if (!rate) return c.json({ rate: ['Rate not found.'] }, 400);
    const shipment = shipments.get(rate.shipment)!;
    const t: SimTransaction = { object_id: newId('', 32), status: 'SUCCESS', metadata: b?.metadata, rate, messages: [], object_created: now().toISOString(), is_return: shipment.is_return };
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
    return c.json(t, 201);
  });
  api.get('/transactions/', (c) => c.json({ next: null, previous: null, results: [...transactions.values()].reverse() }));
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
