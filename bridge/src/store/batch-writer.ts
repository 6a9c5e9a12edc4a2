/**
 * Group commit with known offsets: one write in flight at a time to the newest segment (a new one
 * is started when it is full); everything pushed meanwhile goes out in the next single write.
 * `assemble` turns a batch into lines when that write starts, so it learns where each line will
 * lie (and a line may point at an earlier one, as the history log's back pointers do).
 */
import { encodeLines, type Segment, type SegmentDir } from './segment.ts';
import type { Loc } from './slot-index.ts';

export interface BatchWriter<I, R> {
  /** Resolves once the items are written, with what `assemble` made of them. */
  push(items: I[]): Promise<R>;
  /** Resolves once everything pushed so far is written. */
  idle(): Promise<void>;
}

export function batchWriter<I, R>(o: {
  segments: SegmentDir;
  /** The open segments, oldest first; the last one is written (a new one is appended when full). */
  open: Segment[];
  segmentBytes: number;
  assemble: (items: I[], place: (line: string) => Loc) => R;
  onRotate?: () => void;
}): BatchWriter<I, R> {
  let queue: { items: I[]; resolve: (r: R) => void; reject: (e: unknown) => void }[] = [];
  let running: Promise<void> | undefined;

  async function flush() {
    while (queue.length) {
      const batch = queue;
      queue = [];
      try {
        let seg = o.open.at(-1)!;
        if (seg.size >= o.segmentBytes) {
          seg = await o.segments.open(seg.no + 1);
          o.open.push(seg);
          o.onRotate?.();
        }
        const lines: string[] = [];
        let at = seg.size;
        const place = (line: string): Loc => {
          const len = Buffer.byteLength(line);
          const loc = { seg: seg.no, off: at, len };
          at += len + 1;
          lines.push(line);
          return loc;
        };
        const results = batch.map((b) => o.assemble(b.items, place));
        if (lines.length) await seg.append(encodeLines(lines));
        batch.forEach((b, i) => b.resolve(results[i]));
      } catch (e) {
        batch.forEach((b) => b.reject(e));
      }
    }
    running = undefined;
  }

  return {
    push(items) {
      return new Promise<R>((resolve, reject) => {
        queue.push({ items, resolve, reject });
        running ??= new Promise<void>((r) => setImmediate(r)).then(flush);
      });
    },
    async idle() {
      while (running) await running;
    },
  };
}
