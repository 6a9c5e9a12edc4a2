/**
 * The generic REST WMS (`rest-wms`, a ShipBob-shaped made-up partner): POST /order, GET
 * /order?ReferenceIds=, GET /order/:id, POST /order/:id/cancel, POST /return, GET
 * /return?ReferenceIds=, GET /inventory, and Standard Webhooks-signed `order_shipped` /
 * `inventory_updated` deliveries to the bridge. Shapes after
 * https://developer.shipbob.com/guides/build-orders-integration
 *
 * #contract — what this partner's documentation promises (a real WMS behind `rest-wms` must
 * document the same, or its steps are `unsafe`):
 *   1. `reference_id` (our picking) is unique per account: a second POST /order with a reference_id
 *      already used creates nothing and answers 409 `{ title: "Conflict", detail, existing_order_id }`.
 *   2. GET /order?ReferenceIds=<ref> lists the orders with that reference_id.
 *   3. POST /order/:id/cancel of an order already cancelled answers success again, acting once; of
 *      a shipped one, `is_success: false` with a reason.
 *   4. POST /return: `reference_id` unique the same way (409 with `existing_return_id`).
 *   5. No idempotency header exists; one sent is ignored.
 * Effects: order_released, order_cancelled, return_expected, order_shipped, webhook_sent.
 */
import { Hono } from 'hono';
import { standardWebhookHeaders } from '../../adapters/signatures.ts';
import { controlRoutes, Effects, faultInjection, idMaker, runFaults, sendWebhooks, urlOf, type OutgoingWebhook, type SendOptions, type SimOptions, type Simulator } from '../kit.ts';

interface SimProduct { reference_id: string; name?: string; quantity: number; external_line_id?: string }
interface SimOrder {
  id: number;
  reference_id: string;
  order_number?: string;
  status: 'Processing' | 'Fulfilled' | 'Cancelled';
  created_date: string;
  recipient: Record<string, unknown>;
  products: SimProduct[];
  shipping_method: string;
  tags: { name: string; value: string }[];
  shipments: { id: number; status: string; tracking?: { carrier: string; tracking_number: string; tracking_url: string }; products?: { reference_id: string; quantity: number }[]; actual_fulfillment_date?: string }[];
  last_update_date: string;
}

export interface WmsSim extends Simulator {
  readonly orders: Map<number, SimOrder>;
  readonly stock: Map<string, { on_hand: number; committed: number }>;
  /** Ships an order (optionally fewer units per SKU: a partial shipment) and sends `order_shipped`. */
  ship(referenceId: string, opts?: SendOptions & { shipped?: Record<string, number> }): Promise<number[]>;
  /** The signed webhook it would send for a topic (for tests posting themselves). */
  webhook(topic: string, data: unknown): OutgoingWebhook;
  /** Sends `inventory_updated` with the current stock. */
  pushInventory(opts?: SendOptions): Promise<number[]>;
  send(batch: OutgoingWebhook[], opts?: SendOptions): Promise<number[]>;
}

