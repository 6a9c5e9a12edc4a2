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
/** Whether year-month-day names a day of the calendar (2025-02-30, 2026-02-29 and 04-31 do not). */
function isCalendarDay(y: number, m: number, d: number): boolean {
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1];
  return days !== undefined && d >= 1 && d <= days;
}
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T([01]\d|2[0-3]):([0-5]\d):([0-5]\d)(?:\.\d{1,9})?(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
/** Whether a string matched by `re` (year, month, day first) is a real calendar day. */
const onCalendar = (re: RegExp) => (s: string) => {
  const m = re.exec(s);
  return !!m && isCalendarDay(Number(m[1]), Number(m[2]), Number(m[3]));
};
/** RFC 3339 date-time with an offset (`+01:00`, with its colon) or Z, on a real calendar day. */
export const Timestamp = v.pipe(
  v.string(),
  v.regex(RFC3339, 'must be an RFC 3339 date-time such as 2026-11-26T10:00:00Z (offsets as +01:00)'),
  v.check(onCalendar(RFC3339), 'must be a real calendar date (no February 30, no February 29 outside leap years, no April 31)'),
);
/** RFC 3339 full date, on a real calendar day. */
export const IsoDate = v.pipe(
  v.string(),
  v.regex(DATE, 'must be a date such as 2026-11-26'),
  v.check(onCalendar(DATE), 'must be a real calendar date (no February 30, no February 29 outside leap years, no April 31)'),
);
/**
 * An integer JSON can carry exactly: beyond 2^53 a number is stored rounded (9007199254740993
 * reads back as ...992, another record). Record ids and sequences must be such integers.
 */
export const SafeInteger = (what: string) => v.pipe(v.number(), v.safeInteger(`${what} must be an integer below 2^53 (9007199254740992), sent as a JSON number`));
/** Amounts, quantities and measures: finite and at most a trillion (1e308 is a typo or an attack, not a shipment). */
const LIMIT = 1e12;
export const Uuid = v.pipe(v.string(), v.uuid('must be a UUID'));
export const Url = v.pipe(v.string(), v.url('must be an absolute URL'));
const NonNegative = v.pipe(v.number(), v.finite('must be a finite number'), v.minValue(0, 'must not be negative'), v.maxValue(LIMIT, 'must be at most 1e12'));
const Positive = v.pipe(v.number(), v.finite('must be a finite number'), v.gtValue(0, 'must be greater than 0'), v.maxValue(LIMIT, 'must be at most 1e12'));

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
export const Money = v.strictObject({
  amount: v.pipe(v.number(), v.finite('must be a finite number'), v.minValue(-LIMIT, 'must be at least -1e12'), v.maxValue(LIMIT, 'must be at most 1e12')),
  currency: CurrencyCode,
});

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
