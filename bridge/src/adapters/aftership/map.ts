/**
 * Pure mapping for an AfterShip-style tracking platform: a `label.created` milestone becomes a
 * tracking (our references travel in `custom_fields` and come back in every webhook); webhook
 * `msg.tag` values become canonical shipment milestones.
 * Shapes: https://www.aftership.com/docs/tracking/quickstart/api-quick-start (create tracking),
 * https://www.aftership.com/docs/tracking/webhook/webhook-payload , tags:
 * https://www.aftership.com/docs/tracking/enum/delivery-statuses
 */
import type { Milestone } from '../../../../shared/src/index.ts';
import type { BusinessReason, InboundContext } from '../types.ts';
import { milestone, obj, optStr, stableUuid, str, toIso, unknownShipment, type MilestonePayloadOf } from '../common.ts';

export function trackingRequest(m: Milestone, slugMap: Record<string, string>) {
  const p = m.payload as MilestonePayloadOf<'label.created'>;
  return {
    tracking_number: p.tracking_number,
    ...(slugMap[p.carrier] ? { slug: slugMap[p.carrier] } : {}),
    title: p.shipment_ref,
    order_id: p.shipment_ref,
    custom_fields: {
      odoo_aggregate: m.aggregate,
      odoo_shipment_ref: p.shipment_ref,
      ...(m.event_id ? { odoo_event: m.event_id } : {}),
    },
  };
}

/** AfterShip answers `{ meta: { code, message, type }, data }`; meta.code 4003 is "tracking already exists". */
export function errorReason(status: number, body: unknown): { message: string; reason?: BusinessReason } {
  const meta = (body as { meta?: { code?: number; message?: string; type?: string } })?.meta;
  const message = meta ? `${meta.code ?? status} ${meta.type ?? ''} ${meta.message ?? ''}`.replace(/\s+/g, ' ').trim() : `HTTP ${status}`;
  if (status === 404) return { message, reason: 'not_found' };
  return { message, reason: status === 422 ? 'refused_by_partner' : 'invalid_request' };
}
export const ALREADY_EXISTS = 4003;

const TAG: Record<string, Milestone['type'] | undefined> = {
  InTransit: 'shipment.in_transit',
  AvailableForPickup: 'shipment.in_transit',
  OutForDelivery: 'shipment.out_for_delivery',
  Delivered: 'shipment.delivered',
  AttemptFail: 'shipment.exception',
  Exception: 'shipment.exception',
};

/** Maps an AfterShip tracking webhook (`{ event, event_id, msg, ts }`) to canonical milestones. */
export function webhookToMilestones(body: unknown, ctx: InboundContext): Milestone[] {
  const b = obj(body, '$');
  const msg = obj(b.msg, 'msg');
  const trackingNumber = str(msg.tracking_number, 'msg.tracking_number');
  const tag = str(msg.tag, 'msg.tag');
  let type = TAG[tag];
  const subtag = optStr(msg.subtag, 'msg.subtag');
  // Exception_011: returned to sender.
  if (tag === 'Exception' && subtag === 'Exception_011') type = 'shipment.returned';
  if (!type) return [];
  const cf = (msg.custom_fields && typeof msg.custom_fields === 'object' ? msg.custom_fields : {}) as Record<string, unknown>;
  const echoed = typeof cf.odoo_aggregate === 'string' && typeof cf.odoo_shipment_ref === 'string'
    ? { aggregate: cf.odoo_aggregate, shipment_ref: cf.odoo_shipment_ref, event_id: typeof cf.odoo_event === 'string' ? cf.odoo_event : undefined }
    : undefined;
  const link = echoed ?? ctx.resolve({ tracking_number: trackingNumber });
  if (!link) throw unknownShipment('msg.custom_fields', `tracking ${trackingNumber} carries no odoo references and is not known`);
  const checkpoints = Array.isArray(msg.checkpoints) ? (msg.checkpoints as Record<string, unknown>[]) : [];
  const last = [...checkpoints].reverse().find((c) => c?.tag === tag) ?? checkpoints.at(-1);
  const occurredAt = toIso(last?.checkpoint_time ?? msg.updated_at ?? b.ts, ctx.receivedAt);
  const location = typeof last?.location === 'string' && last.location ? last.location : undefined;
  const message = typeof last?.message === 'string' && last.message ? last.message : (typeof msg.subtag_message === 'string' ? msg.subtag_message : undefined);
  const base = { occurred_at: occurredAt, partner: ctx.partnerId, partner_ref: typeof msg.id === 'string' ? msg.id : undefined, aggregate: link.aggregate, event_id: link.event_id };
  const status = { shipment_ref: link.shipment_ref, tracking_number: trackingNumber, ...(location ? { location } : {}), ...(message ? { message } : {}) };
  const id = (k: string) => stableUuid(ctx.partnerId, trackingNumber, k, occurredAt);
  if (type === 'shipment.exception') {
    return [milestone('shipment.exception', { ...base, id: id(type) }, {
      ...status, reason_class: tag === 'AttemptFail' ? 'recipient_unavailable' : 'other', reason: message ?? `${tag}${subtag ? ` (${subtag})` : ''}`,
    })];
  }
  const out = [milestone(type as 'shipment.in_transit', { ...base, id: id(type) }, status)];
  if (type === 'shipment.delivered' && typeof msg.signed_by === 'string' && msg.signed_by) {
    out.push(milestone('shipment.proof_of_delivery', { ...base, id: id('pod') }, { shipment_ref: link.shipment_ref, signer: msg.signed_by, signed_at: occurredAt }));
  }
  return out;
}
