/** The engine's durable rows: delivery jobs, aggregate memory, audit entries. */
import type { Milestone } from '../../../shared/src/index.ts';
import { BUSINESS_REASONS, type PartnerData, type StepResult } from '../adapters/types.ts';
import type { Action } from './routing.ts';

/** Names of the engine's logs (keyed logs for jobs and aggregates, a history log for the audit). */
export const JOBS = 'engine_jobs';
/** The aggregate memory's keyed log. */
export const AGGREGATES = 'engine_aggregates';
export const AUDIT = 'audit';
/** The keyed log of point-in-time replay runs (what each run has queued). */
export const POINT_IN_TIME_RUNS = 'engine_point_in_time';

export type JobState = 'pending' | 'running' | 'done' | 'dead' | 'manual' | 'discarded';
/** Why a job needs a person, beyond the partner's own business reasons. */
export const JOB_REASONS = [
  ...BUSINESS_REASONS, 'attempts_exhausted', 'no_carrier_available', 'out_of_order', 'voidable_label',
  /** An interrupted call of an `unsafe` step: the partner may have acted and cannot be asked. */
  'may_have_applied',
  /** No routing rule matches the event: nobody was told. */
  'unrouted',
] as const;
export type JobReason = (typeof JOB_REASONS)[number];

/**
 * One partner call to make: a step of an event (an order to a warehouse, a shipment to a carrier)
 * or a milestone to publish to a visibility partner. Written from its first call on (a fresh job
 * is planned again from its stored event); deleted once its event is finished.
 */
export interface Job {
  /** `<subject>/<step>`. */
  id: string;
  /**
   * `event`: a step of an outbound event; `publish`: a milestone for a visibility partner; `void`:
   * after a fallback, finding and voiding a label the carrier given up on may have bought.
   */
  kind: 'event' | 'publish' | 'void';
  /** What operators act on (the dead-letter id): the event id, `<milestone id>~<partner>` for a publish, `<event id>~void:<partner>` for a void check. */
  subject: string;
  /** The event (kind event) or the milestone's causing event, if any. */
  event_id?: string;
  /** Event or milestone type, for filters. */
  type: string;
  aggregate: string;
  /** Ordering group: the aggregate for events; `<partner>|<aggregate>` for publishes. */
  group: string;
  /** Position in the group: the event's `sequence`; for publishes an increasing counter. Lower runs first. */
  seq: number;
  /** The step's stable name within its subject (the routed partner id); part of `key`. */
  step: string;
  /** `route`: a placeholder for an event no rule routes (manual, no partner). */
  action: Action | 'publishMilestone' | 'voidCheck' | 'route';
  /** Partners to try in order (the routed one, then configured fallbacks); `candidate` indexes the current one. */
  candidates: string[];
  candidate: number;
  /** Sent with every call of this step as the idempotency key: same on every retry and replay unless an operator asks for a new one. */
  key: string;
  /** Counted failed attempts (calls answered with Retry-After and calls never made are not counted). */
  attempts: number;
  /** Counted attempts allowed before the dead-letter queue; 0 = never give up on transient errors (visibility outages). */
  max_attempts: number;
  /** Partner calls made, of any outcome. */
  calls: number;
  /** Earliest time the next call may go (RFC 3339). */
  run_at: string;
  state: JobState;
  /** Last failure, with the partner's message. */
  last_error?: string;
  /** technical: transient failures exhausted; business: the partner refused and a person must fix the data. */
  error_class?: 'technical' | 'business';
  reason?: JobReason;
  /** A call may have reached the partner without its answer being recorded: the step's safety rule decides the next call (adapters/types.ts StepSafety). */
  in_doubt: boolean;
  /** The partner's answer, stored as soon as it arrived (never asked for twice). */
  result?: StepResult;
  /** Whether `result` (data bag, milestones) has been applied; false after a crash in between. */
  applied?: boolean;
  /** Carriers left behind by a fallback after a call that may have acted (a label may exist there). */
  abandoned?: string[];
  /** Operator-edited payload used instead of the stored event's (the stored event keeps what Odoo sent). */
  payload?: unknown;
  /** The milestone to publish (kind publish). */
  milestone?: Milestone;
  /** Replays so far, and how many of them asked for a new key. */
  replays: number;
  rekeys: number;
  created_at: string;
  updated_at: string;
  /** When it entered the dead-letter queue (dead or manual). */
  dead_at?: string;
  /** A point-in-time replay's run (point-in-time.ts): the job re-sends a delivered event to one partner only. */
  replay_run?: string;
}

