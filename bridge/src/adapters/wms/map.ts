/**
 * Pure mapping between canonical objects and a ShipBob-style WMS (orders, shipments, inventory,
 * returns), with the field mapping configurable per partner:
 *   options.field_map       partner order field path -> canonical source ("a.b", "a|b" fallback, "=literal")
 *   options.line_field_map  the same for each product line
 *   options.sku_map         Odoo SKU -> partner SKU (reversed for what comes back)
 *   options.shipping_method_map  "carrier/service" or "carrier" -> partner shipping method
 * Shapes after https://developer.shipbob.com/guides/build-orders-integration and
 * https://developer.shipbob.com/api/orders/create-order
 */
import type { EventOf, Milestone } from '../../../../shared/src/index.ts';
import type { BusinessReason, InboundContext } from '../types.ts';
import { badPayload, unknownShipment, milestone, obj, optStr, payloadOf, stableUuid, str, toIso, type PayloadOf } from '../common.ts';

export type FieldMap = Record<string, string>;

export interface WmsOptions {
  /** The Odoo warehouse code this WMS serves (inventory milestones, ownership). */
  warehouse: string;
  field_map?: FieldMap;
  line_field_map?: FieldMap;
  sku_map?: Record<string, string>;
  shipping_method_map?: Record<string, string>;
  default_shipping_method?: string;
  /** Unit of measure for quantities that come back (the WMS counts units). */
  uom?: string;
}

/** Order fields by default; a partner's `field_map` overrides or adds entries. */
export const DEFAULT_ORDER_FIELDS: FieldMap = {
  reference_id: 'picking_ref',
  order_number: 'order_ref',
  'recipient.name': 'ship_to.name|contact.name',
  'recipient.email': 'contact.email',
  'recipient.phone_number': 'contact.phone',
  'recipient.address.company_name': 'ship_to.company',
  'recipient.address.address1': 'ship_to.street1',
  'recipient.address.address2': 'ship_to.street2',
  'recipient.address.city': 'ship_to.city',
  'recipient.address.state': 'ship_to.state',
  'recipient.address.zip_code': 'ship_to.postal_code',
  'recipient.address.country': 'ship_to.country',
  type: '=DTC',
};
export const DEFAULT_LINE_FIELDS: FieldMap = {
  external_line_id: 'line_id',
  reference_id: 'sku',
  name: 'description|sku',
  quantity: 'quantity.value',
};

function read(source: unknown, expr: string): unknown {
  if (expr.startsWith('=')) return expr.slice(1);
  for (const alt of expr.split('|')) {
    let cur: unknown = source;
    for (const k of alt.split('.')) cur = cur && typeof cur === 'object' ? (cur as Record<string, unknown>)[k] : undefined;
    if (cur !== undefined && cur !== null && cur !== '') return cur;
  }
  return undefined;
}
function write(target: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let cur = target;
  for (const k of keys.slice(0, -1)) cur = (cur[k] ??= {}) as Record<string, unknown>;
  cur[keys.at(-1)!] = value;
}
/** Builds a partner object from a canonical one by a field map (absent sources are left out). */
export function applyFieldMap(source: unknown, map: FieldMap): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [target, expr] of Object.entries(map)) {
    const value = read(source, expr);
    if (value !== undefined) write(out, target, value);
  }
  return out;
}

export function shippingMethod(carrier: { carrier: string; service?: string } | undefined, o: WmsOptions): string {
  const m = o.shipping_method_map ?? {};
  return (carrier && (m[`${carrier.carrier}/${carrier.service ?? ''}`] ?? m[carrier.carrier])) ?? o.default_shipping_method ?? 'Standard';
}

export function orderRequest(e: EventOf<'order.released'>, o: WmsOptions): Record<string, unknown> {
  const p = payloadOf(e);
  const order = applyFieldMap(p, { ...DEFAULT_ORDER_FIELDS, ...o.field_map });
  order.shipping_method = shippingMethod(p.carrier, o);
  order.products = p.lines.map((l) => {
    const line = applyFieldMap({ ...l, sku: o.sku_map?.[l.sku] ?? l.sku }, { ...DEFAULT_LINE_FIELDS, ...o.line_field_map });
    return line;
  });
  // Our aggregate and event travel as tags so confirmations can be tied back without a lookup.
  order.tags = [
    { name: 'odoo_aggregate', value: e.aggregate },
    { name: 'odoo_event', value: e.id },
    ...(p.fulfilment.backorder_of ? [{ name: 'backorder_of', value: p.fulfilment.backorder_of }] : []),
  ];
  return order;
}

