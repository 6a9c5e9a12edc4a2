/** Small helpers every adapter's mapping shares: stable ids, units, milestone envelopes. */
import { createHash } from 'node:crypto';
import type * as v from 'valibot';
import type { EventOf, EventType, MILESTONE_PAYLOADS, Milestone, MilestoneType } from '../../../shared/src/index.ts';
import { PartnerError } from './types.ts';
export type { ShipmentLink } from './types.ts';

/** A UUID derived from its parts, so the same partner fact always gets the same milestone id (Odoo dedups by id). */
export function stableUuid(...parts: string[]): string {
  const h = createHash('sha256').update(parts.join('\u0000')).digest('hex');
  // Shaped like a version 5 UUID (name based), variant 10xx.
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h[16], 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}


/** The payload type of one event type in its current version (adapters see only that: the engine upcasts). */
export type PayloadOf<T extends EventType> = EventOf<T>['payload'];
/** The payload type of one milestone type. */
export type MilestonePayloadOf<T extends MilestoneType> = v.InferOutput<(typeof MILESTONE_PAYLOADS)[T][1]>;
/** An event's payload, typed by its event type. */
export function payloadOf<T extends EventType>(e: EventOf<T>): PayloadOf<T> {
  return e.payload as PayloadOf<T>;
}

/** Builds one milestone envelope; the payload is checked by the gateway or the engine, not here. */
export function milestone<T extends MilestoneType>(
  type: T,
  fields: { id: string; occurred_at: string; partner: string; partner_ref?: string; aggregate: string; event_id?: string },
  payload: MilestonePayloadOf<T>,
): Milestone {
  return {
    id: fields.id,
    type,
    schema_version: 1,
    occurred_at: fields.occurred_at,
    source: fields.partner_ref ? { partner: fields.partner, partner_ref: fields.partner_ref } : { partner: fields.partner },
    aggregate: fields.aggregate,
    ...(fields.event_id ? { event_id: fields.event_id } : {}),
    payload,
  } as Milestone;
}

/** RFC 3339 without milliseconds, as the contract fixtures write it. */
export function isoSeconds(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Normalises a partner timestamp (ISO string or unix seconds) to RFC 3339; falls back to `fallback`. */
export function toIso(value: unknown, fallback: Date): string {
  if (typeof value === 'number' && Number.isFinite(value)) return isoSeconds(new Date(value * 1000));
  if (typeof value === 'string') {
    const t = Date.parse(value);
    if (!Number.isNaN(t)) return isoSeconds(new Date(t));
  }
  return isoSeconds(fallback);
}

const TO_OZ: Record<string, number> = { kg: 35.27396195, g: 0.03527396195, lb: 16, oz: 1 };
const TO_KG: Record<string, number> = { kg: 1, g: 0.001, lb: 0.45359237, oz: 0.028349523125 };
const TO_IN: Record<string, number> = { cm: 0.3937007874, mm: 0.03937007874, m: 39.37007874, in: 1 };
const TO_CM: Record<string, number> = { cm: 1, mm: 0.1, m: 100, in: 2.54 };
const round = (n: number, d = 2) => Math.round(n * 10 ** d) / 10 ** d;
export const units = {
  oz: (value: number, unit: string) => round(value * TO_OZ[unit]),
  kg: (value: number, unit: string) => round(value * TO_KG[unit], 3),
  inches: (value: number, unit: string) => round(value * TO_IN[unit]),
  cm: (value: number, unit: string) => round(value * TO_CM[unit]),
};

/** A permanent error for a webhook body that does not have the shape we map; `path` says where. */
export function badPayload(path: string, message: string): PartnerError {
  return new PartnerError('permanent', `${path}: ${message}`, { reason: 'invalid_request', cause: { path } });
}

/** A webhook about a shipment we cannot place (yet): the gateway parks it instead of refusing it. */
export function unknownShipment(path: string, message: string): PartnerError {
  return new PartnerError('permanent', `${path}: ${message}`, { reason: 'not_found', cause: { path } });
}

/** Reads `obj[key]` as an object or throws badPayload with the path. */
export function obj(value: unknown, path: string): Record<string, unknown> {
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw badPayload(path, 'must be an object');
  return value as Record<string, unknown>;
}
/** Reads a required non-empty string or throws badPayload with the path. */
export function str(value: unknown, path: string): string {
  if (typeof value !== 'string' || value === '') throw badPayload(path, 'must be a non-empty string');
  return value;
}
/** An optional string: undefined for absent/null/empty, badPayload for another type. */
export function optStr(value: unknown, path: string): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') throw badPayload(path, 'must be a string');
  return value;
}

/** A credential the partner cannot work without. */
export function requireCredential(credentials: Record<string, string>, name: string, partnerId: string): string {
  const v = credentials[name];
  if (!v) throw new Error(`partner "${partnerId}": credential "${name}" is missing`);
  return v;
}
/** Secrets for webhook verification: the current one and, during rotation, the previous one. */
export function webhookSecrets(credentials: Record<string, string>): string[] {
  return [credentials.webhook_secret, credentials.webhook_secret_previous].filter((s): s is string => !!s);
}

/**
 * For steps of several requests (create then buy, one label per parcel): once a request has acted,
 * a later retryable failure must not carry the later request's status. The engine reads a status
 * such as 429 or 4xx as "the partner did not act" and would retry without doubt, creating again
 * what the earlier request already created; without a status the retry is in doubt and looks up.
 */
export function stepEffects() {
  let acted = false;
  return {
    /** Runs one request of the step; `effectful` requests mark the step as having acted once they answer. */
    async run<T>(request: () => Promise<T>, effectful: boolean): Promise<T> {
      try {
        const r = await request();
        if (effectful) acted = true;
        return r;
      } catch (e) {
        if (acted && e instanceof PartnerError && e.kind === 'retryable' && e.details.status !== undefined) {
          throw new PartnerError('retryable', `${e.message} (after an earlier request of this step acted: retry in doubt)`, { retryAfterMs: e.details.retryAfterMs, cause: e });
        }
        throw e;
      }
    },
  };
}
