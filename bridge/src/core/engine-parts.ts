/**
 * What the engine's pieces share, built once by `createEngine` (engine.ts). Each piece takes only
 * the part of it it needs (`Pick<Parts, ...>`), so its dependencies are named at its door.
 */
import type { PartnerAdapter } from '../adapters/types.ts';
import type { Config, ResolvedPartner } from '../config/load.ts';
import type { Logger } from '../log.ts';
import type { KeyedLog } from '../store/keyed-log.ts';
import type { Store } from '../store/types.ts';
import type { Writeback } from '../odoo/outbox.ts';
import type { AggregateMemory } from './aggregates.ts';
import type { auditTrail } from './audit.ts';
import type { createHeadroom } from './headroom.ts';
import type { JobIndex } from './job-index.ts';
import type { EngineEvent } from './engine-events.ts';
import type { Event } from '../../../shared/src/index.ts';
import type { Job } from './jobs.ts';
import type { PartnerGate } from './policy.ts';

/** I/O the engine takes from outside, so tests run on a fake clock with no network. */
export interface EngineIO {
  fetch: typeof fetch;
  now: () => Date;
  random: () => number;
  setTimeout: (fn: () => void, ms: number) => unknown;
  clearTimeout?: (handle: any) => void;
  /** Folder root for file-based partners. */
  dataDir?: string;
}

/**
 * The metrics the engine records, when given (structurally bridge/src/observability/metrics.ts's
 * `Metrics`; the engine does not import it).
 */
export interface EngineMetrics {
  partnerCall(partnerId: string, outcome: 'success' | 'retryable' | 'permanent' | 'timeout' | 'circuit_open', secondsTaken: number, errorClass?: 'none' | 'technical' | 'business'): void;
  rateLimited(partnerId: string): void;
  deadLettered(errorClass: 'technical' | 'business', reason?: string): void;
  orderRelease(partnerId: string, ok: boolean): void;
  labelRequest(partnerId: string, ok: boolean): void;
  firstPartnerRequest(event: { type: string; occurred_at: string }, at?: Date): void;
  eventDelivered(event: { type: string; aggregate: string }, at?: Date): void;
  milestonesWritten(milestones: { type: string; occurred_at: string; aggregate: string }[], at?: Date): void;
  milestonesSeen(milestones: { type: string; aggregate: string }[]): void;
  /** Odoo refused a write-back call or item (refusal.ts's class). */
  writebackRefused?(queue: 'milestones' | 'states', refusal: string): void;
}

export type AuditTrail = ReturnType<typeof auditTrail>;

export interface Parts {
  config: Config;
  store: Store;
  logger: Logger;
  metrics?: EngineMetrics;
  io: EngineIO;
  nowMs(): number;
  iso(ms?: number): string;
  index: JobIndex;
  /** The jobs' and aggregates' logs, set when the engine's logs are open. */
  logs: { jobs: KeyedLog<Job>; aggs: AggregateMemory };
  audit: AuditTrail;
  /** Credential values, scrubbed from anything recorded. */
  secrets: string[];
  partners: Map<string, ResolvedPartner>;
  adapters: Map<string, PartnerAdapter>;
  gates: Map<string, PartnerGate>;
  headroom: ReturnType<typeof createHeadroom>;
  writeback: Writeback;
  /**
   * The bodies of the events admitted and still active (at most the admission window), as they
   * were stored: a partner call reads its event from here, not from the store again. Filled by
   * intake, emptied as events settle or wait for a person; a miss reads the store.
   */
  bodies: Map<string, Event>;
  /** Tells the engine's listeners (metrics, log) what happened. */
  announce(e: EngineEvent): void;
  /** Writes jobs durably and re-files them in the index. */
  persist(list: Job[]): Promise<void>;
}
