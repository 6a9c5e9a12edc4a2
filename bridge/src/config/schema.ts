/**
 * The configuration file: who the partners are, who hears which event (routing), who may speak
 * for what (ownership), real time or batch per workflow, and how to reach Odoo for write-back.
 * Secrets never appear in the file: only `{ "env": "VAR_NAME" }` references, resolved at load.
 */
import * as v from 'valibot';
import { EVENT_TYPES, MILESTONE_TYPES, type EventType, type MilestoneType } from '../../../shared/src/index.ts';

const Id = v.pipe(v.string(), v.regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'must be a partner id: lowercase letters, digits, "_" or "-", at most 64'));
const PositiveInt = v.pipe(v.number(), v.integer('must be an integer'), v.minValue(1, 'must be >= 1'));
const Positive = v.pipe(v.number(), v.finite('must be a finite number'), v.gtValue(0, 'must be > 0'));
const Millis = v.pipe(v.number(), v.integer('must be an integer number of milliseconds'), v.minValue(1, 'must be >= 1'));

/** A secret by reference: the value is read from this environment variable at load time. */
export const SecretRef = v.strictObject({
  env: v.pipe(v.string(), v.regex(/^[A-Z_][A-Z0-9_]*$/, 'must be an environment variable name such as "EASYPOST_API_KEY"')),
});

export const Limits = v.strictObject({
  /** Requests per second (token bucket refill); never exceeded. Absent: no rate limit. */
  rate: v.optional(Positive),
  /** How many requests may go at once after a quiet spell (bucket size). Default: max(1, ceil(rate)). */
  burst: v.optional(PositiveInt),
  /** Calls in flight at once. */
  concurrency: v.optional(PositiveInt, 4),
  /** A call still unanswered after this is abandoned (and counts as a retryable failure). */
  timeout_ms: v.optional(Millis, 15_000),
  /** Counted attempts (Retry-After waits excluded) before the step goes to the dead-letter queue. */
  max_attempts: v.optional(PositiveInt, 8),
  /** Capped exponential backoff with full jitter: delay = random(0, min(cap_ms, base_ms * 2^(attempt-1))). */
  backoff: v.optional(v.strictObject({ base_ms: v.optional(Millis, 1_000), cap_ms: v.optional(Millis, 300_000) }), {}),
  /** Circuit breaker: opens after this many consecutive failures, probes again after half_open_after_ms. */
  breaker: v.optional(v.strictObject({ consecutive_failures: v.optional(PositiveInt, 5), half_open_after_ms: v.optional(Millis, 30_000) }), {}),
});

/** What the business expects of a partner; shown against the real figures on the dashboard and in the metrics. */
export const Sla = v.strictObject({
  /** Answer-time target: the 95th percentile of successful calls should be at or under it. */
  answer_ms: v.optional(Millis),
  /** Share of calls the partner should answer successfully (0..1; business refusals and calls never sent are left out). */
  success_ratio: v.optional(v.pipe(v.number(), v.finite('must be a finite number'), v.gtValue(0, 'must be > 0'), v.maxValue(1, 'must be <= 1 (a share, e.g. 0.99)'))),
});

export const Partner = v.strictObject({
  id: Id,
  /** Key in the adapter registry (bridge/src/adapters/registry.ts). */
  adapter: v.pipe(v.string(), v.minLength(1, 'must name an adapter of the registry')),
  role: v.picklist(['warehouse', 'carrier', 'visibility'], 'role must be warehouse, carrier or visibility'),
  base_url: v.optional(v.pipe(v.string(), v.url('must be an absolute URL'))),
  /** Name -> secret reference; handed to the adapter resolved. */
  credentials: v.optional(v.record(v.string(), SecretRef), {}),
  /** Adapter-specific options (field mappings, folders, service codes); the core never reads them. */
  options: v.optional(v.record(v.string(), v.unknown()), {}),
  limits: v.optional(Limits, {}),
  /** Partners (same role) tried when this one's circuit is open or it refuses for a retryable reason. */
  fallback: v.optional(v.array(Id), []),
  /** Warehouses with `collectUpdates` (file drops, polled APIs): how often to collect. */
  poll_interval_ms: v.optional(Millis, 60_000),
  /** Visibility partners: milestone types it hears (default: all but inventory levels). */
  milestones: v.optional(v.array(v.picklist(MILESTONE_TYPES, `milestone type must be one of ${MILESTONE_TYPES.join(', ')}`))),
  /** Service levels expected of this partner, e.g. `{ "answer_ms": 2000, "success_ratio": 0.99 }`. */
  sla: v.optional(Sla),
});

const Codes = v.pipe(v.array(v.pipe(v.string(), v.minLength(1, 'must not be empty'))), v.minLength(1, 'list at least one value or leave the key out'));

/** Attribute conditions; each present key must match (any listed value), absent keys match anything. */
export const Match = v.strictObject({
  warehouse: v.optional(Codes),
  carrier: v.optional(Codes),
  service: v.optional(Codes),
  /** Destination country (ship_to, or return_from for returns). */
  country: v.optional(Codes),
});

export const Route = v.strictObject({
  /** For people reading logs and errors. */
  name: v.optional(v.string()),
  events: v.pipe(v.array(v.picklist(EVENT_TYPES, `event type must be one of ${EVENT_TYPES.join(', ')}`)), v.minLength(1, 'list at least one event type')),
  when: v.optional(Match, {}),
  /** Each partner becomes one delivery step of the event. */
  partners: v.pipe(v.array(Id), v.minLength(1, 'list at least one partner')),
  /** Alternates for a carrier step, in order (adds to the partner's own `fallback`). */
  fallback: v.optional(v.array(Id), []),
});

