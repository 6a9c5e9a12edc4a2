/**
 * Pure mapping for a Shippo-style carrier API: Shipment (addresses + parcels -> rates), Transaction
 * (buying a rate = the label), Refund, and track_updated webhooks. Shippo takes no idempotency key,
 * so our `aggregate|shipment_ref` rides in `metadata` and a retry first looks for a transaction
 * carrying it. Shapes: https://docs.goshippo.com/docs/Guides_general/generate_shipping_label ,
 * https://docs.goshippo.com/api-reference/transactions/create-a-shipping-label ,
 * https://docs.goshippo.com/docs/tracking/webhooks
 */
import type { Address, EventOf, Milestone } from '../../../../shared/src/index.ts';
import type { BusinessReason, InboundContext } from '../types.ts';
import { isoSeconds, milestone, obj, optStr, payloadOf, stableUuid, str, toIso, unknownShipment, units, type PayloadOf } from '../common.ts';

export interface ShippoRate { object_id: string; provider: string; servicelevel: { token: string; name?: string }; amount: string; currency: string }
export interface ShippoTransaction {
  object_id: string;
  status: 'WAITING' | 'QUEUED' | 'SUCCESS' | 'ERROR' | 'REFUNDED' | 'REFUNDPENDING' | 'REFUNDREJECTED';
  tracking_number?: string;
  tracking_url_provider?: string;
  label_url?: string;
  metadata?: string;
  rate?: string | ShippoRate;
  /** The parcel this label is for (one transaction per parcel of a multi-piece shipment). */
  parcel?: string;
  object_created?: string;
  messages?: { source?: string; code?: string; text?: string }[];
}

export function toAddress(a: Address, contact?: { name: string; email?: string; phone?: string }) {
  return {
    name: a.name ?? contact?.name ?? a.company ?? '', company: a.company, street1: a.street1, street2: a.street2, city: a.city,
    state: a.state, zip: a.postal_code, country: a.country, phone: contact?.phone, email: contact?.email,
  };
}

export function toParcels(parcels: PayloadOf<'shipment.requested'>['parcels']) {
  return parcels.map((p) => ({
    ...(p.dimensions
      ? { length: String(units.cm(p.dimensions.length, p.dimensions.unit)), width: String(units.cm(p.dimensions.width, p.dimensions.unit)), height: String(units.cm(p.dimensions.height, p.dimensions.unit)), distance_unit: 'cm' }
      : { length: '30', width: '20', height: '10', distance_unit: 'cm' }),
    weight: String(units.kg(p.weight.value, p.weight.unit)),
    mass_unit: 'kg',
  }));
}

/**
 * `metadata` (max 100 characters) that finds this shipment again and rebuilds its milestone:
 * `<aggregate>|<shipment ref>|<carrier>[/<service>]`. Shippo echoes it in track_updated webhooks.
 */
export function metadataFor(aggregate: string, ref: string, carrier?: { carrier: string; service?: string }): string {
  const c = carrier ? `|${carrier.carrier}${carrier.service ? `/${carrier.service}` : ''}` : '';
  return `${aggregate}|${ref}${c}`.slice(0, 100);
}

/** Reads metadataFor's fields back (carrier may be absent). */
export function parseMetadata(metadata: string | undefined): { aggregate: string; shipment_ref: string; carrier?: string; service?: string } | undefined {
  const [aggregate, shipmentRef, carrier] = (metadata ?? '').split('|');
  if (!aggregate || !shipmentRef) return undefined;
  const [c, service] = (carrier ?? '').split('/');
  return { aggregate, shipment_ref: shipmentRef, ...(c ? { carrier: c } : {}), ...(service ? { service } : {}) };
}

export function shipmentRequest(e: EventOf<'shipment.requested'>) {
  const p = payloadOf(e);
  return {
    address_from: toAddress(p.ship_from),
    address_to: toAddress(p.ship_to, p.contact),
    parcels: toParcels(p.parcels),
    metadata: metadataFor(e.aggregate, p.shipment_ref, p.carrier),
    async: false,
  };
}

export function returnShipmentRequest(e: EventOf<'return.requested'>) {
  const p = payloadOf(e);
  return {
    address_from: toAddress(p.return_to),
    address_to: toAddress(p.return_from, p.contact),
    parcels: [{ length: '30', width: '20', height: '10', distance_unit: 'cm', weight: '1', mass_unit: 'kg' }],
    extra: { is_return: true },
    metadata: metadataFor(e.aggregate, p.return_ref, p.carrier),
    async: false,
  };
}

export function selectRate(rates: ShippoRate[] | undefined, service: string | undefined, serviceMap: Record<string, string>): ShippoRate | undefined {
  if (!rates?.length) return undefined;
  const token = service ? serviceMap[service] : undefined;
  const c = token ? rates.filter((r) => r.servicelevel?.token === token) : rates;
  return [...c].sort((a, b) => Number(a.amount) - Number(b.amount))[0];
}

/**
 * One parcel's `label.created`. Its id comes from our shipment and Shippo's transaction id: a retry
 * adopts the transaction an earlier attempt bought, so it yields the same id (and findShipment,
 * which has no idempotency key to go by, rebuilds the same milestone).
 */