export function returnRequest(e: EventOf<'return.requested'>, o: WmsOptions): Record<string, unknown> {
  const p = payloadOf(e);
  return {
    reference_id: p.return_ref,
    original_shipment_reference: p.origin_shipment_ref ?? p.order_ref,
    tracking_number: null,
    inventory: p.lines.map((l) => ({ reference_id: o.sku_map?.[l.sku] ?? l.sku, quantity: l.quantity.value, requested_action: 'Default' })),
    tags: [{ name: 'odoo_aggregate', value: e.aggregate }],
  };
}

export interface WmsOrder { id: number | string; reference_id: string; status?: string; tags?: { name: string; value: string }[] }

export function acceptedMilestone(order: WmsOrder, e: EventOf<'order.released'>, partnerId: string, now: Date): Milestone {
  const p = payloadOf(e);
  return milestone('order.accepted', {
    id: stableUuid(partnerId, e.id, 'order.accepted'),
    occurred_at: toIso(undefined, now),
    partner: partnerId,
    partner_ref: String(order.id),
    aggregate: e.aggregate,
    event_id: e.id,
  }, { order_ref: p.order_ref, picking_ref: p.picking_ref, warehouse: p.warehouse, partner_order_ref: String(order.id) });
}

/** ShipBob answers validation errors as `{ "<field>": ["message", ...] }` or `{ title, detail, errors }`. */
export function errorReason(status: number, body: unknown): { message: string; reason?: BusinessReason; kind?: 'permanent' } {
  let message = `HTTP ${status}`;
  if (body && typeof body === 'object') {
    const b = body as Record<string, unknown>;
    if (typeof b.title === 'string' || typeof b.detail === 'string') message = [b.title, b.detail].filter(Boolean).join(': ');
    const errs = (b.errors && typeof b.errors === 'object' ? b.errors : b) as Record<string, unknown>;
    const parts = Object.entries(errs).filter(([, v]) => Array.isArray(v)).map(([k, v]) => `${k}: ${(v as unknown[]).join(', ')}`);
    if (parts.length) message = parts.join('; ');
  } else if (typeof body === 'string' && body) message = body.slice(0, 300);
  if (status === 404) return { message, reason: 'not_found' };
  // The contract's duplicate refusal is an answer, not a conflict to retry: the adapter adopts the existing order.
  if (status === 409 && isDuplicateReference(status, message)) return { message, reason: 'refused_by_partner', kind: 'permanent' };
  if (/sku|product|reference_id.*not (found|exist)/i.test(message) && !/already exists/i.test(message)) return { message, reason: 'unknown_sku' };
  if (/address|zip|country/i.test(message)) return { message, reason: 'invalid_address' };
  if (/already (shipped|fulfilled)|cannot cancel|allocat/i.test(message)) return { message, reason: 'allocation_conflict' };
  return { message, reason: status === 422 ? 'refused_by_partner' : 'invalid_request' };
}

export function isDuplicateReference(status: number | undefined, message: string): boolean {
  return (status === 422 || status === 409) && /already exists|duplicate/i.test(message);
}

// ---- Inbound: webhooks and polled inventory -----------------------------------------------------

export interface InventoryItem { reference_id?: string; sku?: string; total_on_hand_quantity?: number; total_fulfillable_quantity?: number }

export function inventoryMilestones(items: InventoryItem[], o: WmsOptions, partnerId: string, at: string, path = 'data'): Milestone[] {
  const reverse = Object.fromEntries(Object.entries(o.sku_map ?? {}).map(([odoo, partner]) => [partner, odoo]));
  const uom = o.uom ?? 'Units';
  return items.map((it, i) => {
    const partnerSku = str(it.reference_id ?? it.sku, `${path}[${i}].reference_id`);
    const onHand = Number(it.total_on_hand_quantity);
    const available = Number(it.total_fulfillable_quantity ?? it.total_on_hand_quantity);
    if (!Number.isFinite(onHand) || onHand < 0) throw badPayload(`${path}[${i}].total_on_hand_quantity`, 'must be a number >= 0');
    if (!Number.isFinite(available) || available < 0) throw badPayload(`${path}[${i}].total_fulfillable_quantity`, 'must be a number >= 0');
    const sku = reverse[partnerSku] ?? partnerSku;
    return milestone('inventory.level', {
      id: stableUuid(partnerId, 'inventory', sku, at),
      occurred_at: at,
      partner: partnerId,
      aggregate: `inventory:${o.warehouse}`,
    }, { sku, warehouse: o.warehouse, on_hand: { value: onHand, uom }, available: { value: available, uom } });
  });
}

const TOPIC: Record<string, Milestone['type'] | 'inventory'> = {
  order_shipped: 'shipment.dispatched',
  shipment_delivered: 'shipment.delivered',
  shipment_exception: 'shipment.exception',
  inventory_updated: 'inventory',
};