export const WORKFLOWS = ['orders', 'shipments', 'returns', 'tracking', 'inventory'] as const;
export type Workflow = (typeof WORKFLOWS)[number];

/** The workflow an event type belongs to (its mode and ownership come from the config). */
export function workflowOfEvent(type: EventType): Workflow {
  return type.startsWith('order.') ? 'orders' : type.startsWith('shipment.') ? 'shipments' : 'returns';
}
/** The workflow a milestone type belongs to. */
export function workflowOfMilestone(type: MilestoneType): Workflow {
  return type === 'inventory.level' ? 'inventory' : 'tracking';
}
export const WorkflowMode = v.strictObject({
  mode: v.picklist(['realtime', 'batch'], 'mode must be realtime or batch'),
  /** Batch mode: work waits for the next multiple of this interval. */
  flush_interval_ms: v.optional(Millis, 60_000),
});

export const Ownership = v.strictObject({
  /** Warehouse code -> the only partner whose inventory levels for it are accepted. */
  inventory: v.optional(v.record(v.string(), Id), {}),
  /**
   * Shipment milestones are accepted from a partner the bridge delivered a step of that aggregate
   * to (its warehouse, the carrier that bought the label), and from these partners for any shipment.
   */
  shipments: v.optional(v.strictObject({ trusted: v.optional(v.array(Id), []) }), {}),
});

export const OdooSettings = v.strictObject({
  url: v.pipe(v.string(), v.url('must be an absolute URL such as "http://localhost:8069"')),
  db: v.pipe(v.string(), v.minLength(1, 'must name the Odoo database')),
  /** jsonrpc: /jsonrpc execute_kw; json2: Odoo 19 /json/2; auto: decided from the server version. */
  transport: v.optional(v.picklist(['jsonrpc', 'json2', 'auto'], 'transport must be jsonrpc, json2 or auto'), 'auto'),
  /** The integration user's login (needed by /jsonrpc, which authenticates login + API key). */
  login: v.optional(v.string()),
  api_key: SecretRef,
  model: v.optional(v.string(), 'logistics.bridge.api'),
  /** Most milestones per call; the writer adapts below this to Odoo's answer times. */
  batch_size: v.optional(v.pipe(PositiveInt, v.maxValue(1000, 'must be <= 1000')), 100),
  /** Batches in flight at once (never two for the same shipment). */
  max_in_flight: v.optional(v.pipe(PositiveInt, v.maxValue(16, 'must be <= 16')), 2),
  timeout_ms: v.optional(Millis, 30_000),
  /**
   * Method of the write-back model that takes event delivery states ({id, state, attempts,
   * last_error, error_class, blocked_by}[]) so Odoo's screens show them; "" turns the push off.
   * A method Odoo does not have turns the push off by itself (with a warning).
   */
  event_states_method: v.optional(v.string(), 'apply_event_states'),
  /**
   * Rows are gathered this long after the first one waits, so a picking's milestones and its events'
   * states go to Odoo in one call each instead of one call per change (0: write at once). One second:
   * an event's queued, delivering and delivered states (all within ~20 ms of Odoo's commit) are one
   * state, written after the user who committed has moved on; execution events still land within seconds.
   */
  coalesce_ms: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(10_000, 'must be <= 10000')), 1_000),
  /** Answer time the adaptive batch size aims under. */
  target_latency_ms: v.optional(Millis, 2_000),
});

/** Who may use the operator API and dashboard: viewer (read), operator (replay, discard, replays, shadow runs), admin (everything: write-back keys). */
export const OPERATOR_ROLES = ['viewer', 'operator', 'admin'] as const;
export const Operator = v.strictObject({
  name: v.pipe(v.string(), v.regex(/^[A-Za-z0-9 ._-]{1,64}$/, 'name: 1-64 letters, digits, space, dot, dash or underscore')),
  role: v.picklist(OPERATOR_ROLES, `role must be one of ${OPERATOR_ROLES.join(', ')}`),
  /** The operator's bearer token (24+ characters), from the environment. */
  token: SecretRef,
});

export const ConfigFile = v.strictObject({
  partners: v.array(Partner),
  routes: v.optional(v.array(Route), []),
  ownership: v.optional(Ownership, {}),
  workflows: v.optional(v.partial(v.strictObject(Object.fromEntries(WORKFLOWS.map((w) => [w, WorkflowMode])) as Record<Workflow, typeof WorkflowMode>)), {}),
  odoo: v.optional(OdooSettings),
  /** Named operator tokens with roles, beside BRIDGE_ADMIN_TOKEN (which stays an admin). */
  operators: v.optional(v.array(Operator), []),
});

export type ConfigFile = v.InferInput<typeof ConfigFile>;
export type ParsedConfig = v.InferOutput<typeof ConfigFile>;
export type PartnerConfig = v.InferOutput<typeof Partner>;
export type RouteConfig = v.InferOutput<typeof Route>;
export type LimitsConfig = v.InferOutput<typeof Limits>;
export type SlaConfig = v.InferOutput<typeof Sla>;
export type OdooConfig = v.InferOutput<typeof OdooSettings>;
