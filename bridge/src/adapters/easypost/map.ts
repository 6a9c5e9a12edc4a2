/**
 * Pure mapping between canonical objects and EasyPost's payloads (Shipment, Rate, Tracker, Event).
 * Shapes: https://docs.easypost.com/docs/shipments , https://docs.easypost.com/docs/trackers ,
 * https://docs.easypost.com/docs/events
 */
import type { Address, EventOf, Milestone } from '../../../../shared/src/index.ts';
import type { BusinessReason, InboundContext } from '../types.ts';
import { badPayload, unknownShipment, isoSeconds, milestone, obj, optStr, payloadOf, stableUuid, str, toIso, units, type PayloadOf } from '../common.ts';

export interface EasyPostAddress {
  name?: string; company?: string; street1: string; street2?: string; city: string; state?: string; zip: string; country: string; phone?: string; email?: string;
}
export interface EasyPostParcel { length?: number; width?: number; height?: number; weight: number }
export interface EasyPostRate { id: string; carrier: string; service: string; rate: string; currency: string }
export interface EasyPostShipment {
  id: string;
  object?: 'Shipment';
  reference?: string;
  is_return?: boolean;
  rates?: EasyPostRate[];
  selected_rate?: EasyPostRate | null;
  postage_label?: { label_url?: string; label_file_type?: string; label_date?: string } | null;
  options?: { print_custom_2?: string } & Record<string, unknown>;
  tracking_code?: string | null;
  tracker?: { id: string; public_url?: string } | null;
  refund_status?: string | null;
}

/** Which EasyPost carrier/service to buy for an Odoo service code (options.service_map). */
export type ServiceMap = Record<string, { carrier?: string; service?: string }>;

export function toAddress(a: Address, contact?: { name: string; email?: string; phone?: string }): EasyPostAddress {
  return {
    name: a.name ?? contact?.name,
    company: a.company,
    street1: a.street1,
    street2: a.street2,
    city: a.city,
    state: a.state,
    zip: a.postal_code,
    country: a.country,
    phone: contact?.phone,
    email: contact?.email,
  };
}

/** EasyPost wants inches and ounces; one Parcel per Shipment (https://docs.easypost.com/docs/shipments, `parcel`). */
export function toParcel(p: PayloadOf<'shipment.requested'>['parcels'][number]): EasyPostParcel {
  return {
    ...(p.dimensions ? {
      length: units.inches(p.dimensions.length, p.dimensions.unit),
      width: units.inches(p.dimensions.width, p.dimensions.unit),
      height: units.inches(p.dimensions.height, p.dimensions.unit),
    } : {}),
    weight: units.oz(p.weight.value, p.weight.unit),
  };
}

/**
 * Several parcels are several EasyPost Shipments, one per parcel, each with its own `reference`:
 * `<shipment_ref>` for a single parcel (as before), `<shipment_ref>-<n>` for parcel n of several.
 * Why not an EasyPost Order (https://docs.easypost.com/docs/orders): its reference is also
 * documented as usable in place of its id, but "This endpoint only works with the following
 * carriers" (AustraliaPost, DHLExpress, DPD, DPDUK, Fastway, FedEx, UPS, Purolator, LoomisExpress),
 * not USPS; a Shipment per parcel works for every carrier and each one is found again by its own
 * reference ("may be used in place of id", https://docs.easypost.com/docs/shipments). The cost: the
 * carrier sees separate shipments, not one multi-piece shipment.
 */
export function parcelReference(shipmentRef: string, index: number, count: number): string {
  return count === 1 ? shipmentRef : `${shipmentRef}-${index}`;
}

/** The label line "Parcel n of count" (a documented shipment option, printed on the label) for several parcels. */
export const parcelLine = (index: number, count: number) => `Parcel ${index} of ${count}`;

