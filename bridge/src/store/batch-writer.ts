/**
 * Group commit (group-commit.ts) with known offsets: each write goes to the newest segment (a new
 * one is started when it is full).
 * `assemble` turns a batch into lines when that write starts, so it learns where each line will
 * lie (and a line may point at an earlier one, as the history log's back pointers do).
 */
import { encodeLines, type Segment, type SegmentDir } from './segment.ts';
import type { Loc } from './slot-index.ts';
import { groupCommitBatches, type GroupCommit } from './group-commit.ts';

/** Resolves `push` once the items are written, with what `assemble` made of them. */
export type BatchWriter<I, R> = GroupCommit<I, R>;

export function batchWriter<I, R>(o: {
  segments: SegmentDir;
  /** The open segments, oldest first; the last one is written (a new one is appended when full). */
  open: Segment[];
  segmentBytes: number;
  assemble: (items: I[], place: (line: string) => Loc) => R;
  onRotate?: () => void;
}): BatchWriter<I, R> {
  return groupCommitBatches<I, R>(async (batches) => {
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
    const results = batches.map((items) => o.assemble(items, place));
    if (lines.length) await seg.append(encodeLines(lines));
    return results;
  });
}
