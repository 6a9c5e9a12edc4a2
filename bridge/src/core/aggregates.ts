/**
 * The engine's memory per aggregate (partner data bags, who performed what, last delivered
 * sequence, who may speak for it), on disk in a keyed log. Only aggregates with work in the
 * engine are held in memory ("hot"); the others are read back when an event or a milestone of
 * theirs arrives, so memory follows the work in flight, not the volume seen.
 */
import type { KeyedLog } from '../store/keyed-log.ts';
import type { AggregateRow } from './jobs.ts';

export class AggregateMemory {
  private readonly hot = new Map<string, AggregateRow>();
  constructor(private readonly log: KeyedLog<AggregateRow>, private readonly now: () => string) {}

  /** Rows held in memory (tests, diagnostics). */
  get hotSize() { return this.hot.size; }
  /** Rows remembered on disk. */
  get size() { return this.log.size; }

  /** The hot row, if any (no disk read). */
  peek(key: string): AggregateRow | undefined {
    return this.hot.get(key);
  }

  /** Reads rows into memory; returns them (undefined: never seen). Call `pin` before relying on them staying hot. */
  async load(keys: Iterable<string>): Promise<Map<string, AggregateRow | undefined>> {
    const unique = [...new Set(keys)];
    const rows = await Promise.all(unique.map((key) => this.hot.get(key) ?? (this.log.has(key) ? this.log.get(key) : undefined)));
    return new Map(unique.map((key, i) => [key, rows[i]]));
  }

  /**
   * Makes a loaded row hot (synchronously, after the awaits of `load`): a row evicted meanwhile
   * comes back as loaded; one made hot meanwhile (a newer copy) wins.
   */
  pin(key: string, loaded: AggregateRow | undefined): AggregateRow | undefined {
    const row = this.hot.get(key) ?? loaded;
    if (row) this.hot.set(key, row);
    return row;
  }

  /** The hot row, created empty when the aggregate is new. */
  row(key: string): AggregateRow {
    let a = this.hot.get(key);
    if (!a) this.hot.set(key, (a = { id: key, high_water: 0, data: {}, performed: {}, partners: [], updated_at: this.now() }));
    return a;
  }

  /** Reads a row without making it hot (milestone ownership, a publish's data bag). */
  async read(key: string): Promise<AggregateRow | undefined> {
    return this.hot.get(key) ?? (this.log.has(key) ? this.log.get(key) : undefined);
  }

  /** Writes a row durably (a copy: later in-memory changes wait for their own write). */
  save(row: AggregateRow): Promise<void> {
    return this.log.put([structuredClone(row)]);
  }

  /** Drops a row from memory once nothing in the engine refers to it (it is on disk). */
  evict(key: string) {
    this.hot.delete(key);
  }

  /** Forgets rows idle since before `cutoffMs` (not hot, not busy); returns how many. */
  async prune(cutoffMs: number, busy: (key: string) => boolean): Promise<number> {
    const gone: string[] = [];
    for await (const key of this.log.keysStampedBefore(cutoffMs)) if (!this.hot.has(key) && !busy(key)) gone.push(key);
    for (let i = 0; i < gone.length; i += 1000) await this.log.delete(gone.slice(i, i + 1000));
    return gone.length;
  }
}