/** What the engine remembers per aggregate between its events. */
export interface AggregateRow {
  /** The aggregate key ("stock.picking:17"). */
  id: string;
  /** Highest sequence finished (delivered or discarded); a later-arriving lower sequence is out of order. */
  high_water: number;
  /** Partner id -> the partner's opaque data bag (its own ids), handed back on later steps. */
  data: Record<string, PartnerData>;
  /** Action -> partner that performed it, so a cancel reaches whoever did the original (even a fallback). */
  performed: Record<string, string>;
  /** Partners a step of this aggregate was delivered to: they may speak for it (ownership). */
  partners: string[];
  updated_at: string;
}

/** What an audit entry records: the event's submission, a partner request built from it, a partner attempt, a status change, an operator action. */
export type AuditAction = 'submitted' | 'transformed' | 'attempt' | 'state' | 'replay' | 'discard' | 'void_check';
export const AUDIT_ACTIONS: readonly AuditAction[] = ['submitted', 'transformed', 'attempt', 'state', 'replay', 'discard', 'void_check'];
/** What people did (as opposed to what the bridge recorded by itself). */
export const OPERATOR_ACTIONS: readonly AuditAction[] = ['replay', 'discard'];

/**
 * One audit entry: who, when, what. Filed under its event (or, without one, its dead-letter id).
 * Never holds secrets: requests are recorded without headers, with credentials scrubbed.
 */
export interface AuditEntry {
  id: string;
  at: string;
  /** `odoo` (submission), `bridge` (the engine), or the operator. */
  actor: string;
  action: AuditAction;
  /** The event id, dead-letter id or publish subject acted on. */
  target: string;
  event_id?: string;
  /** submitted: what arrived. */
  type?: string;
  aggregate?: string;
  sequence?: number;
  /** attempt / transformed: the partner step. */
  partner?: string;
  step?: string;
  /** The idempotency key the call carried. */
  key?: string;
  /** attempt: which call of the step this was (1 = first). */
  call?: number;
  /**
   * attempt: `started` is written durably before the request leaves; the call's outcome follows;
   * `interrupted` is recorded on the next start for a call whose process died during it.
   */
  outcome?: 'started' | 'interrupted' | 'success' | 'retryable' | 'permanent' | 'timeout' | 'circuit_open';
  error_class?: 'technical' | 'business';
  /** HTTP status of the partner's answer, when it answered. */
  status?: number;
  duration_ms?: number;
  error?: string;
  /** attempt: the HTTP requests the adapter made, without bodies. */
  requests?: { method: string; path: string; status?: number; ms: number }[];
  /** transformed: the request built from the canonical event (body redacted, at most 4 KiB). */
  request?: { method: string; path: string; body?: unknown; truncated?: boolean; sha256?: string };
  /** state: the event's state before and after, with why. */
  from?: string;
  to?: string;
  last_error?: string;
  blocked_by?: string;
  /** Operator actions: whether a new idempotency key was issued; the keys before and after. */
  new_key?: boolean;
  keys?: { before: string[]; after: string[] };
  /** For an edited payload: the payload before and after. */
  before?: unknown;
  after?: unknown;
  /** For bulk actions: the filter used. */
  filter?: unknown;
  note?: string;
}
