/** What the engine offers the rest of the bridge (routes, dashboard, runtime), and what it is built from. */
import type { AdapterFactory } from '../adapters/types.ts';
import type { Config } from '../config/load.ts';
import type { Logger } from '../log.ts';
import type { Store } from '../store/types.ts';
import type { StateLogs } from '../store/state-logs.ts';
import type { Writeback } from '../odoo/outbox.ts';
import type { OdooClient } from '../odoo/client.ts';
import type { DeadLetter, DeadLetterFilter } from './dead-letter-view.ts';
import type { EngineIO, EngineMetrics } from './engine-parts.ts';
import type { AuditEntry, Job } from './jobs.ts';
import type { PointInTimeRequest, PointInTimeResult } from './point-in-time.ts';

export interface EngineOptions {
  store: Store;
  config: Config;
  registry: Record<string, AdapterFactory>;
  io?: Partial<EngineIO>;
  /** The Odoo write-back client; built from `config.odoo` when omitted; none: milestones wait in the outbox. */
  odoo?: OdooClient;
  logger: Logger;
  /** Prometheus figures (bridge/src/observability/metrics.ts `createMetrics()`), optional. */
  metrics?: EngineMetrics;
  /**
   * How long an aggregate's memory (partner ids, who may speak for it, last sequence) is kept after
   * its last activity. Default 180 days: beyond late tracking webhooks and returns.
   */
  aggregateRetentionMs?: number;
  /**
   * Folder of the engine's logs (jobs, aggregate memory, audit): the runtime gives `<data dir>/state`.
   * Ignored when the store keeps the logs itself (`Store.stateLogs`, PostgreSQL). Undefined keeps
   * them in memory with the store object (tests): a bridge on disk must set it, or a restart
   * forgets its work.
   */
  stateDir?: string;
  /** fdatasync the engine's logs on every group commit (BRIDGE_FSYNC=1). */
  fsync?: boolean;
  /** The logs themselves, instead of `stateLogs(store, { dir: stateDir, fsync })` (tests that simulate a crash). */
  logs?: StateLogs;
  /** Most events routed into jobs in memory at once; later ones wait in the store. Default 5000. */
  maxActiveEvents?: number;
  /** How long audit entries are kept (whole log segments are dropped). Default 30 days, as events. */
  auditRetentionMs?: number;
}

export interface ReplayOptions {
  actor: string;
  /** Issue a new idempotency key (the partner treats it as a new request). Default: keep the key. */
  new_key?: boolean;
  /** An edited payload; re-validated against the contract before anything changes. */
  payload?: unknown;
}

export interface Engine {
  /** Recovers work left by a crash, routes unrouted events, starts the timers. */
  start(): Promise<void>;
  /** Stops timers and waits for calls in flight. */
  stop(): Promise<void>;
  /** Runs everything due now until nothing more is (the timers call it; tests call it after moving the clock). */
  runDue(): Promise<void>;
  /** Partner milestones (from the inbound gateway or polling): ownership checked, then queued for Odoo and visibility partners. */
  acceptMilestones(milestones: unknown[], from: { partner: string }): Promise<{ accepted: string[]; refused: { id?: string; reason: string }[] }>;
  /** Collects updates from warehouses that offer `collectUpdates` now (the timer does it every poll_interval_ms). */
  pollNow(): Promise<void>;
  deadLetters: {
    list(filter?: DeadLetterFilter, page?: { limit?: number; cursor?: string }): { items: DeadLetter[]; next_cursor?: string };
    /** One entry, without its body. */
    get(id: string): DeadLetter | undefined;
    /** One entry with its body (the event, with an edited payload if any, or the milestone). */
    show(id: string): Promise<DeadLetter | undefined>;
    replay(id: string, options: ReplayOptions): Promise<DeadLetter | { id: string; state: string }>;
    replayMany(filter: DeadLetterFilter, options: Omit<ReplayOptions, 'payload'> & { limit?: number }): Promise<{ replayed: string[]; failed: { id: string; error: string }[] }>;
    discard(id: string, options: { actor: string; note?: string }): Promise<{ id: string; state: string }>;
  };
  /** The audit trail of an event (or dead-letter target), oldest first; without either, the oldest entries; `actions` narrows it. */
  audit(filter: { event_id?: string; target?: string; limit?: number; actions?: readonly string[] }): Promise<AuditEntry[]>;
  /** What operators and /readyz may want: breakers, queue depths, write-back health. */
  status(): EngineStatus;
  /** Current jobs (tests and diagnostics). */
  jobs(): Job[];
  /** The open partner steps of an event, and publishes of milestones it caused (dashboard). */
  steps(eventId: string): Job[];
  /** Sizes of what the engine holds in memory and on disk (diagnostics, the volume benchmark). */
  footprint(): { jobs: number; active_events: number; backlog: boolean; hot_aggregates: number; aggregates: number };
  readonly writeback: Writeback;
  /** Sends events already delivered again to one partner (point-in-time.ts); `dry_run` lists them only. */
  replayFrom(request: PointInTimeRequest): Promise<PointInTimeResult>;
}

export interface EngineStatus {
  /** headroom: share of the partner's rate limit still available (0..1), when known. */
  partners: Record<string, { circuit: string; in_flight: number; pending: number; headroom?: number }>;
  jobs: { pending: number; running: number; dead: number; manual: number };
  writeback: ReturnType<Writeback['status']>;
}