/** A polled order (GET /order) as the `order_shipped` webhook body it is equivalent to, or undefined while not shipped. */
export function shippedOrderAsWebhook(order: Record<string, unknown>): { topic: string; occurred_at?: unknown; data: unknown } | undefined {
  const shipments = Array.isArray(order.shipments) ? (order.shipments as Record<string, unknown>[]) : [];
  const done = shipments.find((s) => s && (s.status === 'Completed' || s.status === 'Shipped') && s.tracking);
  if (!done) return undefined;
  const { shipments: _omit, ...orderFields } = order;
  return { topic: 'order_shipped', occurred_at: done.actual_fulfillment_date, data: { ...done, order: orderFields } };
}

/** Maps a WMS webhook (`{ topic, data }`) to canonical milestones. */
export function webhookToMilestones(body: unknown, ctx: InboundContext, o: WmsOptions): Milestone[] {
  const b = obj(body, '$');
  const topic = str(b.topic, 'topic');
  const kind = TOPIC[topic];
  if (!kind) return [];
  const at = toIso(b.occurred_at ?? b.created_at, ctx.receivedAt);
  if (kind === 'inventory') {
    const items = (b.data as { items?: unknown })?.items;
    if (!Array.isArray(items)) throw badPayload('data.items', 'must be an array');
    return inventoryMilestones(items as InventoryItem[], o, ctx.partnerId, at, 'data.items');
  }
  const s = obj(b.data, 'data');
  const order = obj(s.order, 'data.order');
  const pickingRef = str(order.reference_id, 'data.order.reference_id');
  const tags = Array.isArray(order.tags) ? (order.tags as { name?: string; value?: string }[]) : [];
  const tag = (n: string) => tags.find((t) => t?.name === n)?.value;
  const tracking = (s.tracking ?? {}) as Record<string, unknown>;
  const trackingNumber = optStr(tracking.tracking_number, 'data.tracking.tracking_number');
  const partnerRef = s.id !== undefined ? String(s.id) : undefined;
  const aggregate = tag('odoo_aggregate') ?? ctx.resolve({ partner_ref: order.id !== undefined ? String(order.id) : undefined, tracking_number: trackingNumber })?.aggregate;
  if (!aggregate) throw unknownShipment('data.order.tags', `order ${pickingRef} carries no odoo_aggregate tag and is not known`);
  const base = { occurred_at: at, partner: ctx.partnerId, partner_ref: partnerRef, aggregate, event_id: tag('odoo_event') };
  // One dispatch and one delivery per WMS shipment: the same fact polled or re-sent keeps its id.
  const id = (t: string) => stableUuid(ctx.partnerId, pickingRef, partnerRef ?? '', t, t === 'exception' ? at : '');
  const status = { shipment_ref: pickingRef, ...(trackingNumber ? { tracking_number: trackingNumber } : {}) };
  if (kind === 'shipment.dispatched') {
    const ordered = Array.isArray(order.products) ? (order.products as Record<string, unknown>[]) : [];
    const shipped = Array.isArray(s.products) ? (s.products as Record<string, unknown>[]) : [];
    const reverse = Object.fromEntries(Object.entries(o.sku_map ?? {}).map(([odoo, partner]) => [partner, odoo]));
    const uom = o.uom ?? 'Units';
    const lines: PayloadOf<'order.released'>['lines'] = ordered.map((op, i) => {
      const partnerSku = str(op.reference_id, `data.order.products[${i}].reference_id`);
      const orderedQty = Number(op.quantity);
      if (!Number.isFinite(orderedQty) || orderedQty < 0) throw badPayload(`data.order.products[${i}].quantity`, 'must be a number >= 0');
      const sp = shipped.find((x) => x.reference_id === partnerSku);
      const shippedQty = sp ? Number(sp.quantity) : 0;
      if (!Number.isFinite(shippedQty) || shippedQty < 0) throw badPayload(`data.products[${shipped.indexOf(sp!)}].quantity`, 'must be a number >= 0');
      const back = Math.max(0, orderedQty - shippedQty);
      return {
        line_id: str(op.external_line_id !== undefined ? String(op.external_line_id) : undefined, `data.order.products[${i}].external_line_id`),
        sku: reverse[partnerSku] ?? partnerSku,
        quantity: { value: shippedQty, uom },
        ...(back > 0 ? { backorder_quantity: { value: back, uom } } : {}),
      };
    });
    return [milestone('shipment.dispatched', { ...base, id: id('dispatched') }, { ...status, lines })];
  }
  if (kind === 'shipment.exception') {
    return [milestone('shipment.exception', { ...base, id: id('exception') }, { ...status, reason_class: 'other', reason: optStr(s.status_details, 'data.status_details') ?? 'warehouse reported an exception' })];
  }
  return [milestone('shipment.delivered', { ...base, id: id('delivered') }, status)];
}
