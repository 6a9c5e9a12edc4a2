/**
 * The embedded default store. Events and their status changes go to append-only segments
 * (group commit, one write per batch, optional fdatasync); an in-memory index keyed by id
 * gives dedup and lookups; small mutable queues live in lowdb collections; logs are segments too.
 * Why not events in lowdb: lowdb rewrites its whole file per write (~4 writes/s at 100k records),
 * so event bodies and their states must not live in a lowdb file.
 */
import { join } from 'node:path';
import { readdir } from 'node:fs/promises';
import type { Event } from '../../../shared/src/index.ts';
import { fileSegments, memorySegments, type Segment, type SegmentDir } from './segment.ts';
import { openLowdbCollection } from './lowdb-collection.ts';
import { EventIndex, type Entry } from './event-index.ts';
import {
  FINISHED_STATES, type AppendLog, type Collection, type EventFilter, type EventState, type EventStatus, type IngestResult,
  type Page, type Store, type StoredEvent,
} from './types.ts';

export interface EmbeddedStoreOptions {
  /** Folder for the data; undefined keeps everything in memory (tests). */
  dir?: string;
  /** fdatasync every group commit: survives power loss, costs throughput. Default off: survives process crashes. */
  fsync?: boolean;
  /** Ids are remembered (for duplicate detection) and finished events kept this long. Default 30 days. */
  retentionMs?: number;
  /** A segment is sealed and a new one started past this size. Default 64 MiB. */
  segmentBytes?: number;
  /** How often prune runs by itself (0 = never). Default hourly. */
  pruneEveryMs?: number;
  now?: () => Date;
}

/** One line in an event segment: a whole event with its status, or a status change. */
type EventRecord =
  | { t: 'e'; n: number; event: Event; status: EventStatus }
  | { t: 's'; id: string; patch: Partial<EventStatus> };


const DAY = 86_400_000;


