/** Canonical value types shared by events and milestones. Strict: unknown keys are rejected. */
import * as v from 'valibot';

/** A reference a person can read: an order name, a picking name, a partner's own id. */
export const Ref = v.pipe(v.string(), v.minLength(1, 'must not be empty'), v.maxLength(128, 'must be at most 128 characters'));
/** Stock keeping unit as known in Odoo (default_code); partners' SKUs are mapped in adapters. */
export const Sku = v.pipe(v.string(), v.minLength(1, 'SKU must not be empty'), v.maxLength(64, 'SKU must be at most 64 characters'));
/** Warehouse code as configured in Odoo (stock.warehouse.code), e.g. "WH". */
export const WarehouseCode = v.pipe(v.string(), v.regex(/^[A-Za-z0-9_.-]{1,32}$/, 'warehouse code must be 1-32 letters, digits, "_", "." or "-"'));
/** ISO 3166-1 alpha-2 country code. */
export const CountryCode = v.pipe(v.string(), v.regex(/^[A-Z]{2}$/, 'country must be an ISO 3166-1 alpha-2 code such as "BE"'));
/** ISO 4217 currency code. */
export const CurrencyCode = v.pipe(v.string(), v.regex(/^[A-Z]{3}$/, 'currency must be an ISO 4217 code such as "EUR"'));
/** RFC 3339 date-time with an offset or Z. */
export const Timestamp = v.pipe(v.string(), v.isoTimestamp('must be an RFC 3339 date-time such as 2026-11-26T10:00:00Z'));
/** RFC 3339 full date. */
export const IsoDate = v.pipe(v.string(), v.isoDate('must be a date such as 2026-11-26'));
export const Uuid = v.pipe(v.string(), v.uuid('must be a UUID'));
export const Url = v.pipe(v.string(), v.url('must be an absolute URL'));
const NonNegative = v.pipe(v.number(), v.finite('must be a finite number'), v.minValue(0, 'must not be negative'));
const Positive = v.pipe(v.number(), v.finite('must be a finite number'), v.gtValue(0, 'must be greater than 0'));

/** A quantity with its unit of measure as named in Odoo (e.g. "Units", "kg"). */
export const Quantity = v.strictObject({ value: NonNegative, uom: v.pipe(v.string(), v.minLength(1, 'unit of measure must not be empty')) });
export const Weight = v.strictObject({ value: Positive, unit: v.picklist(['kg', 'g', 'lb', 'oz'], 'weight unit must be kg, g, lb or oz') });
export const Dimensions = v.strictObject({
  length: Positive,
  width: Positive,
  height: Positive,
  unit: v.picklist(['cm', 'mm', 'm', 'in'], 'dimension unit must be cm, mm, m or in'),
});
/** An amount in a currency; decimals as JSON numbers, rounded to the currency's precision by the sender. */
export const Money = v.strictObject({ amount: v.pipe(v.number(), v.finite('must be a finite number')), currency: CurrencyCode });

export const Address = v.strictObject({
  name: v.optional(v.string()),
  company: v.optional(v.string()),
  street1: v.pipe(v.string(), v.minLength(1, 'street1 must not be empty')),
  street2: v.optional(v.string()),
  city: v.pipe(v.string(), v.minLength(1, 'city must not be empty')),
  state: v.optional(v.string()),
  postal_code: v.string(),
  country: CountryCode,
});
export const Contact = v.strictObject({
  name: v.pipe(v.string(), v.minLength(1, 'contact name must not be empty')),
  email: v.optional(v.pipe(v.string(), v.email('must be an e-mail address'))),
  phone: v.optional(v.string()),
});
/** The customer's account in Odoo (res.partner ref or id). */
export const CustomerRef = v.strictObject({ account: Ref, name: v.optional(v.string()) });
/** Carrier and service as configured in Odoo's delivery.carrier; routing maps them to partners. */
export const CarrierService = v.strictObject({ carrier: Ref, service: v.optional(Ref) });

/** One product line. `backorder` marks a quantity left for a later shipment. */
export const Line = v.strictObject({
  line_id: Ref,
  sku: Sku,
  description: v.optional(v.string()),
  quantity: Quantity,
  backorder_quantity: v.optional(Quantity),
});
export const Parcel = v.strictObject({ weight: Weight, dimensions: v.optional(Dimensions), reference: v.optional(Ref) });
/** Whether this document covers only part of an order, and which earlier document it completes. */
export const Fulfilment = v.strictObject({ partial: v.boolean(), backorder_of: v.optional(Ref) });

export type Address = v.InferOutput<typeof Address>;
export type Line = v.InferOutput<typeof Line>;
export type Money = v.InferOutput<typeof Money>;
