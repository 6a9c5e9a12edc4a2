/** Inbound business milestones (partner -> bridge -> Odoo), schema version 1. One meaning whatever partner produced them. */
import * as v from 'valibot';
import { AggregateKey } from './events.ts';
import { Line, Money, Quantity, Ref, Sku, Timestamp, Url, Uuid, WarehouseCode } from './values.ts';

/** Why a warehouse refused an order or a delivery went wrong; `business` classes need a person. */
export const REJECTION_REASONS = ['unknown_sku', 'insufficient_stock', 'invalid_address', 'allocation_conflict', 'duplicate_order', 'other'] as const;
export const EXCEPTION_REASONS = [
  'address_invalid', 'recipient_unavailable', 'refused_by_recipient', 'damaged', 'lost', 'customs_hold', 'weather_delay', 'carrier_delay', 'other',
] as const;

export const OrderAcceptedV1 = v.strictObject({ order_ref: Ref, picking_ref: Ref, warehouse: WarehouseCode, partner_order_ref: v.optional(Ref) });
export const OrderRejectedV1 = v.strictObject({
  order_ref: Ref,
  picking_ref: Ref,
  warehouse: WarehouseCode,
  reason_class: v.picklist(REJECTION_REASONS),
  reason: v.pipe(v.string(), v.minLength(1, 'reason must say what to fix')),
});
/** A label document is either inline (base64) or a link the partner hosts. */
export const LabelDocument = v.strictObject({
  format: v.picklist(['PDF', 'PNG', 'ZPL', 'EPL2']),
  url: v.optional(Url),
  content_base64: v.optional(v.pipe(v.string(), v.base64('content_base64 must be base64'))),
});
export const LabelCreatedV1 = v.strictObject({
  shipment_ref: Ref,
  carrier: Ref,
  service: v.optional(Ref),
  tracking_number: Ref,
  tracking_url: v.optional(Url),
  label: LabelDocument,
  cost: v.optional(Money),
  /** For a shipment of several parcels: which parcel this label is for (1-based) and how many there are; one milestone per parcel. */
  parcel: v.optional(v.strictObject({
    index: v.pipe(v.number(), v.integer('parcel.index must be an integer'), v.minValue(1, 'parcel.index starts at 1')),
    count: v.pipe(v.number(), v.integer('parcel.count must be an integer'), v.minValue(1, 'parcel.count must be at least 1')),
  })),
});
const ShipmentStatus = v.strictObject({
  shipment_ref: Ref,
  tracking_number: v.optional(Ref),
  location: v.optional(v.string()),
  message: v.optional(v.string()),
});
/** Goods left the warehouse; `lines` gives the shipped quantities (less than ordered means a backorder). */
export const ShipmentDispatchedV1 = v.strictObject({ ...ShipmentStatus.entries, lines: v.optional(v.array(Line)) });
export const ShipmentExceptionV1 = v.strictObject({
  ...ShipmentStatus.entries,
  reason_class: v.picklist(EXCEPTION_REASONS),
  reason: v.pipe(v.string(), v.minLength(1, 'reason must say what happened')),
});
export const ProofOfDeliveryV1 = v.strictObject({
  shipment_ref: Ref,
  signer: v.pipe(v.string(), v.minLength(1, 'signer must not be empty')),
  signed_at: Timestamp,
  evidence_url: v.optional(Url),
});
export const InventoryLevelV1 = v.strictObject({ sku: Sku, warehouse: WarehouseCode, on_hand: Quantity, available: Quantity });
export const FreightChargedV1 = v.strictObject({ shipment_ref: Ref, amount: Money, invoice_ref: Ref, charge_type: v.optional(v.string()) });

export const MILESTONE_PAYLOADS = {
  'order.accepted': { 1: OrderAcceptedV1 },
  'order.rejected': { 1: OrderRejectedV1 },
  'label.created': { 1: LabelCreatedV1 },
  'shipment.dispatched': { 1: ShipmentDispatchedV1 },
  'shipment.in_transit': { 1: ShipmentStatus },
  'shipment.out_for_delivery': { 1: ShipmentStatus },
  'shipment.delivered': { 1: ShipmentStatus },
  'shipment.exception': { 1: ShipmentExceptionV1 },
  'shipment.returned': { 1: ShipmentStatus },
  'shipment.proof_of_delivery': { 1: ProofOfDeliveryV1 },
  'inventory.level': { 1: InventoryLevelV1 },
  'freight.charged': { 1: FreightChargedV1 },
} as const;
export type MilestoneType = keyof typeof MILESTONE_PAYLOADS;
export const MILESTONE_TYPES = Object.keys(MILESTONE_PAYLOADS) as MilestoneType[];

/**
 * Shipment status order: a milestone never moves a shipment to a lower rank than one already
 * recorded with a later `occurred_at`. Milestones absent here do not change the status.
 */
export const SHIPMENT_STATUS_RANK: Partial<Record<MilestoneType, number>> = {
  'order.accepted': 1,
  'label.created': 2,
  'shipment.dispatched': 3,
  'shipment.in_transit': 4,
  'shipment.out_for_delivery': 5,
  'shipment.exception': 5,
  'shipment.delivered': 6,
  'shipment.returned': 7,
};

export const MilestoneSource = v.strictObject({
  partner: v.pipe(v.string(), v.regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'source.partner must be a configured partner id')),
  partner_ref: v.optional(Ref),
});

function envelope<T extends MilestoneType, P extends v.GenericSchema>(type: T, payload: P) {
  return v.strictObject({
    id: Uuid,
    type: v.literal(type),
    schema_version: v.literal(1, 'schema_version 1 is the only supported version'),
    occurred_at: Timestamp,
    source: MilestoneSource,
    /** The aggregate of the event this follows ("stock.picking:17"), or "inventory:<warehouse>" for stock levels. */
    aggregate: AggregateKey,
    /** The event that caused it, when known. */
    event_id: v.optional(Uuid),
    payload,
  });
}

export const Milestone = v.variant('type', [
  envelope('order.accepted', MILESTONE_PAYLOADS['order.accepted'][1]),
  envelope('order.rejected', MILESTONE_PAYLOADS['order.rejected'][1]),
  envelope('label.created', MILESTONE_PAYLOADS['label.created'][1]),
  envelope('shipment.dispatched', MILESTONE_PAYLOADS['shipment.dispatched'][1]),
  envelope('shipment.in_transit', MILESTONE_PAYLOADS['shipment.in_transit'][1]),
  envelope('shipment.out_for_delivery', MILESTONE_PAYLOADS['shipment.out_for_delivery'][1]),
  envelope('shipment.delivered', MILESTONE_PAYLOADS['shipment.delivered'][1]),
  envelope('shipment.exception', MILESTONE_PAYLOADS['shipment.exception'][1]),
  envelope('shipment.returned', MILESTONE_PAYLOADS['shipment.returned'][1]),
  envelope('shipment.proof_of_delivery', MILESTONE_PAYLOADS['shipment.proof_of_delivery'][1]),
  envelope('inventory.level', MILESTONE_PAYLOADS['inventory.level'][1]),
  envelope('freight.charged', MILESTONE_PAYLOADS['freight.charged'][1]),
], `type must be one of ${MILESTONE_TYPES.join(', ')}`);
export type Milestone = v.InferOutput<typeof Milestone>;
export type MilestoneOf<T extends MilestoneType> = Extract<Milestone, { type: T }>;
