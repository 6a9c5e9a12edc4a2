/**
 * The narrow partner interface. An adapter knows one partner's language and nothing else:
 * the engine decides who hears what (routing) and when (ordering, retries); an adapter only
 * says it. Every adapter passes test/contract/adapters.test.ts.
 */
import type { EventOf, Milestone } from '../../../shared/src/index.ts';

/** A partner's own identifiers (shipment id, order id, rate id...). The core stores and hands it back, never reads it. */
export type PartnerData = Record<string, unknown>;

/** What every partner call receives besides the canonical object. */
export interface CallContext {
  /** Derived from the event id and step; identical on every retry and replay unless an operator asks for a new one. */
  idempotencyKey: string;
  /** The event id; sent as a header where the partner allows it, and in every log line. */
  correlationId: string;
  /** Aborted when the partner's configured timeout passes. */
  signal: AbortSignal;
  /** What earlier steps for this aggregate and partner returned (e.g. the partner's shipment id for a cancel). */
  data: PartnerData;
  /**
   * An earlier call of this step with this key may have acted without its answer reaching us (a
   * crash mid-call, a lost response, a timeout). A `lookup-before-retry` step must then find our own
   * reference at the partner first, adopt what is there and create only what is missing. The engine
   * never calls an `unsafe` step in doubt (it goes to manual handling instead).
   */
  inDoubt: boolean;
}

/**
 * How an effectful step stays exactly once in effect when a call may have acted without us hearing
 * the answer. Only what the partner's public documentation promises counts: an undocumented header
 * is not a key.
 * - `partner-deduplicates`: the partner documents a key (or a unique reference it refuses twice) that makes a repeat harmless;
 * - `lookup-before-retry`: the partner documents a lookup by our own reference; in doubt, the step finds and adopts what is there;
 * - `unsafe`: neither; an interrupted call goes to `manual` with reason `may_have_applied`, never retried blindly.
 */
export type SafetyRule = 'partner-deduplicates' | 'lookup-before-retry' | 'unsafe';
export interface StepSafety {
  rule: SafetyRule;
  /** The partner's public doc page the rule rests on (the key, the lookup, the duplicate error), or why the step is unsafe. */
  doc: string;
}
/** The safety of each step an adapter performs, by the step's method name. */
export type SafetyTable<A extends string> = Readonly<Record<A, StepSafety>>;

/** What a successful call produced. */
export interface StepResult {
  /** Merged into the aggregate's opaque bag for later steps. */
  data?: PartnerData;
  /** Canonical milestones the call already tells us about (a bought label, an accepted order). */
  milestones?: Milestone[];
}

/**
 * The one way an adapter reports failure, classified once here at the boundary.
 * retryable: timeouts, connection errors, 5xx, 429 (with `retryAfterMs` when the partner said).
 * permanent: validation errors and business refusals; `reason` says what a person must fix.
 */
export class PartnerError extends Error {
  constructor(
    readonly kind: 'retryable' | 'permanent',
    message: string,
    readonly details: {
      status?: number;
      retryAfterMs?: number;
      /** For permanent errors: a business class such as invalid_address, unknown_sku, refused. */
      reason?: BusinessReason;
      /** The call got no answer within the partner's timeout (set by the partner gate). */
      timedOut?: boolean;
      cause?: unknown;
    } = {},
  ) {
    super(message, { cause: details.cause });
    this.name = 'PartnerError';
  }
}
export const BUSINESS_REASONS = ['invalid_address', 'unknown_sku', 'allocation_conflict', 'refused_by_partner', 'invalid_request', 'not_found'] as const;
export type BusinessReason = (typeof BUSINESS_REASONS)[number];

