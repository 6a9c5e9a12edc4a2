/**
 * The queue store interface. The embedded default (append-only event log + lowdb collections)
 * and any later implementation (PostgreSQL) pass test/contract/store.test.ts.
 */
import type { Event } from '../../../shared/src/index.ts';
import type { StateLogs, StateLogsPlace } from './state-logs.ts';

/**
 * Where an event stands in the bridge.
 * - received:   durably stored and acknowledged to Odoo, not yet routed
 * - queued:     routed; its partner steps wait for their turn (earlier events of the aggregate first)
 * - delivering: a partner call is in flight
 * - retrying:   the last call failed for a transient reason; `run_at` says when it runs again
 * - blocked:    an earlier event of the same aggregate is dead; `blocked_by` names it
 * - manual:     no partner could take it (e.g. every carrier down, no fallback): a person must act
 * - delivered:  every partner step succeeded (or no partner is routed for it)
 * - dead:       in the dead-letter queue
 * - discarded:  an operator discarded it from the dead-letter queue
 */
export const EVENT_STATES = ['received', 'queued', 'delivering', 'retrying', 'blocked', 'manual', 'delivered', 'dead', 'discarded'] as const;
export type EventState = (typeof EVENT_STATES)[number];
/** States after which the engine never touches the event again without an operator. */
export const FINISHED_STATES: ReadonlySet<EventState> = new Set(['delivered', 'discarded']);
/** The states an event is in while it is still on its way to its partners (no person needs to act yet). */
export const PENDING_STATES: ReadonlySet<EventState> = new Set(['received', 'queued', 'delivering', 'retrying', 'blocked']);
export type UnfinishedState = Exclude<EventState, 'delivered' | 'discarded'>;
/** The states that are not finished: the ones `EventCounts.byState` reports. */
export const UNFINISHED_STATES = EVENT_STATES.filter((s): s is UnfinishedState => !FINISHED_STATES.has(s));

/** What the store knows about an event's delivery; all but `event` change over time. */
export interface EventStatus {
  state: EventState;
  /** Partner calls made for this event so far, over all its steps. */
  attempts: number;
  /** Human-readable last failure, with the partner's message. */
  last_error?: string;
  /** 'technical' (will retry or did retry until exhausted) or 'business' (a person must fix the data). */
  error_class?: 'technical' | 'business';
  /** The id of the earlier event of the same aggregate that holds this one back. */
  blocked_by?: string;
  /** When the bridge acknowledged it (RFC 3339). */
  received_at: string;
  /** Last status change (RFC 3339). */
  updated_at: string;
}

export interface StoredEvent extends EventStatus {
  event: Event;
}

/**
 * Events as the JSON text they arrived in: event i is `bytes[starts[i], ends[i])`, UTF-8, and
 * parses to exactly events[i]. A store may keep that text instead of serialising the event again.
 */
export interface EventTexts {
  bytes: Buffer;
  starts: number[];
  ends: number[];
}

export interface IngestResult {
  accepted: string[];
  duplicates: string[];
}

export interface EventFilter {
  state?: EventState;
  type?: string;
  aggregate?: string;
  /** At most this many (1..500). */
  limit: number;
  /** Opaque; from a previous page's `next_cursor`. */
  cursor?: string;
}
export interface Page<T> {
  items: T[];
  next_cursor?: string;
}

/** A keyed collection of small mutable records (queue rows, dead letters, milestone outbox). */
export interface Collection<T extends { id: string }> {
  get(id: string): T | undefined;
  /** Every record, in insertion order. Records are few: finished ones are deleted by their owner. */
  all(): T[];
  /** Inserts or replaces; resolves once durable. */
  put(records: T[]): Promise<void>;
  /** Resolves once durable. */
  delete(ids: string[]): Promise<void>;
}

/** An append-only log of JSON entries (audit trail, inbound webhook receipts). */
export interface AppendLog<T> {
  append(entries: T[]): Promise<void>;
  /** Entries for which `match` is true, oldest first. */
  query(match: (entry: T) => boolean, limit?: number): Promise<T[]>;
}

/** What `Store.counts` is asked: the age buckets, and the time ages are measured from. */
export interface CountsQuery {
  /** Upper bounds of the age buckets in seconds, ascending: bucket i counts ages below bound i (and not below bound i-1); one more bucket counts the rest. Default none (one bucket). */
  ageBoundsSeconds?: number[];
  /** Ages are measured to this time. Default now. */
  now?: Date;
}

/** Tallies of unfinished events for metrics and the overview, computed without reading event bodies. */
export interface EventCounts {
  /** Every unfinished state (0 when none), with its count split into the asked age buckets (`ages.length` = bounds + 1; an age below 0 counts as 0). */
  byState: Record<UnfinishedState, { count: number; ages: number[] }>;
  /** Events in state dead or manual by error class (an event with no class counts as technical). */
  deadLetters: Record<'dead' | 'manual', Record<'technical' | 'business', number>>;
  /** The earliest received event in a pending state (ties: the first received); undefined when none. */
  oldestPending?: { id: string; type: string; aggregate: string; state: EventState; received_at: string };
}

export interface Store {
  open(): Promise<void>;
  close(): Promise<void>;
  readonly isOpen: boolean;
  /**
   * Stores new events durably, then resolves. Ids accepted within the retention period come
   * back as duplicates and are not stored again, including under concurrent calls.
   */
  ingest(events: Event[], texts?: EventTexts): Promise<IngestResult>;
  get(id: string): Promise<StoredEvent | undefined>;
  list(filter: EventFilter): Promise<Page<StoredEvent>>;
  /** Records a status change; resolves once durable. Throws for an unknown id. */
  setStatus(id: string, patch: Partial<Omit<EventStatus, 'received_at' | 'updated_at'>>): Promise<StoredEvent>;
  /**
   * The same change without reading the event back (the engine's status writes: it holds the
   * body already). Changes made meanwhile may be written together; a change made after another
   * one of the same event is never overtaken by it. Throws for an unknown id.
   */
  patchStatus(id: string, patch: Partial<Omit<EventStatus, 'received_at' | 'updated_at'>>): Promise<void>;
  /** Events not in a finished state, in the order they were received (the engine's work on start). */
  unfinished(): Promise<StoredEvent[]>;
  /** Unfinished events counted by state, age and error class, without reading bodies (metrics scrape this). */
  counts(query?: CountsQuery): Promise<EventCounts>;
  /** Called after each durable ingest with the accepted events (the engine listens). */
  onAccepted(listener: (events: Event[]) => void): void;
  /** A named collection; the same name always gives the same collection. */
  collection<T extends { id: string }>(name: string): Collection<T>;
  /** A named append-only log. */
  log<T>(name: string): AppendLog<T>;
  /**
   * The engine's and the metrics' keyed and history logs, when the store keeps them itself
   * (PostgreSQL: in its schema; keyed logs found in files in `place.dir` are moved in once). Absent: files in `place.dir`, or memory;
   * callers go through `stateLogs(store, place)` in state-logs.ts, which decides.
   */
  stateLogs?(place: StateLogsPlace): StateLogs;
  /** Forgets finished events older than the retention period; returns how many. Runs on a timer too. */
  prune(now?: Date): Promise<number>;
}
