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
import { encodeLines, fileSegments, memorySegments, type EncodedLines, type Segment, type SegmentDir } from './segment.ts';
import { openLowdbCollection } from './lowdb-collection.ts';
import { EventIndex, type Entry } from './event-index.ts';
import { encodeReceived, type EventRecord } from './event-record.ts';
import { boundsOf } from './event-counts.ts';
import {
  FINISHED_STATES, type AppendLog, type Collection, type EventFilter, type EventState, type EventStatus, type EventTexts, type IngestResult,
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

  /** Starts a new segment when the current one is full; concurrent writers share one rotation. */
  let rotation: Promise<void> | undefined;
  function rotateIfFull(): Promise<void> | undefined {
    if (rotation || current.size < segmentBytes) return rotation;
    rotation = segments.open(current.no + 1).then((seg) => { current = seg; open_.push(seg); }).finally(() => { rotation = undefined; });
    return rotation;
  }

  /** Writes event records to the current segment and indexes them (prune's relocated survivors). */
  async function writeEvents(records: (EventRecord & { t: 'e' })[]) {
    await rotateIfFull();
    const seg = current;
    const lines = encodeLines(records.map((r) => JSON.stringify(r)));
    const base = await seg.append(lines);
    records.forEach((r, i) => {
      index.set(r.event.id, { ...r.status, n: r.n, type: r.event.type, aggregate: r.event.aggregate, seg: seg.no, off: base + lines.starts[i], len: lines.lengths[i] });
    });
  }

  /**
   * Writes newly received events, already encoded and numbered from `firstN`, and indexes them once
   * durable. It holds only what the index needs, not the events: a batch waiting for its write
   * keeps little alive, which is what keeps garbage collection cheap under load.
   */
  async function writeReceived(batch: { ids: string[]; types: string[]; aggregates: string[]; lines: EncodedLines; firstN: number; at: number }) {
    await rotateIfFull();
    const seg = current;
    const base = await seg.append(batch.lines);
    const { ids, types, aggregates, lines, firstN, at } = batch;
    for (let i = 0; i < ids.length; i++) {
      index.addReceived(ids[i], { n: firstN + i, type: types[i], aggregate: aggregates[i], seg: seg.no, off: base + lines.starts[i], len: lines.lengths[i], at });
    }
  }

  /** Waits for this call's write and for the writes of its in-flight duplicates, then tells listeners. */
  async function settle(write: Promise<void> | undefined, accepted: string[], waits: Set<Promise<unknown>>, heard: Event[] | undefined) {
    if (write) {
      try {
        await write;
      } finally {
        for (const id of accepted) inFlight.delete(id);
      }
    }
    // A duplicate of an id still being written is only reported once that write is durable;
    // if that write failed, the id was not stored, so the sender must retry.
    for (const w of waits) await w;
    if (heard) for (const l of listeners) l(heard);
  }

  function apply(rec: EventRecord, seg: number, off: number, len: number) {
    if (rec.t === 'e') {
      index.set(rec.event.id, { ...rec.status, n: rec.n, type: rec.event.type, aggregate: rec.event.aggregate, seg, off, len });
      counter = Math.max(counter, rec.n);
    } else {
      index.patch(rec.id, Object.fromEntries(Object.entries(rec.patch).map(([k, v]) => [k, v === null ? undefined : v])));
    }
  }

  /** The ingest: everything needed from the events is taken synchronously; only ids and encoded bytes wait for the write. */
  function receive(events: Event[], texts: EventTexts | undefined): Promise<IngestResult> {
    if (!isOpen) throw new Error('store is not open');
    const accepted: string[] = [];
    const duplicates: string[] = [];
    const fresh: Event[] = [];
    const freshTexts: EventTexts | undefined = texts && { bytes: texts.bytes, starts: [], ends: [] };
    const mine = new Set<string>();
    const waits = new Set<Promise<unknown>>();
    events.forEach((event, i) => {
      const id = event.id;
      const pending = inFlight.get(id);
      if (mine.has(id) || index.has(id)) duplicates.push(id);
      else if (pending) { waits.add(pending); duplicates.push(id); }
      else {
        mine.add(id);
        accepted.push(id);
        fresh.push(event);
        freshTexts?.starts.push(texts!.starts[i]);
        freshTexts?.ends.push(texts!.ends[i]);
      }
    });
    let write: Promise<void> | undefined;
    if (fresh.length) {
      const at = now();
      const iso = at.toISOString();
      const firstN = counter + 1;
      counter += fresh.length;
      const lines = encodeReceived(fresh, freshTexts, firstN, { state: 'received', attempts: 0, received_at: iso, updated_at: iso });
      write = writeReceived({ ids: accepted, types: fresh.map((e) => e.type), aggregates: fresh.map((e) => e.aggregate), lines, firstN, at: at.getTime() });
      // Concurrent calls with these ids wait for this write.
      for (const id of accepted) inFlight.set(id, write);
    }
    return settle(write, accepted, waits, listeners.length ? fresh : undefined).then(() => ({ accepted, duplicates }));
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

    ingest(events, texts) {
      try {
        return receive(events, texts);
      } catch (e) {
        // Never throws: a failure while encoding is a failed ingest, like a failed write.
        return Promise.reject(e);
      }
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
      await store.patchStatus(id, patch);
      return toStored(index.get(id)!);
    },

    async patchStatus(id, patch) {
      if (!index.get(id)) throw new Error(`unknown event ${id}`);
      const full: Partial<EventStatus> = { ...patch, updated_at: now().toISOString() };
      // A field set to undefined is cleared: written as null, since JSON would drop the key and a
      // restart would bring the old value back.
      await current.append(encodeLines([JSON.stringify({ t: 's', id, patch: full } satisfies EventRecord, (_k, v) => (v === undefined ? null : v))]));
      index.patch(id, full);
    },

    async unfinished() {
      const open = [...index.where({ notStates: FINISHED_STATES })].map(([, e]) => e).sort((a, b) => a.n - b.n);
      return Promise.all(open.map(toStored));
    },

    async counts(query) {
      return index.counts(boundsOf(query), (query?.now ?? now()).getTime());
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
      await (await current()).append(encodeLines(entries.map((e) => JSON.stringify(e))));
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