/** The create request for parcel `index` (0-based) of a shipment. */
export function shipmentRequest(e: EventOf<'shipment.requested'>, index = 0) {
  const p = payloadOf(e);
  const count = p.parcels.length;
  return {
    shipment: {
      reference: parcelReference(p.shipment_ref, index + 1, count),
      to_address: toAddress(p.ship_to, p.contact),
      from_address: toAddress(p.ship_from),
      parcel: toParcel(p.parcels[index]),
      options: { label_format: 'PDF', print_custom_1: p.order_ref, ...(count > 1 ? { print_custom_2: parcelLine(index + 1, count) } : {}) },
    },
  };
}

export function returnRequest(e: EventOf<'return.requested'>, parcelWeightOz = 16) {
  const p = payloadOf(e);
  // EasyPost return labels: the original addresses with is_return true (it swaps them itself).
  return {
    shipment: {
      reference: p.return_ref,
      is_return: true,
      to_address: toAddress(p.return_from, p.contact),
      from_address: toAddress(p.return_to),
      parcel: { weight: parcelWeightOz },
      options: { label_format: 'PDF', print_custom_1: p.order_ref },
    },
  };
}

/** The rate to buy: the mapped carrier/service when configured, else the cheapest. */
export function selectRate(rates: EasyPostRate[] | undefined, service: string | undefined, map: ServiceMap): EasyPostRate | undefined {
  if (!rates?.length) return undefined;
  const want = service ? map[service] : undefined;
  const candidates = want
    ? rates.filter((r) => (!want.carrier || r.carrier === want.carrier) && (!want.service || r.service === want.service))
    : rates;
  return [...candidates].sort((a, b) => Number(a.rate) - Number(b.rate))[0];
}

const LABEL_FORMAT: Record<string, 'PDF' | 'PNG' | 'ZPL' | 'EPL2'> = {
  'application/pdf': 'PDF', pdf: 'PDF', 'image/png': 'PNG', png: 'PNG', 'application/zpl': 'ZPL', zpl: 'ZPL', 'application/epl2': 'EPL2', epl2: 'EPL2',
};

/**
 * The `label.created` milestone for a bought shipment (one per parcel). Its id comes from the
 * partner id, the step's idempotency key and the parcel index, so a retry that adopts what an
 * earlier attempt bought yields the same ids; a single parcel keeps the id it always had.
 */
export function labelMilestone(
  s: EasyPostShipment,
  link: { shipment_ref: string; aggregate: string; event_id: string; carrier: string; service?: string },
  partnerId: string,
  now: Date,
  idempotencyKey: string,
  parcel: { index: number; count: number } = { index: 1, count: 1 },
): Milestone {
  if (!s.tracking_code || !s.postage_label?.label_url) throw badPayload('shipment.postage_label', 'bought shipment has no label or tracking code');
  const rate = s.selected_rate ?? undefined;
  const several = parcel.count > 1;
  return milestone('label.created', {
    id: several ? stableUuid(partnerId, idempotencyKey, 'label.created', String(parcel.index)) : stableUuid(partnerId, idempotencyKey, 'label.created'),
    occurred_at: isoSeconds(now),
    partner: partnerId,
    partner_ref: s.id,
    aggregate: link.aggregate,
    event_id: link.event_id,
  }, {
    shipment_ref: link.shipment_ref,
    carrier: link.carrier,
    ...(link.service ? { service: link.service } : {}),
    tracking_number: s.tracking_code,
    ...(s.tracker?.public_url ? { tracking_url: s.tracker.public_url } : {}),
    label: { format: LABEL_FORMAT[(s.postage_label.label_file_type ?? 'pdf').toLowerCase()] ?? 'PDF', url: s.postage_label.label_url },
    ...(rate ? { cost: { amount: Number(rate.rate), currency: rate.currency } } : {}),
    ...(several ? { parcel } : {}),
  });
}

