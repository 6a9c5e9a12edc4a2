/**
 * Where each key's latest record lies in a set of segments: an open-addressing hash table in typed
 * arrays, keyed by a 64-bit hash of the key (two 32-bit murmur3 hashes), so no key string is kept
 * in memory: about 40 bytes a key instead of the ~100 of a Map of strings. Two keys with the same
 * 64-bit hash (odds about 1 in 10^8 at a million keys) would share a slot; readers check the key
 * stored with the record and treat a mismatch as absent.
 */
export interface Loc {
  seg: number;
  off: number;
  len: number;
}
/** A live slot: where the record lies, its stamp, and `ref`, the slot's position (valid until the next `set`). */
export interface Slot extends Loc {
  stamp: number;
  ref: number;
}

/** 32-bit murmur3 over UTF-16 code units. */
function murmur(key: string, seed: number): number {
  let h = seed;
  for (let i = 0; i < key.length; i++) {
    let k = Math.imul(key.charCodeAt(i), 0xcc9e2d51);
    k = Math.imul((k << 15) | (k >>> 17), 0x1b873593);
    h ^= k;
    h = (Math.imul((h << 13) | (h >>> 19), 5) + 0xe6546b64) | 0;
  }
  h ^= key.length;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

const EMPTY = 0;
/** A deleted slot: probing continues past it. Segment numbers start at 1 and stay far below. */
const GONE = 0xffffffff;

export class SlotIndex {
  private cap = 0;
  private count = 0;
  private gone = 0;
  private h1 = new Uint32Array(0);
  private h2 = new Uint32Array(0);
  private seg = new Uint32Array(0);
  private off = new Uint32Array(0);
  private len = new Uint32Array(0);
  private stamps = new Float64Array(0);
  /** Bytes of live records per segment (what compaction would keep). */
  readonly liveBytes = new Map<number, number>();

  get size() { return this.count; }

  /** The slot holding `key`, or -1. */
  private find(a: number, b: number): number {
    if (!this.cap) return -1;
    const mask = this.cap - 1;
    for (let i = a & mask; ; i = (i + 1) & mask) {
      const s = this.seg[i];
      if (s === EMPTY) return -1;
      if (s !== GONE && this.h1[i] === a && this.h2[i] === b) return i;
    }
  }

  has(key: string) { return this.find(murmur(key, 0x9747b28c), murmur(key, 0x5bd1e995)) >= 0; }

  get(key: string): Slot | undefined {
    const i = this.find(murmur(key, 0x9747b28c), murmur(key, 0x5bd1e995));
    return i < 0 ? undefined : this.slotAt(i);
  }

  set(key: string, loc: Loc, stamp = 0) {
    const a = murmur(key, 0x9747b28c);
    const b = murmur(key, 0x5bd1e995);
    let i = this.find(a, b);
    if (i >= 0) this.account(this.seg[i], -this.len[i]);
    else {
      if ((this.count + this.gone + 1) * 10 > this.cap * 7) this.resize();
      const mask = this.cap - 1;
      for (i = a & mask; this.seg[i] !== EMPTY && this.seg[i] !== GONE; i = (i + 1) & mask);
      if (this.seg[i] === GONE) this.gone--;
      this.h1[i] = a;
      this.h2[i] = b;
      this.count++;
    }
    this.seg[i] = loc.seg;
    this.off[i] = loc.off;
    this.len[i] = loc.len;
    this.stamps[i] = stamp;
    this.account(loc.seg, loc.len);
  }

  delete(key: string) {
    const i = this.find(murmur(key, 0x9747b28c), murmur(key, 0x5bd1e995));
    if (i >= 0) this.deleteAt(i);
  }

  /** Deletes the slot at `ref` (from `slots()`; no `set` in between). */
  deleteAt(ref: number) {
    if (this.seg[ref] === EMPTY || this.seg[ref] === GONE) return;
    this.account(this.seg[ref], -this.len[ref]);
    this.seg[ref] = GONE;
    this.count--;
    this.gone++;
  }

  /** Whether `key`'s latest record is exactly at `loc`. */
  isAt(key: string, loc: { seg: number; off: number }): boolean {
    const i = this.find(murmur(key, 0x9747b28c), murmur(key, 0x5bd1e995));
    return i >= 0 && this.seg[i] === loc.seg && this.off[i] === loc.off;
  }

  /** The live slots (optionally those in one segment), without their keys: those are on disk. */
  *slots(filter: { seg?: number } = {}): IterableIterator<Slot> {
    for (let i = 0; i < this.cap; i++) {
      const s = this.seg[i];
      if (s === EMPTY || s === GONE || (filter.seg !== undefined && s !== filter.seg)) continue;
      yield this.slotAt(i);
    }
  }

  private slotAt(i: number): Slot {
    return { seg: this.seg[i], off: this.off[i], len: this.len[i], stamp: this.stamps[i], ref: i };
  }

  private account(seg: number, bytes: number) {
    const n = (this.liveBytes.get(seg) ?? 0) + bytes;
    if (n > 0) this.liveBytes.set(seg, n);
    else this.liveBytes.delete(seg);
  }

  /** Doubles the table (or rebuilds it at the same size when deleted slots fill it). */
  private resize() {
    const old = { h1: this.h1, h2: this.h2, seg: this.seg, off: this.off, len: this.len, stamps: this.stamps, cap: this.cap };
    this.cap = Math.max(1024, this.count * 2 >= this.cap ? this.cap * 2 : this.cap);
    this.h1 = new Uint32Array(this.cap);
    this.h2 = new Uint32Array(this.cap);
    this.seg = new Uint32Array(this.cap);
    this.off = new Uint32Array(this.cap);
    this.len = new Uint32Array(this.cap);
    this.stamps = new Float64Array(this.cap);
    this.gone = 0;
    const mask = this.cap - 1;
    for (let j = 0; j < old.cap; j++) {
      const s = old.seg[j];
      if (s === EMPTY || s === GONE) continue;
      let i = old.h1[j] & mask;
      while (this.seg[i] !== EMPTY) i = (i + 1) & mask;
      this.h1[i] = old.h1[j];
      this.h2[i] = old.h2[j];
      this.seg[i] = s;
      this.off[i] = old.off[j];
      this.len[i] = old.len[j];
      this.stamps[i] = old.stamps[j];
    }
  }
}
