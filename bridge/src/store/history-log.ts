/**
 * Entries grouped by key (an audit trail per event), append-only with group commit. Each line
 * points back at the previous line of its key, and an in-memory hash index knows each key's
 * newest line, so a key's history is read by following the chain (a few reads) instead of
 * scanning the log. Whole segments are dropped once their newest entry is past the retention.
 *
 * Line: `<JSON key>\t<seg>:<off>:<len of the previous line, or ->\t<written at, ms>\t<JSON entry>`.
 */
import { batchWriter } from './batch-writer.ts';
import { fileSegments, memorySegments, type Segment } from './segment.ts';
import { SlotIndex, type Loc } from './slot-index.ts';

export interface HistoryLog<T> {
  /** Appends entries under their keys; resolves once written. */
  append(entries: { key: string; entry: T }[]): Promise<void>;
  /** The newest `limit` entries of a key that `match`, oldest first; without a key, the oldest `limit` of all that match. */
  query(key: string | undefined, limit?: number, match?: (entry: T) => boolean): Promise<T[]>;
  /** Drops sealed segments whose newest entry is older than `cutoffMs`; returns how many. */
  prune(cutoffMs: number): Promise<number>;
  close(): Promise<void>;
}

function parse(line: string) {
  const a = line.indexOf('\t');
  const b = line.indexOf('\t', a + 1);
  const c = line.indexOf('\t', b + 1);
  const p = line.slice(a + 1, b);
  const [seg, off, len] = p === '-' ? [] : p.split(':').map(Number);
  return { key: JSON.parse(line.slice(0, a)) as string, prev: seg === undefined ? undefined : ({ seg, off, len } as Loc), at: Number(line.slice(b + 1, c)), body: line.slice(c + 1) };
}

/** Opens (replays) a history log; `now` stamps the lines (retention). */
export async function openHistoryLog<T>(o: { dir?: string; name: string; fsync?: boolean; segmentBytes?: number; now?: () => number }): Promise<HistoryLog<T>> {
  const now = o.now ?? Date.now;
  const segments = o.dir ? fileSegments(o.dir, o.name, o.fsync ?? false) : memorySegments();
  const open: Segment[] = [];
  const index = new SlotIndex();
  /** Newest entry time per segment. */
  const newest = new Map<number, number>();
  for (const no of await segments.list()) {
    const seg = await segments.open(no);
    open.push(seg);
    for await (const { line, offset } of seg.scan()) {
      if (!line) continue;
      const { key, at } = parse(line);
      index.set(key, { seg: no, off: offset, len: Buffer.byteLength(line) }, at);
      newest.set(no, Math.max(newest.get(no) ?? 0, at));
    }
  }
  if (!open.length) open.push(await segments.open(1));

  /** Where each key's newest line is or will be (ahead of the index while a write is in flight). */
  const last = new Map<string, Loc>();
  const writer = batchWriter<{ key: string; entry: T }, { key: string; loc: Loc; at: number }[]>({
    segments, open, segmentBytes: o.segmentBytes ?? 16 << 20,
    assemble: (items, place) => items.map(({ key, entry }) => {
      const prev = last.get(key) ?? index.get(key);
      const at = now();
      const loc = place(`${JSON.stringify(key)}\t${prev ? `${prev.seg}:${prev.off}:${prev.len}` : '-'}\t${at}\t${JSON.stringify(entry)}`);
      last.set(key, loc);
      return { key, loc, at };
    }),
  });
  const segmentOf = (no: number) => open.find((s) => s.no === no);

  return {
    async append(entries) {
      if (!entries.length) return;
      try {
        for (const { key, loc, at } of await writer.push(entries)) {
          index.set(key, loc, at);
          newest.set(loc.seg, Math.max(newest.get(loc.seg) ?? 0, at));
          if (last.get(key) === loc) last.delete(key);
        }
      } catch (e) {
        for (const { key } of entries) last.delete(key);
        throw e;
      }
    },
    async query(key, limit = 1000, match = () => true) {
      await writer.idle();
      const out: T[] = [];
      if (key === undefined) {
        for (const seg of [...open]) {
          for await (const { line } of seg.scan()) {
            if (!line) continue;
            const entry = JSON.parse(parse(line).body) as T;
            if (!match(entry)) continue;
            out.push(entry);
            if (out.length >= limit) return out;
          }
        }
        return out;
      }
      let loc: Loc | undefined = index.get(key);
      while (loc && out.length < limit) {
        const seg = segmentOf(loc.seg);
        if (!seg) break; // older entries were dropped by retention
        const line = parse(await seg.read(loc.off, loc.len));
        // A chain never crosses keys; a mismatch means a lost write left a stale pointer.
        if (line.key !== key) break;
        const entry = JSON.parse(line.body) as T;
        if (match(entry)) out.push(entry);
        loc = line.prev;
      }
      return out.reverse();
    },
    async prune(cutoffMs) {
      let dropped = 0;
      for (const seg of open.slice(0, -1)) {
        if ((newest.get(seg.no) ?? 0) >= cutoffMs) break;
        for (const slot of [...index.slots({ seg: seg.no })]) index.deleteAt(slot.ref);
        await seg.remove();
        open.splice(open.indexOf(seg), 1);
        newest.delete(seg.no);
        index.liveBytes.delete(seg.no);
        dropped += 1;
      }
      return dropped;
    },
    async close() {
      await writer.idle();
      for (const s of open) await s.close();
    },
  };
}