/** A warehouse (WMS or 3PL): executes orders, reports what it shipped and holds. */
export interface WarehouseAdapter {
  readonly role: 'warehouse';
  readonly safety: SafetyTable<'releaseOrder' | 'cancelOrder' | 'expectReturn'>;
  /** Sends an order for picking; resolves once the warehouse has it (idempotent by ctx.idempotencyKey or our order ref). */
  releaseOrder(event: EventOf<'order.released'>, ctx: CallContext): Promise<StepResult>;
  /** Cancels a released order; a partner that already shipped refuses permanently. */
  cancelOrder(event: EventOf<'order.cancelled'>, ctx: CallContext): Promise<StepResult>;
  /** Announces an expected return to the warehouse. */
  expectReturn(event: EventOf<'return.requested'>, ctx: CallContext): Promise<StepResult>;
  /** Pulls shipment confirmations and inventory snapshots (for partners without webhooks, e.g. file drops). */
  collectUpdates?(ctx: { signal: AbortSignal }): Promise<Milestone[]>;
}

/** A carrier: buys labels, voids them, makes return labels. */
export interface CarrierAdapter {
  readonly role: 'carrier';
  readonly safety: SafetyTable<'createShipment' | 'cancelShipment' | 'createReturnLabel'>;
  /** Creates the shipment and buys one label per parcel; the result carries one `label.created` milestone per parcel. */
  createShipment(event: EventOf<'shipment.requested'>, ctx: CallContext): Promise<StepResult>;
  /** Voids/refunds the label bought for this shipment (ctx.data holds the partner's ids). */
  cancelShipment(event: EventOf<'shipment.cancelled'>, ctx: CallContext): Promise<StepResult>;
  /** Buys a return label; the result carries a `label.created` milestone for the return. */
  createReturnLabel(event: EventOf<'return.requested'>, ctx: CallContext): Promise<StepResult>;
  /** Finds a shipment already created under our reference (void checks after a fallback; lookups in doubt). */
  findShipment?(shipmentRef: string, ctx: CallContext): Promise<StepResult | undefined>;
}

/** A visibility platform or customer notification channel: hears milestones. */
export interface VisibilityAdapter {
  readonly role: 'visibility';
  readonly safety: SafetyTable<'publishMilestone'>;
  /** Publishes one canonical milestone. */
  publishMilestone(milestone: Milestone, ctx: CallContext): Promise<StepResult>;
}

export type PartnerAdapter = WarehouseAdapter | CarrierAdapter | VisibilityAdapter;
export type PartnerRole = PartnerAdapter['role'];

/** Signature schemes the inbound webhook gateway verifies. */
export type WebhookScheme = 'standard-webhooks' | 'easypost' | 'aftership' | 'shared-token';

/** How a partner's webhooks become canonical milestones. */
export interface InboundMapper {
  readonly scheme: WebhookScheme;
  /** The sender's delivery id for deduplication (header or body), if it has one. */
  deliveryId(headers: Headers, body: unknown): string | undefined;
  /** Maps a verified body to canonical milestones; throws PartnerError('permanent') with a path for a bad payload. */
  toMilestones(body: unknown, ctx: InboundContext): Milestone[];
}

/** Where a shipment belongs: the aggregate its events carry and our shipment reference. */
export interface ShipmentLink {
  aggregate: string;
  shipment_ref: string;
  event_id?: string;
}

/** What the gateway gives a mapper besides the body. */
export interface InboundContext {
  /** The configured partner id (milestones' `source.partner`). */
  partnerId: string;
  receivedAt: Date;
  /**
   * Finds the shipment a partner's tracking number or own id belongs to, for partners whose
   * webhooks do not echo our reference (filled from `label.created` milestones; see webhooks/refs.ts).
   */
  resolve(key: { tracking_number?: string; partner_ref?: string }): ShipmentLink | undefined;
}

/** I/O every adapter gets from outside, so tests need no network. */
export interface AdapterIO {
  fetch: typeof fetch;
  now: () => Date;
  /** Folder root for file-based partners. */
  dataDir: string;
}

/** A configured partner as adapters see it (secrets already resolved from the environment). */
export interface PartnerSettings {
  id: string;
  adapter: string;
  base_url?: string;
  credentials: Record<string, string>;
  /** Adapter-specific options (field mappings, folders, service codes). */
  options: Record<string, unknown>;
}

/** What a registry entry builds. */
export interface AdapterFactory {
  role: PartnerRole;
  create(settings: PartnerSettings, io: AdapterIO): PartnerAdapter;
  inbound?: (settings: PartnerSettings) => InboundMapper;
}
