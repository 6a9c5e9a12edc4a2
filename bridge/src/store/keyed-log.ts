/**
 * A keyed collection kept as an append-only log: every put or delete is a line appended with
 * group commit (flat cost however many records there are, unlike a lowdb file rewritten whole),
 * an in-memory hash index says where each key's latest record lies (about 40 bytes a key), and
 * records are read from disk when asked for. When the sealed segments hold more dead bytes than
 * live ones, their live records are copied forward and the segments deleted, oldest first.
 *
 * Line: `<JSON key>\t<stamp>\t<JSON record>`; a delete is the same with nothing after the second tab.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { batchWriter } from './batch-writer.ts';
import { fileSegments, memorySegments, type Segment } from './segment.ts';
import { SlotIndex, type Loc } from './slot-index.ts';

export interface KeyedLogOptions<T> {
  /** Folder of the segment files; undefined keeps them in memory (tests). */
  dir?: string;
  name: string;
  fsync?: boolean;
  /** A new segment is started past this size. Default 16 MiB. */
  segmentBytes?: number;
  /** The record's key. Default `record.id`. */
  key?: (record: T) => string;
  /** A number kept in memory with the key (a time, for pruning without reading records). Default 0. */
  stamp?: (record: T) => number;
}

export interface KeyedLog<T> {
  readonly size: number;
  has(key: string): boolean;
  /** The stamp of the key's latest record. */
  stamp(key: string): number | undefined;
  /** Keys whose latest record's stamp is below `cutoff` (read from disk: the index keeps no keys). */
  keysStampedBefore(cutoff: number): AsyncIterable<string>;
  get(key: string): Promise<T | undefined>;
  /** The same, read synchronously (for callers whose interface is synchronous; a disk read per call). */
  getSync(key: string): T | undefined;
  /** Every live record, read synchronously (rare callers with a synchronous interface). */
  allSync(): T[];
  /** Every live record (recovery), read sequentially. */
  values(): AsyncIterable<T>;
  /**
   * Inserts or replaces; resolves once written (and synced with fsync). The records are
   * serialised before this returns: changes made to them afterwards are not written (callers
   * need no copy).
   */
  put(records: T[]): Promise<void>;
  delete(keys: string[]): Promise<void>;
  /** Runs compaction now if it is due (it also runs by itself when a segment fills). */
  compact(): Promise<void>;
  close(): Promise<void>;
}

/** `text`: the record's JSON, taken when it was put (undefined: a delete); `raw`: a whole line copied by compaction. */
type Op = { key: string; stamp: number; text?: string; raw?: string };

function parseLine(line: string): { key: string; stamp: number; body: string } {
  const a = line.indexOf('\t');
  const b = line.indexOf('\t', a + 1);
  return { key: JSON.parse(line.slice(0, a)), stamp: Number(line.slice(a + 1, b)), body: line.slice(b + 1) };
}