export function createWmsSim(o: SimOptions & { token?: string; knownSkus?: string[]; stock?: Record<string, number> } = {}): WmsSim {
  const effects = new Effects();
  const run = runFaults(o);
  const now = o.now ?? (() => new Date());
  const newId = idMaker(o.random);
  const orders = new Map<number, SimOrder>();
  const returns = new Map<string, { id: number; reference_id: string }>();
  const initialStock = new Map(Object.entries(o.stock ?? { FURN_7800: 40, FURN_0269: 25 }));
  const stock = new Map<string, { on_hand: number; committed: number }>([...initialStock].map(([k, v]) => [k, { on_hand: v, committed: 0 }]));
  let seq = 100_000;
  const app = new Hono();

  controlRoutes(app, run, effects);
  app.post('/_control/ship', async (c) => {
    const b = (await c.req.json().catch(() => ({}))) as { reference_id?: string; shipped?: Record<string, number> } & SendOptions;
    if (!b.reference_id) return c.json({ error: 'reference_id required' }, 400);
    return c.json({ statuses: await sim.ship(b.reference_id, b) });
  });
  app.post('/_control/inventory', async (c) => c.json({ statuses: await sim.pushInventory((await c.req.json().catch(() => ({}))) as SendOptions) }));

  app.use('*', faultInjection(run, {
    invalid: () => ({ status: 400, body: { title: 'One or more validation errors occurred.', errors: { 'recipient.address.address1': ['The Address1 field is required.'] } } }),
    refuse: () => ({ status: 422, body: { products: ['Product with reference_id FURN_0269 not found'] } }),
  }));
  app.use('*', async (c, next) => {
    if (new URL(c.req.url).pathname.includes('/_control')) return next();
    const auth = c.req.header('authorization') ?? '';
    if (!auth.startsWith('Bearer ') || (o.token && auth.slice(7) !== o.token)) return c.json({ title: 'Unauthorized' }, 401);
    await next();
  });

  app.post('/order', async (c) => {
    const b = (await c.req.json().catch(() => null)) as Partial<SimOrder> | null;
    if (!b?.reference_id || !Array.isArray(b.products) || !b.products.length) return c.json({ title: 'One or more validation errors occurred.', errors: { reference_id: ['The reference_id field is required.'] } }, 400);
    const addr = (b.recipient as { address?: Record<string, unknown> } | undefined)?.address;
    if (!addr?.address1 || !addr.city || !addr.country) return c.json({ title: 'One or more validation errors occurred.', errors: { 'recipient.address': ['address1, city and country are required.'] } }, 400);
    const existing = [...orders.values()].find((x) => x.reference_id === b.reference_id);
    // Contract 1: a repeated reference_id is refused, naming the order that has it.
    if (existing) return c.json({ title: 'Conflict', detail: `Order with reference_id ${b.reference_id} already exists`, existing_order_id: existing.id }, 409);
    const unknown = b.products.find((p) => o.knownSkus ? !o.knownSkus.includes(p.reference_id) : !stock.has(p.reference_id));
    if (unknown) return c.json({ products: [`Product with reference_id ${unknown.reference_id} not found`] }, 422);
    const order: SimOrder = {
      id: ++seq, reference_id: b.reference_id, order_number: b.order_number, status: 'Processing', created_date: now().toISOString(),
      recipient: b.recipient ?? {}, products: b.products.map((p) => ({ ...p, quantity: Number(p.quantity) })), shipping_method: b.shipping_method ?? 'Standard',
      tags: b.tags ?? [], shipments: [{ id: seq * 10, status: 'Processing' }], last_update_date: now().toISOString(),
    };
    orders.set(order.id, order);
    for (const p of order.products) { const s = stock.get(p.reference_id); if (s) s.committed += p.quantity; }
    effects.add('order_released');
    if (o.autoProgressMs) setTimeout(() => void sim.ship(order.reference_id), o.autoProgressMs).unref?.();
    return c.json(order, 201);
  });
  app.get('/order', (c) => {
    const refs = (c.req.query('ReferenceIds') ?? '').split(',').filter(Boolean);
    const since = c.req.query('LastUpdateStartDate');
    return c.json([...orders.values()].filter((x) => (!refs.length || refs.includes(x.reference_id)) && (!since || x.last_update_date >= new Date(since).toISOString())));
  });
  app.get('/order/:id', (c) => {
    const x = orders.get(Number(c.req.param('id')));
    return x ? c.json(x) : c.json({ title: 'Not Found' }, 404);
  });
  // Contract 3.
  app.post('/order/:id/cancel', (c) => {
    const x = orders.get(Number(c.req.param('id')));
    if (!x) return c.json({ title: 'Not Found' }, 404);
    if (x.status === 'Fulfilled') {
      return c.json({ order: x, canceled_shipment_results: x.shipments.map((s) => ({ action: 'Cancel', is_success: false, reason: 'Shipment already shipped', shipment_id: s.id })) });
    }
    if (x.status !== 'Cancelled') {
      x.status = 'Cancelled';
      for (const p of x.products) { const s = stock.get(p.reference_id); if (s) s.committed -= p.quantity; }
      effects.add('order_cancelled');
    }
    return c.json({ order: x, canceled_shipment_results: x.shipments.map((s) => ({ action: 'Cancel', is_success: true, reason: null, shipment_id: s.id })) });
  });
  app.post('/return', async (c) => {
    const b = (await c.req.json().catch(() => null)) as { reference_id?: string } | null;
    if (!b?.reference_id) return c.json({ errors: { reference_id: ['The reference_id field is required.'] } }, 400);
    // Contract 4.
    if (returns.has(b.reference_id)) return c.json({ title: 'Conflict', detail: `Return with reference_id ${b.reference_id} already exists`, existing_return_id: returns.get(b.reference_id)!.id }, 409);
    const r = { id: ++seq, reference_id: b.reference_id, status: 'AwaitingArrival' };
    returns.set(b.reference_id, r);
    effects.add('return_expected');
    return c.json(r, 201);
  });
  app.get('/return', (c) => {
    const refs = (c.req.query('ReferenceIds') ?? '').split(',').filter(Boolean);
    return c.json([...returns.values()].filter((r) => !refs.length || refs.includes(r.reference_id)));
  });
  app.get('/inventory', (c) => c.json(inventory()));

  function inventory() {
    return [...stock.entries()].map(([sku, s], i) => ({ id: i + 1, reference_id: sku, name: sku, total_on_hand_quantity: s.on_hand, total_fulfillable_quantity: Math.max(0, s.on_hand - s.committed) }));
  }

  function webhook(topic: string, data: unknown): OutgoingWebhook {
    const body = JSON.stringify({ topic, occurred_at: now().toISOString(), data });
    const id = newId('msg_', 26);
    return { body, headers: standardWebhookHeaders([o.webhookSecret ?? 'whsec_'], id, Math.floor(now().getTime() / 1000), body) };
  }

  async function send(batch: OutgoingWebhook[], opts: SendOptions = {}) {
    if (!o.webhookUrl) throw new Error('wms sim: no webhookUrl configured');
    const res = await sendWebhooks(o.fetch ?? fetch, urlOf(o.webhookUrl), batch, opts);
    effects.add('webhook_sent', res.length);
    return res;
  }

  const sim: WmsSim = {
    kind: 'wms', app, effects, run, orders, stock, webhook, send,
    async ship(referenceId, opts = {}) {
      const x = [...orders.values()].find((r) => r.reference_id === referenceId);
      if (!x) throw new Error(`wms sim: no order ${referenceId}`);
      const products = x.products.map((p) => ({ reference_id: p.reference_id, quantity: opts.shipped?.[p.reference_id] ?? p.quantity }));
      if (x.status !== 'Fulfilled') {
        x.status = 'Fulfilled';
        for (const p of products) {
          const s = stock.get(p.reference_id);
          if (!s) continue;
          s.on_hand -= p.quantity;
          s.committed -= x.products.find((q) => q.reference_id === p.reference_id)!.quantity;
          // A warehouse never holds less than nothing: when a long demo runs a SKU dry, the simulated
          // warehouse receives a replenishment (as a ShipBob warehouse receiving order would add stock),
          // back to its starting level, and counts it.
          if (s.on_hand < 0 || s.on_hand - s.committed < 0) {
            s.on_hand += initialStock.get(p.reference_id) ?? p.quantity;
            effects.add('stock_received');
          }
        }
        effects.add('order_shipped');
      }
      const tn = `1Z${x.id}${String(x.shipments[0].id).slice(-4)}`;
      x.shipments[0] = { id: x.shipments[0].id, status: 'Completed', tracking: { carrier: 'UPS', tracking_number: tn, tracking_url: `https://track.example.com/${tn}` }, products, actual_fulfillment_date: now().toISOString() };
      x.last_update_date = now().toISOString();
      const data = { ...x.shipments[0], order: { id: x.id, reference_id: x.reference_id, order_number: x.order_number, tags: x.tags, products: x.products } };
      return sim.send([webhook('order_shipped', data)], opts);
    },
    pushInventory(opts = {}) {
      return send([webhook('inventory_updated', { items: inventory() })], opts);
    },
  };
  return sim;
}
