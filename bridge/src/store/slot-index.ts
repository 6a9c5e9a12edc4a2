/**
 * Where each key's latest record lies in a set of segments: a Map from key to slot plus typed
 * arrays (segment, offset, length, a caller's stamp), about 100 bytes per key, so millions of
 * keys fit where their records would not. Freed slots are reused.
 */
export interface Loc {
  seg: number;
  off: number;
  len: number;
}

export class SlotIndex {
  private slotOf = new Map<string, number>();
  private keyAt: (string | undefined)[] = [];
  private free: number[] = [];
  private cap = 0;
  private used = 0;
  private seg = new Uint32Array(0);
  private off = new Float64Array(0);
  private len = new Uint32Array(0);
  private stamps = new Float64Array(0);
  /** Bytes of live records per segment (what compaction would keep). */
  readonly liveBytes = new Map<number, number>();

  get size() { return this.slotOf.size; }
  has(key: string) { return this.slotOf.has(key); }

  get(key: string): (Loc & { stamp: number }) | undefined {
    const s = this.slotOf.get(key);
    return s === undefined ? undefined : { seg: this.seg[s], off: this.off[s], len: this.len[s], stamp: this.stamps[s] };
  }

  set(key: string, loc: Loc, stamp = 0) {
    let s = this.slotOf.get(key);
    if (s === undefined) {
      s = this.free.pop() ?? this.grow();
      this.slotOf.set(key, s);
      this.keyAt[s] = key;
    } else this.account(this.seg[s], -this.len[s]);
    this.seg[s] = loc.seg;
    this.off[s] = loc.off;
    this.len[s] = loc.len;
    this.stamps[s] = stamp;
    this.account(loc.seg, loc.len);
  }

  delete(key: string) {
    const s = this.slotOf.get(key);
    if (s === undefined) return;
    this.account(this.seg[s], -this.len[s]);
    this.slotOf.delete(key);
    this.keyAt[s] = undefined;
    this.free.push(s);
  }

  /** Every key with its location, in slot order. */
  *entries(filter: { seg?: number } = {}): IterableIterator<[string, Loc & { stamp: number }]> {
    for (let s = 0; s < this.used; s++) {
      const key = this.keyAt[s];
      if (key === undefined || (filter.seg !== undefined && this.seg[s] !== filter.seg)) continue;
      yield [key, { seg: this.seg[s], off: this.off[s], len: this.len[s], stamp: this.stamps[s] }];
    }
  }

  /** Whether `key`'s latest record is exactly at `loc`. */
  isAt(key: string, loc: Loc): boolean {
    const s = this.slotOf.get(key);
    return s !== undefined && this.seg[s] === loc.seg && this.off[s] === loc.off;
  }

  private account(seg: number, bytes: number) {
    const n = (this.liveBytes.get(seg) ?? 0) + bytes;
    if (n > 0) this.liveBytes.set(seg, n);
    else this.liveBytes.delete(seg);
  }

  private grow(): number {
    if (this.used === this.cap) {
      this.cap = Math.max(1024, this.cap * 2);
      const widen = <A extends Uint32Array | Float64Array>(a: A): A => {
        const b = new (a.constructor as new (n: number) => A)(this.cap);
        b.set(a);
        return b;
      };
      this.seg = widen(this.seg);
      this.off = widen(this.off);
      this.len = widen(this.len);
      this.stamps = widen(this.stamps);
    }
    return this.used++;
  }
}