/** Sorts EasyPost's `error.code` into a business reason. */
export function errorReason(status: number, body: unknown): { message: string; reason?: BusinessReason } {
  const err = (body as { error?: { code?: string; message?: string; errors?: { field?: string; message?: string }[] } })?.error;
  const detail = err?.errors?.map((e) => `${e.field ?? ''} ${e.message ?? ''}`.trim()).join('; ');
  const message = [err?.code, err?.message, detail].filter(Boolean).join(': ') || `HTTP ${status}`;
  const code = err?.code ?? '';
  if (status === 404) return { message, reason: 'not_found' };
  if (code.startsWith('ADDRESS.')) return { message, reason: 'invalid_address' };
  if (code.startsWith('SHIPMENT.') || status === 422) return { message, reason: 'refused_by_partner' };
  return { message, reason: 'invalid_request' };
}

// ---- Inbound: Event objects carrying a Tracker -------------------------------------------------

const TRACKER_STATUS: Record<string, Milestone['type'] | undefined> = {
  pre_transit: undefined,
  in_transit: 'shipment.in_transit',
  out_for_delivery: 'shipment.out_for_delivery',
  delivered: 'shipment.delivered',
  available_for_pickup: 'shipment.in_transit',
  return_to_sender: 'shipment.returned',
  failure: 'shipment.exception',
  error: 'shipment.exception',
};

/** Maps an EasyPost Event (tracker.updated / tracker.created) to canonical milestones. */
export function trackerEventToMilestones(body: unknown, ctx: InboundContext): Milestone[] {
  const event = obj(body, '$');
  const description = str(event.description, 'description');
  if (!description.startsWith('tracker.')) return [];
  const t = obj(event.result, 'result');
  const trackingCode = str(t.tracking_code, 'result.tracking_code');
  const status = str(t.status, 'result.status');
  const shipmentId = optStr(t.shipment_id, 'result.shipment_id');
  const type = TRACKER_STATUS[status];
  if (!type) return [];
  const link = ctx.resolve({ tracking_number: trackingCode, partner_ref: shipmentId });
  if (!link) throw unknownShipment('result.tracking_code', `tracking code ${trackingCode} belongs to no known shipment`);
  const details = Array.isArray(t.tracking_details) ? (t.tracking_details as Record<string, unknown>[]) : [];
  const last = [...details].reverse().find((d) => d?.status === status) ?? details.at(-1);
  const occurredAt = toIso(last?.datetime ?? t.updated_at, ctx.receivedAt);
  const loc = last?.tracking_location as Record<string, unknown> | undefined;
  const location = loc ? [loc.city, loc.state, loc.country].filter((x) => typeof x === 'string' && x).join(', ') || undefined : undefined;
  const message = (typeof last?.message === 'string' && last.message) || (typeof t.status_detail === 'string' ? t.status_detail : undefined) || undefined;
  const base = {
    occurred_at: occurredAt,
    partner: ctx.partnerId,
    partner_ref: shipmentId ?? (typeof t.id === 'string' ? t.id : undefined),
    aggregate: link.aggregate,
    event_id: link.event_id,
  };
  const status_ = { shipment_ref: link.shipment_ref, tracking_number: trackingCode, ...(location ? { location } : {}), ...(message ? { message } : {}) };
  const id = (kind: string) => stableUuid(ctx.partnerId, trackingCode, kind, occurredAt);
  const out: Milestone[] = [];
  if (type === 'shipment.exception') {
    out.push(milestone('shipment.exception', { ...base, id: id(type) }, { ...status_, reason_class: 'carrier_delay', reason: message ?? `carrier reported ${status}` }));
  } else {
    out.push(milestone(type as 'shipment.in_transit', { ...base, id: id(type) }, status_));
  }
  if (type === 'shipment.delivered' && typeof t.signed_by === 'string' && t.signed_by) {
    out.push(milestone('shipment.proof_of_delivery', { ...base, id: id('pod') }, { shipment_ref: link.shipment_ref, signer: t.signed_by, signed_at: occurredAt }));
  }
  return out;
}