/** Opens (replays) a keyed log. */
export async function openKeyedLog<T>(o: KeyedLogOptions<T>): Promise<KeyedLog<T>> {
  const keyOf = o.key ?? ((r: T) => (r as { id: string }).id);
  const stampOf = o.stamp ?? (() => 0);
  const segmentBytes = o.segmentBytes ?? 16 << 20;
  const segments = o.dir ? fileSegments(o.dir, o.name, o.fsync ?? false) : memorySegments();
  const open: Segment[] = [];
  const index = new SlotIndex();
  for (const no of await segments.list()) {
    const seg = await segments.open(no);
    open.push(seg);
    for await (const { line, offset } of seg.scan()) {
      if (!line) continue;
      const { key, stamp, body } = parseLine(line);
      if (body) index.set(key, { seg: no, off: offset, len: Buffer.byteLength(line) }, stamp);
      else index.delete(key);
    }
  }
  if (!open.length) open.push(await segments.open(1));

  /** Writes not yet on disk, so a read right after a put sees it. */
  const pending = new Map<string, { n: number; text?: string }>();
  let serial = 0;
  let compacting: Promise<void> | undefined;
  const writer = batchWriter<Op, { op: Op; loc: Loc }[]>({
    segments, open, segmentBytes,
    assemble: (ops, place) => ops.map((op) => ({
      op,
      loc: place(op.raw ?? `${JSON.stringify(op.key)}\t${op.stamp}\t${op.text ?? ''}`),
    })),
    onRotate: () => void log.compact(),
  });
  const segmentOf = (no: number) => open.find((s) => s.no === no);
  /** Synchronous reads: the files by name (fileSegments' naming), or in memory the records themselves. */
  const readFds = new Map<number, number>();
  const memory = o.dir ? undefined : new Map<string, string>();
  const fileOf = (no: number) => join(o.dir!, `${o.name}-${String(no).padStart(6, '0')}.jsonl`);
  function readSyncAt(loc: Loc): string {
    let fd = readFds.get(loc.seg);
    if (fd === undefined) readFds.set(loc.seg, (fd = openSync(fileOf(loc.seg), 'r')));
    const buf = Buffer.alloc(loc.len);
    readSync(fd, buf, 0, loc.len, loc.off);
    return buf.toString('utf8');
  }
  function forgetSegment(no: number) {
    const fd = readFds.get(no);
    if (fd !== undefined) closeSync(fd);
    readFds.delete(no);
  }

  async function write(ops: Op[]) {
    const marks = ops.map((op) => {
      const n = ++serial;
      if (!op.raw) pending.set(op.key, { n, text: op.text });
      return n;
    });
    try {
      const placed = await writer.push(ops);
      for (const { op, loc } of placed) {
        if (op.text !== undefined || op.raw) index.set(op.key, loc, op.stamp);
        else index.delete(op.key);
        if (memory && !op.raw) {
          if (op.text === undefined) memory.delete(op.key);
          else memory.set(op.key, op.text);
        }
      }
    } finally {
      ops.forEach((op, i) => { if (pending.get(op.key)?.n === marks[i]) pending.delete(op.key); });
    }
  }

  async function read(key: string): Promise<T | undefined> {
    for (let tries = 0; tries < 3; tries++) {
      const loc = index.get(key);
      if (!loc) return undefined;
      try {
        const line = parseLine(await segmentOf(loc.seg)!.read(loc.off, loc.len));
        // Another key with the same 64-bit hash: this one is not stored.
        return line.key === key ? (JSON.parse(line.body) as T) : undefined;
      } catch (e) {
        // Compaction moved the record and removed its segment meanwhile: look it up again.
        if (index.isAt(key, loc)) throw e;
      }
    }
    throw new Error(`${o.name}: cannot read ${key}`);
  }

  /** Copies the live records of every sealed segment forward and deletes the segment, oldest first. */
  async function compactNow() {
    const sealed = open.slice(0, -1);
    let total = 0;
    let live = 0;
    for (const s of sealed) {
      total += s.size;
      live += index.liveBytes.get(s.no) ?? 0;
    }
    if (total - live < Math.max(live, segmentBytes)) return;
    for (const seg of sealed) {
      const slots = [...index.slots({ seg: seg.no })];
      for (let i = 0; i < slots.length; i += 500) {
        const chunk = slots.slice(i, i + 500);
        const lines = await Promise.all(chunk.map((loc) => seg.read(loc.off, loc.len)));
        // Only records still the latest, with no newer write queued: a put made from now on is
        // queued after these copies, so it wins on disk and in the index.
        const copies: Op[] = [];
        chunk.forEach((loc, j) => {
          const { key } = parseLine(lines[j]);
          if (index.isAt(key, loc) && !pending.has(key)) copies.push({ key, stamp: loc.stamp, raw: lines[j] });
        });
        if (copies.length) await write(copies);
      }
      forgetSegment(seg.no);
      await seg.remove();
      open.splice(open.indexOf(seg), 1);
      index.liveBytes.delete(seg.no);
    }
  }

  const log: KeyedLog<T> = {
    get size() { return index.size; },
    has: (key) => (pending.has(key) ? pending.get(key)!.text !== undefined : index.has(key)),
    stamp: (key) => index.get(key)?.stamp,
    async *keysStampedBefore(cutoff) {
      const old = [...index.slots()].filter((s) => s.stamp < cutoff);
      for (const loc of old) {
        const seg = segmentOf(loc.seg);
        if (!seg) continue;
        const { key } = parseLine(await seg.read(loc.off, loc.len).catch(() => '""\t0\t'));
        if (key && index.isAt(key, loc)) yield key;
      }
    },
    async get(key) {
      const p = pending.get(key);
      if (p) return p.text === undefined ? undefined : (JSON.parse(p.text) as T);
      return read(key);
    },
    getSync(key) {
      const p = pending.get(key);
      if (p) return p.text === undefined ? undefined : (JSON.parse(p.text) as T);
      if (memory) return memory.has(key) ? (JSON.parse(memory.get(key)!) as T) : undefined;
      const loc = index.get(key);
      if (!loc) return undefined;
      const line = parseLine(readSyncAt(loc));
      return line.key === key ? (JSON.parse(line.body) as T) : undefined;
    },
    allSync() {
      if (memory) return [...memory.values()].map((v) => JSON.parse(v) as T);
      return [...index.slots()].map((loc) => JSON.parse(parseLine(readSyncAt(loc)).body) as T);
    },
    async *values() {
      for (const seg of [...open]) {
        for await (const { line, offset } of seg.scan()) {
          if (!line) continue;
          const { key, body } = parseLine(line);
          if (body && index.isAt(key, { seg: seg.no, off: offset })) yield JSON.parse(body) as T;
        }
      }
    },
    async put(records) {
      if (records.length) await write(records.map((r) => ({ key: keyOf(r), stamp: stampOf(r), text: JSON.stringify(r) })));
    },
    async delete(keys) {
      // A key never written needs no tombstone.
      const ops = keys.filter((k) => index.has(k) || pending.has(k)).map((key) => ({ key, stamp: 0 }));
      if (ops.length) await write(ops);
    },
    compact() {
      compacting ??= compactNow().finally(() => { compacting = undefined; });
      return compacting;
    },
    async close() {
      await writer.idle();
      await compacting?.catch(() => undefined);
      for (const no of [...readFds.keys()]) forgetSegment(no);
      for (const s of open) await s.close();
    },
  };
  return log;
}

/** The folder for a store's keyed logs under its data dir. */
export const keyedDir = (dataDir: string | undefined) => (dataDir ? join(dataDir, 'engine') : undefined);
