/**
 * Append-only segments with group commit: every append made while a write is in flight is
 * written by the next single write call (and one fdatasync in fsync mode), so the cost per
 * record stays flat however many records are stored.
 */
import { open, rm, readdir, mkdir, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';

export interface Segment {
  readonly no: number;
  /** Bytes written so far. */
  readonly size: number;
  /** Appends encoded lines; resolves with the byte offset of their first byte once written (and synced in fsync mode). */
  append(lines: EncodedLines): Promise<number>;
  /** Reads `length` bytes at `offset`. */
  read(offset: number, length: number): Promise<string>;
  /** Every complete line with its offset, oldest first; a torn last line (crash mid-write) is cut off. */
  scan(): AsyncIterable<{ line: string; offset: number }>;
  close(): Promise<void>;
  remove(): Promise<void>;
}

export interface SegmentDir {
  /** Existing segments, oldest first. */
  list(): Promise<number[]>;
  open(no: number): Promise<Segment>;
}

/** Lines as the bytes to append, with where each line starts in them and its byte length (without the newline). */
export interface EncodedLines {
  bytes: Buffer;
  starts: number[];
  lengths: number[];
}

/**
 * Encodes lines (none may contain a newline) once, when they are made: the caller can then drop
 * the strings, and the bytes wait for the write outside the JavaScript heap.
 */
export function encodeLines(lines: string[]): EncodedLines {
  const joined = lines.length ? lines.join('\n') + '\n' : '';
  const bytes = Buffer.from(joined);
  // One byte per character means each line's byte length is its string length: no second UTF-8 pass.
  const ascii = bytes.length === joined.length;
  const starts: number[] = [];
  const lengths: number[] = [];
  let at = 0;
  for (const line of lines) {
    const len = ascii ? line.length : Buffer.byteLength(line);
    starts.push(at);
    lengths.push(len);
    at += len + 1;
  }
  return { bytes, starts, lengths };
}

type Waiter = { bytes: Buffer; resolve: (offset: number) => void; reject: (e: unknown) => void };

/** Shared batching: collects appends and hands them to `writeBatch` one group at a time. */
function groupCommitter(writeBatch: (parts: Buffer[], start: number, bytes: number) => Promise<void>, startSize: number) {
  let size = startSize;
  let queue: Waiter[] = [];
  let writing = false;
  async function drain() {
    writing = true;
    while (queue.length) {
      const batch = queue;
      queue = [];
      const offsets: number[] = [];
      let at = size;
      for (const w of batch) { offsets.push(at); at += w.bytes.length; }
      try {
        await writeBatch(batch.map((w) => w.bytes), size, at - size);
        size = at;
        batch.forEach((w, i) => w.resolve(offsets[i]));
      } catch (e) {
        batch.forEach((w) => w.reject(e));
      }
    }
    writing = false;
  }
  return {
    get size() { return size; },
    append(lines: EncodedLines): Promise<number> {
      return new Promise((resolve, reject) => {
        queue.push({ bytes: lines.bytes, resolve, reject });
        if (!writing) setImmediate(drain);
        writing = true;
      });
    },
  };
}

/** Segments as files `<prefix>-000001.jsonl` in `dir`. */
export function fileSegments(dir: string, prefix: string, fsync: boolean): SegmentDir {
  const name = (no: number) => join(dir, `${prefix}-${String(no).padStart(6, '0')}.jsonl`);
  return {
    async list() {
      await mkdir(dir, { recursive: true });
      const re = new RegExp(`^${prefix}-(\\d{6})\\.jsonl$`);
      return (await readdir(dir)).map((f) => re.exec(f)?.[1]).filter((x): x is string => !!x).map(Number).sort((a, b) => a - b);
    },
    async open(no) {
      await mkdir(dir, { recursive: true });
      const path = name(no);
      const fh: FileHandle = await open(path, 'a+');
      let { size } = await fh.stat();
      // Cut a torn tail: bytes after the last newline were never acknowledged.
      if (size > 0) {
        const tailLen = Math.min(size, 1 << 20);
        const tail = Buffer.alloc(tailLen);
        await fh.read(tail, 0, tailLen, size - tailLen);
        const lastNl = tail.lastIndexOf(0x0a);
        const good = lastNl === -1 ? (tailLen === size ? 0 : size) : size - tailLen + lastNl + 1;
        if (good !== size) { await fh.truncate(good); size = good; }
      }
      const committer = groupCommitter(async (parts, start, bytes) => {
        try {
          // One writev for the group, without first copying the parts into one buffer.
          const { bytesWritten } = await fh.writev(parts);
          if (bytesWritten !== bytes) throw new Error(`short write to ${path}: ${bytesWritten} of ${bytes} bytes`);
          if (fsync) await fh.datasync();
        } catch (e) {
          // Nothing of a failed group was acknowledged: cut what reached the file, so later offsets stay right.
          await fh.truncate(start).catch(() => {});
          throw e;
        }
      }, size);
      return {
        no,
        get size() { return committer.size; },
        append: committer.append,
        async read(offset, length) {
          const buf = Buffer.alloc(length);
          await fh.read(buf, 0, length, offset);
          return buf.toString('utf8');
        },
        async *scan() {
          const stream = fh.createReadStream({ start: 0, end: Math.max(0, committer.size - 1), autoClose: false });
          let carry: Buffer = Buffer.alloc(0);
          let offset = 0;
          if (committer.size === 0) return;
          for await (const chunk of stream as AsyncIterable<Buffer>) {
            const buf: Buffer = carry.length ? Buffer.concat([carry, chunk]) : chunk;
            let start = 0;
            for (let nl = buf.indexOf(0x0a, start); nl !== -1; nl = buf.indexOf(0x0a, start)) {
              yield { line: buf.toString('utf8', start, nl), offset: offset + start };
              start = nl + 1;
            }
            offset += start;
            carry = buf.subarray(start);
          }
        },
        async close() { await fh.close().catch(() => {}); },
        async remove() { await fh.close().catch(() => {}); await rm(path, { force: true }); },
      };
    },
  };
}

/** Segments kept in memory (tests, the memory store). */
export function memorySegments(): SegmentDir {
  const all = new Map<number, string[]>();
  return {
    async list() { return [...all.keys()].sort((a, b) => a - b); },
    async open(no) {
      const chunks = all.get(no) ?? [];
      all.set(no, chunks);
      let cache: Buffer | undefined;
      const committer = groupCommitter(async (parts) => { chunks.push(Buffer.concat(parts).toString('utf8')); cache = undefined; }, Buffer.byteLength(chunks.join('')));
      // Rebuilt only after an append, not on every read.
      const bytes = () => (cache ??= Buffer.from(chunks.join('')));
      return {
        no,
        get size() { return committer.size; },
        append: committer.append,
        async read(offset, length) { return bytes().toString('utf8', offset, offset + length); },
        async *scan() {
          const buf = bytes();
          let start = 0;
          for (let nl = buf.indexOf(0x0a); nl !== -1; nl = buf.indexOf(0x0a, start)) {
            yield { line: buf.toString('utf8', start, nl), offset: start };
            start = nl + 1;
          }
        },
        async close() {},
        async remove() { all.delete(no); },
      };
    },
  };
}
