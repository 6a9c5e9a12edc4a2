/** Outbound business events (Odoo -> bridge -> partners), schema version 1. */
import * as v from 'valibot';
import {
  Address, CarrierService, Contact, CustomerRef, Fulfilment, IsoDate, Line, Money, Parcel, Ref, SafeInteger, Timestamp, Uuid, WarehouseCode,
} from './values.ts';

const Lines = v.pipe(v.array(Line), v.minLength(1, 'at least one line is required'));

export const OrderReleasedV1 = v.strictObject({
  order_ref: Ref,
  picking_ref: Ref,
  warehouse: WarehouseCode,
  customer: CustomerRef,
  ship_to: Address,
  contact: Contact,
  lines: Lines,
  carrier: v.optional(CarrierService),
  requested_date: v.optional(IsoDate),
  fulfilment: Fulfilment,
  notes: v.optional(v.string()),
});
export const OrderCancelledV1 = v.strictObject({
  order_ref: Ref,
  picking_ref: Ref,
  warehouse: WarehouseCode,
  reason: v.optional(v.string()),
});
export const ShipmentRequestedV1 = v.strictObject({
  shipment_ref: Ref,
  order_ref: Ref,
  warehouse: WarehouseCode,
  customer: CustomerRef,
  ship_from: Address,
  ship_to: Address,
  contact: Contact,
  carrier: CarrierService,
  parcels: v.pipe(v.array(Parcel), v.minLength(1, 'at least one parcel is required')),
  lines: Lines,
  declared_value: v.optional(Money),
  fulfilment: Fulfilment,
});
export const ShipmentCancelledV1 = v.strictObject({
  shipment_ref: Ref,
  carrier: CarrierService,
  tracking_number: v.optional(Ref),
  reason: v.optional(v.string()),
});
export const ReturnRequestedV1 = v.strictObject({
  return_ref: Ref,
  order_ref: Ref,
  origin_shipment_ref: v.optional(Ref),
  warehouse: WarehouseCode,
  customer: CustomerRef,
  return_from: Address,
  return_to: Address,
  contact: Contact,
  carrier: v.optional(CarrierService),
  lines: Lines,
  reason: v.optional(v.string()),
});

/** Payload schema per event type and schema version. Adding a version means adding a key here. */
export const EVENT_PAYLOADS = {
  'order.released': { 1: OrderReleasedV1 },
  'order.cancelled': { 1: OrderCancelledV1 },
  'shipment.requested': { 1: ShipmentRequestedV1 },
  'shipment.cancelled': { 1: ShipmentCancelledV1 },
  'return.requested': { 1: ReturnRequestedV1 },
} as const;

export type EventType = keyof typeof EVENT_PAYLOADS;
export const EVENT_TYPES = Object.keys(EVENT_PAYLOADS) as EventType[];

export const EventSource = v.strictObject({
  system: v.literal('odoo', 'source.system must be "odoo"'),
  db: v.pipe(v.string(), v.minLength(1, 'source.db must not be empty')),
  model: v.pipe(v.string(), v.regex(/^[a-z0-9_]+(\.[a-z0-9_]+)+$/, 'source.model must be an Odoo model name such as "stock.picking"')),
  res_id: v.pipe(SafeInteger('res_id'), v.minValue(1, 'must be a record id >= 1')),
});
/** The key events are ordered by, e.g. "stock.picking:17". */
export const AggregateKey = v.pipe(v.string(), v.regex(/^[a-z0-9_.]+:[A-Za-z0-9_./-]+$/, 'aggregate must look like "stock.picking:17"'));

function envelope<T extends EventType, P extends v.GenericSchema>(type: T, payload: P) {
  return v.strictObject({
    id: Uuid,
    type: v.literal(type),
    schema_version: v.literal(1, 'schema_version 1 is the only supported version'),
    occurred_at: Timestamp,
    source: EventSource,
    aggregate: AggregateKey,
    sequence: v.pipe(SafeInteger('sequence'), v.minValue(1, 'sequence must be >= 1')),
    payload,
  });
}

/** Any valid event; `type` selects the payload schema. */
export const Event = v.variant('type', [
  envelope('order.released', EVENT_PAYLOADS['order.released'][1]),
  envelope('order.cancelled', EVENT_PAYLOADS['order.cancelled'][1]),
  envelope('shipment.requested', EVENT_PAYLOADS['shipment.requested'][1]),
  envelope('shipment.cancelled', EVENT_PAYLOADS['shipment.cancelled'][1]),
  envelope('return.requested', EVENT_PAYLOADS['return.requested'][1]),
], `type must be one of ${EVENT_TYPES.join(', ')}`);

export type Event = v.InferOutput<typeof Event>;
export type EventOf<T extends EventType> = Extract<Event, { type: T }>;