export function createEmbeddedStore(options: EmbeddedStoreOptions = {}): Store {
  const { dir, fsync = false, retentionMs = 30 * DAY, segmentBytes = 64 << 20, pruneEveryMs = 3_600_000, now = () => new Date() } = options;
  const segments: SegmentDir = dir ? fileSegments(join(dir, 'events'), 'events', fsync) : memorySegments();
  const index = new EventIndex();
  /** Ids being written right now, so a concurrent duplicate waits for the same commit. */
  const inFlight = new Map<string, Promise<unknown>>();
  const open_: Segment[] = [];
  const collections = new Map<string, Promise<Collection<any>>>();
  const resolved = new Map<string, Collection<any>>();
  const collectionCache = new Map<string, Collection<any>>();
  const openCollection = (name: string) => {
    let ready = collections.get(name);
    if (!ready) {
      ready = openLowdbCollection<any>(dir ? join(dir, `${name}.json`) : undefined, fsync);
      collections.set(name, ready);
      void ready.then((c) => resolved.set(name, c), () => {});
    }
    return ready;
  };
  const logs = new Map<string, AppendLog<any>>();
  const listeners: ((events: Event[]) => void)[] = [];
  let current: Segment;
  let counter = 0;
  let isOpen = false;
  let pruneTimer: NodeJS.Timeout | undefined;

  const segmentOf = (no: number) => open_.find((s) => s.no === no)!;
  const toStored = async (e: Entry): Promise<StoredEvent> => {
    const rec = JSON.parse(await segmentOf(e.seg).read(e.off, e.len)) as EventRecord & { t: 'e' };
    const { n, type, aggregate, seg, off, len, ...status } = e;
    return { event: rec.event, ...status };
  };

  async function rotateIfFull() {
    if (current.size < segmentBytes) return;
    current = await segments.open(current.no + 1);
    open_.push(current);
  }

  /** Writes event records to the current segment and indexes them. */
  async function writeEvents(records: (EventRecord & { t: 'e' })[]) {
    await rotateIfFull();
    const seg = current;
    const lines = records.map((r) => JSON.stringify(r));
    const offsets = await seg.append(lines);
    records.forEach((r, i) => {
      index.set(r.event.id, { ...r.status, n: r.n, type: r.event.type, aggregate: r.event.aggregate, seg: seg.no, off: offsets[i], len: Buffer.byteLength(lines[i]) });
    });
  }

  function apply(rec: EventRecord, seg: number, off: number, len: number) {
    if (rec.t === 'e') {
      index.set(rec.event.id, { ...rec.status, n: rec.n, type: rec.event.type, aggregate: rec.event.aggregate, seg, off, len });
      counter = Math.max(counter, rec.n);
    } else {
      index.patch(rec.id, Object.fromEntries(Object.entries(rec.patch).map(([k, v]) => [k, v === null ? undefined : v])));
    }
  }

  const store: Store = {
    get isOpen() { return isOpen; },

    async open() {
      const nos = await segments.list();
      for (const no of nos) {
        const seg = await segments.open(no);
        open_.push(seg);
        for await (const { line, offset } of seg.scan()) {
          if (!line) continue;
          apply(JSON.parse(line) as EventRecord, no, offset, Buffer.byteLength(line));
        }
      }
      // Existing collections are read now, so their rows are there from the first synchronous get().
      if (dir) for (const f of await readdir(dir).catch(() => [] as string[])) if (f.endsWith('.json')) await openCollection(f.slice(0, -5));
      current = open_.at(-1) ?? (await segments.open(1));
      if (!open_.includes(current)) open_.push(current);
      isOpen = true;
      if (pruneEveryMs > 0) { pruneTimer = setInterval(() => void store.prune().catch(() => {}), pruneEveryMs); pruneTimer.unref(); }
    },

    async close() {
      isOpen = false;
      clearInterval(pruneTimer);
      await Promise.all(inFlight.values()).catch(() => {});
      for (const s of open_) await s.close();
      open_.length = 0;
    },

    async ingest(events) {
      if (!isOpen) throw new Error('store is not open');
      const result: IngestResult = { accepted: [], duplicates: [] };
      const fresh: (EventRecord & { t: 'e' })[] = [];
      const waits: Promise<unknown>[] = [];
      const at = now().toISOString();
      for (const event of events) {
        const pending = inFlight.get(event.id);
        if (index.has(event.id) || fresh.some((r) => r.event.id === event.id)) result.duplicates.push(event.id);
        else if (pending) { waits.push(pending); result.duplicates.push(event.id); }
        else fresh.push({ t: 'e', n: ++counter, event, status: { state: 'received', attempts: 0, received_at: at, updated_at: at } });
      }
      if (fresh.length) {
        const write = writeEvents(fresh);
        for (const r of fresh) inFlight.set(r.event.id, write);
        try {
          await write;
        } finally {
          for (const r of fresh) inFlight.delete(r.event.id);
        }
        result.accepted = fresh.map((r) => r.event.id);
      }
      // A duplicate of an id still being written is only reported once that write is durable;
      // if that write failed, the id was not stored, so the sender must retry.
      for (const w of waits) await w;
      if (fresh.length) for (const l of listeners) l(fresh.map((r) => r.event));
      return result;
    },

    async get(id) {
      const e = index.get(id);
      return e ? toStored(e) : undefined;
    },

    async list(filter: EventFilter): Promise<Page<StoredEvent>> {
      const after = filter.cursor ? Number.parseInt(filter.cursor, 36) : 0;
      const hits: Entry[] = [];
      for (const [, e] of index.where({ state: filter.state })) {
        if (e.n <= after) continue;
        if (filter.type && e.type !== filter.type) continue;
        if (filter.aggregate && e.aggregate !== filter.aggregate) continue;
        hits.push(e);
        if (hits.length > filter.limit) break;
      }
      hits.sort((a, b) => a.n - b.n);
      const more = hits.length > filter.limit;
      const page = hits.slice(0, filter.limit);
      return { items: await Promise.all(page.map(toStored)), next_cursor: more ? page.at(-1)!.n.toString(36) : undefined };
    },

    async setStatus(id, patch) {
      const e = index.get(id);
      if (!e) throw new Error(`unknown event ${id}`);
      const full: Partial<EventStatus> = { ...patch, updated_at: now().toISOString() };
      // A field set to undefined is cleared: written as null, since JSON would drop the key and a
      // restart would bring the old value back.
      await current.append([JSON.stringify({ t: 's', id, patch: full } satisfies EventRecord, (_k, v) => (v === undefined ? null : v))]);
      index.patch(id, full);
      return toStored(index.get(id)!);
    },

    async unfinished() {
      const open = [...index.where({ notStates: FINISHED_STATES })].map(([, e]) => e).sort((a, b) => a.n - b.n);
      return Promise.all(open.map(toStored));
    },

    onAccepted(listener) { listeners.push(listener); },

    collection<T extends { id: string }>(name: string): Collection<T> {
      const cached = collectionCache.get(name);
      if (cached) return cached;
      // Collections on disk were opened by open(); a new one is empty until its first put.
      const ready = openCollection(name) as Promise<Collection<T>>;
      const wrapper: Collection<T> = {
        get: (id) => resolved.get(name)?.get(id),
        all: () => resolved.get(name)?.all() ?? [],
        put: async (rs) => (await ready).put(rs),
        delete: async (ids) => (await ready).delete(ids),
      };
      collectionCache.set(name, wrapper);
      return wrapper;
    },

    log<T>(name: string): AppendLog<T> {
      let log = logs.get(name);
      if (!log) { log = segmentLog<T>(dir ? fileSegments(join(dir, 'logs'), name, fsync) : memorySegments()); logs.set(name, log); }
      return log;
    },

    async prune(at = now()) {
      const cutoff = at.getTime() - retentionMs;
      let forgotten = 0;
      for (const [id, e] of index.entries()) {
        if (FINISHED_STATES.has(e.state) && Date.parse(e.received_at) < cutoff) {
          index.delete(id);
          forgotten++;
        }
      }
      // Free sealed segments oldest first: survivors are rewritten whole (with their current
      // status) into the current segment, so no status record in a freed segment is still needed.
      for (const seg of [...open_]) {
        if (seg === current) break;
        const survivors = [...index.where({ seg: seg.no })].map(([, e]) => e);
        const recent = survivors.filter((e) => Date.parse(e.received_at) >= cutoff).length;
        if (recent > 1000) break; // still mostly inside the retention window: keep it for a later prune
        const records = await Promise.all(survivors.map(async (e) => {
          const { event } = await toStored(e);
          const { n, type, aggregate, seg: _s, off, len, ...status } = e;
          return { t: 'e' as const, n, event, status };
        }));
        if (records.length) await writeEvents(records);
        await seg.remove();
        open_.splice(open_.indexOf(seg), 1);
      }
      if (forgotten) index.compact();
      return forgotten;
    },
  };
  return store;
}

/** An append-only log over segments; queries scan it (logs are read rarely, by operators). */
function segmentLog<T>(segments: SegmentDir): AppendLog<T> {
  let seg: Promise<Segment> | undefined;
  const current = () => (seg ??= segments.list().then((nos) => segments.open(nos.at(-1) ?? 1)));
  return {
    async append(entries) {
      await (await current()).append(entries.map((e) => JSON.stringify(e)));
    },
    async query(match, limit = 1000) {
      const out: T[] = [];
      for await (const { line } of (await current()).scan()) {
        if (!line) continue;
        const entry = JSON.parse(line) as T;
        if (match(entry)) out.push(entry);
        if (out.length >= limit) break;
      }
      return out;
    },
  };
}