export function labelMilestone(t: ShippoTransaction, rate: ShippoRate | undefined, link: { aggregate: string; event_id?: string; shipment_ref: string; carrier: string; service?: string }, partnerId: string, now: Date, parcel: { index: number; count: number } = { index: 1, count: 1 }): Milestone {
  return milestone('label.created', {
    id: stableUuid(partnerId, link.aggregate, link.shipment_ref, 'label.created', t.object_id),
    occurred_at: isoSeconds(now), partner: partnerId, partner_ref: t.object_id, aggregate: link.aggregate, event_id: link.event_id,
  }, {
    shipment_ref: link.shipment_ref,
    carrier: link.carrier,
    ...(link.service ? { service: link.service } : {}),
    tracking_number: str(t.tracking_number, 'transaction.tracking_number'),
    ...(t.tracking_url_provider ? { tracking_url: t.tracking_url_provider } : {}),
    label: { format: /\.png(\?|$)/i.test(t.label_url ?? '') ? 'PNG' : 'PDF', url: str(t.label_url, 'transaction.label_url') },
    ...(rate ? { cost: { amount: Number(rate.amount), currency: rate.currency } } : {}),
    ...(parcel.count > 1 ? { parcel } : {}),
  });
}

/** Shippo's 400 bodies are `{ field: ["message"] }` or `{ detail }`; a transaction in ERROR carries `messages`. */
export function errorReason(status: number, body: unknown): { message: string; reason?: BusinessReason } {
  let message = `HTTP ${status}`;
  if (body && typeof body === 'object') {
    const b = body as Record<string, unknown>;
    if (typeof b.detail === 'string') message = b.detail;
    else {
      const parts = Object.entries(b).filter(([, v]) => Array.isArray(v)).map(([k, v]) => `${k}: ${(v as unknown[]).map((x) => (typeof x === 'string' ? x : JSON.stringify(x))).join(', ')}`);
      if (parts.length) message = parts.join('; ');
    }
  }
  if (status === 404) return { message, reason: 'not_found' };
  if (/address/i.test(message)) return { message, reason: 'invalid_address' };
  return { message, reason: 'invalid_request' };
}

export function transactionFailure(t: ShippoTransaction): { message: string; reason: BusinessReason } {
  const text = (t.messages ?? []).map((m) => [m.source, m.code, m.text].filter(Boolean).join(' ')).join('; ') || 'label purchase failed';
  return { message: text, reason: /address/i.test(text) ? 'invalid_address' : 'refused_by_partner' };
}

const STATUS: Record<string, Milestone['type'] | undefined> = {
  TRANSIT: 'shipment.in_transit',
  DELIVERED: 'shipment.delivered',
  RETURNED: 'shipment.returned',
  FAILURE: 'shipment.exception',
};

/** Maps a Shippo `track_updated` webhook to canonical milestones. */
export function trackToMilestones(body: unknown, ctx: InboundContext): Milestone[] {
  const b = obj(body, '$');
  if (b.event !== 'track_updated') return [];
  const d = obj(b.data, 'data');
  const trackingNumber = str(d.tracking_number, 'data.tracking_number');
  const ts = obj(d.tracking_status, 'data.tracking_status');
  const status = str(ts.status, 'data.tracking_status.status');
  const substatus = (ts.substatus && typeof ts.substatus === 'object' ? ts.substatus : {}) as { code?: string };
  let type = STATUS[status];
  if (status === 'TRANSIT' && substatus.code === 'out_for_delivery') type = 'shipment.out_for_delivery';
  if (!type) return [];
  const meta = parseMetadata(optStr(d.metadata, 'data.metadata'));
  const link = meta ? { aggregate: meta.aggregate, shipment_ref: meta.shipment_ref, event_id: undefined } : ctx.resolve({ tracking_number: trackingNumber });
  if (!link) throw unknownShipment('data.metadata', `tracking ${trackingNumber} carries no bridge metadata and is not known`);
  const occurredAt = toIso(ts.status_date, ctx.receivedAt);
  const loc = (ts.location && typeof ts.location === 'object' ? ts.location : undefined) as Record<string, unknown> | undefined;
  const location = loc ? [loc.city, loc.state, loc.country].filter((x) => typeof x === 'string' && x).join(', ') || undefined : undefined;
  const message = optStr(ts.status_details, 'data.tracking_status.status_details');
  const base = { occurred_at: occurredAt, partner: ctx.partnerId, aggregate: link.aggregate, event_id: link.event_id };
  const st = { shipment_ref: link.shipment_ref, tracking_number: trackingNumber, ...(location ? { location } : {}), ...(message ? { message } : {}) };
  const id = stableUuid(ctx.partnerId, trackingNumber, type, occurredAt);
  if (type === 'shipment.exception') return [milestone('shipment.exception', { ...base, id }, { ...st, reason_class: 'carrier_delay', reason: message ?? 'carrier reported a failure' })];
  return [milestone(type as 'shipment.in_transit', { ...base, id }, st)];
}
