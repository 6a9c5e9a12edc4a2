/**
 * Outbound business events (Odoo -> bridge -> partners), versioned per type.
 *
 * Versions: every type is at version 1 except `order.cancelled`, at version 2 (the reason became a
 * code people and partners can act on, with the free text beside it). Version 1 of
 * `order.cancelled` is still accepted and DEPRECATED (accepted until contract 2.0): the bridge
 * stores what Odoo sent and upcasts it (`upcastEvent`) before adapters see it, so adapters only know
 * the current version. Adding a version: add its schema to EVENT_PAYLOADS, an upcaster from the one
 * before to UPCASTERS, fixtures, and bump CONTRACT_VERSION.
 */
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
/** Why an order was cancelled, as partners and people act on it. */
export const CANCEL_REASON_CODES = ['customer_request', 'out_of_stock', 'address_problem', 'payment_problem', 'duplicate_order', 'other'] as const;
export const CancelReason = v.strictObject({
  code: v.picklist(CANCEL_REASON_CODES, `reason.code must be one of ${CANCEL_REASON_CODES.join(', ')}`),
  text: v.optional(v.pipe(v.string(), v.maxLength(500, 'reason.text must be at most 500 characters'))),
});
export const OrderCancelledV2 = v.strictObject({
  order_ref: Ref,
  picking_ref: Ref,
  warehouse: WarehouseCode,
  reason: v.optional(CancelReason),
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
  'order.cancelled': { 1: OrderCancelledV1, 2: OrderCancelledV2 },
  'shipment.requested': { 1: ShipmentRequestedV1 },
  'shipment.cancelled': { 1: ShipmentCancelledV1 },
  'return.requested': { 1: ReturnRequestedV1 },
} as const;

export type EventType = keyof typeof EVENT_PAYLOADS;
export const EVENT_TYPES = Object.keys(EVENT_PAYLOADS) as EventType[];
/** The version each type is written in today (Odoo emits it; adapters see it): the highest in EVENT_PAYLOADS (a test checks). */
export const CURRENT_EVENT_VERSIONS = {
  'order.released': 1, 'order.cancelled': 2, 'shipment.requested': 1, 'shipment.cancelled': 1, 'return.requested': 1,
} as const satisfies Record<EventType, number>;
/** Versions still accepted but no longer written: `type@version` -> what to do. */
export const DEPRECATED_EVENT_VERSIONS: Record<string, string> = {
  'order.cancelled@1': 'accepted until contract 2.0 and upcast to version 2 (reason text -> {code: "other", text}); emit version 2',
};

export const EventSource = v.strictObject({
  system: v.literal('odoo', 'source.system must be "odoo"'),
  db: v.pipe(v.string(), v.minLength(1, 'source.db must not be empty')),
  model: v.pipe(v.string(), v.regex(/^[a-z0-9_]+(\.[a-z0-9_]+)+$/, 'source.model must be an Odoo model name such as "stock.picking"')),
  res_id: v.pipe(SafeInteger('res_id'), v.minValue(1, 'must be a record id >= 1')),
});
/** The key events are ordered by, e.g. "stock.picking:17". */
export const AggregateKey = v.pipe(v.string(), v.regex(/^[a-z0-9_.]+:[A-Za-z0-9_./-]+$/, 'aggregate must look like "stock.picking:17"'));

function envelope<T extends EventType, N extends number, P extends v.GenericSchema>(type: T, version: N, payload: P) {
  return v.strictObject({
    id: Uuid,
    type: v.literal(type),
    schema_version: v.literal(version, `schema_version ${version}`),
    occurred_at: Timestamp,
    source: EventSource,
    aggregate: AggregateKey,
    sequence: v.pipe(SafeInteger('sequence'), v.minValue(1, 'sequence must be >= 1')),
    payload,
  });
}

const versionsMessage = (type: EventType) => `schema_version must be a supported version of ${type}: ${Object.keys(EVENT_PAYLOADS[type]).join(', ')}`;
/** One type whose versions are told apart by schema_version. */
const versions = <T extends EventType, A extends v.GenericSchema, B extends v.GenericSchema>(type: T, a: A, b: B) =>
  v.variant('schema_version', [envelope(type, 1, a), envelope(type, 2, b)], versionsMessage(type));
const only = <T extends EventType, P extends v.GenericSchema>(type: T, p: P) =>
  v.variant('schema_version', [envelope(type, 1, p)], versionsMessage(type));

/** Every accepted (type, version) envelope, in order: the JSON Schema lists them flat for the Python side. */
export const EVENT_ENVELOPES = [
  { type: 'order.released', version: 1, schema: envelope('order.released', 1, EVENT_PAYLOADS['order.released'][1]) },
  { type: 'order.cancelled', version: 1, schema: envelope('order.cancelled', 1, EVENT_PAYLOADS['order.cancelled'][1]) },
  { type: 'order.cancelled', version: 2, schema: envelope('order.cancelled', 2, EVENT_PAYLOADS['order.cancelled'][2]) },
  { type: 'shipment.requested', version: 1, schema: envelope('shipment.requested', 1, EVENT_PAYLOADS['shipment.requested'][1]) },
  { type: 'shipment.cancelled', version: 1, schema: envelope('shipment.cancelled', 1, EVENT_PAYLOADS['shipment.cancelled'][1]) },
  { type: 'return.requested', version: 1, schema: envelope('return.requested', 1, EVENT_PAYLOADS['return.requested'][1]) },
] as const;

/** Any valid event of a supported type and version; `type`, then `schema_version`, select the payload schema. */
export const Event = v.variant('type', [
  only('order.released', EVENT_PAYLOADS['order.released'][1]),
  versions('order.cancelled', EVENT_PAYLOADS['order.cancelled'][1], EVENT_PAYLOADS['order.cancelled'][2]),
  only('shipment.requested', EVENT_PAYLOADS['shipment.requested'][1]),
  only('shipment.cancelled', EVENT_PAYLOADS['shipment.cancelled'][1]),
  only('return.requested', EVENT_PAYLOADS['return.requested'][1]),
], `type must be one of ${EVENT_TYPES.join(', ')}`);

/** Any accepted event, in whatever supported version it was sent (what the store keeps). */
export type Event = v.InferOutput<typeof Event>;
/** Accepted events of one type, any version. */
export type AnyEventOf<T extends EventType> = Extract<Event, { type: T }>;
/** An event in the current version of its type (what adapters see, after `upcastEvent`). */
export type EventOf<T extends EventType> = Extract<AnyEventOf<T>, { schema_version: (typeof CURRENT_EVENT_VERSIONS)[T] }>;
/** Any event in the current version of its type. */
export type CurrentEvent = { [T in EventType]: EventOf<T> }[EventType];

/** Upcasters: version n -> n+1 of a type, pure. */
const UPCASTERS: { [K in string]?: (e: any) => any } = {
  'order.cancelled@1': (e: AnyEventOf<'order.cancelled'> & { schema_version: 1 }): EventOf<'order.cancelled'> => {
    const { reason, ...rest } = e.payload;
    return { ...e, schema_version: 2, payload: { ...rest, ...(reason !== undefined && { reason: { code: 'other' as const, text: reason.slice(0, 500) } }) } };
  },
};

/** The event in the current version of its type (unchanged when it already is); never changes `event`. */
export function upcastEvent(event: Event): CurrentEvent {
  let e: any = event;
  while (e.schema_version < CURRENT_EVENT_VERSIONS[e.type as EventType]) {
    const up = UPCASTERS[`${e.type}@${e.schema_version}`];
    if (!up) throw new Error(`no upcaster from ${e.type} version ${e.schema_version}`);
    e = up(e);
  }
  return e;
}
