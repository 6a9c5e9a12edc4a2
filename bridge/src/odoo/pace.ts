/**
 * How hard the write-back may push Odoo, learnt from Odoo's own answer times (no setting to tune per
 * site). Odoo's workers also serve its users: a call that takes longer than usual means they are
 * busy, so the writer backs off before users feel it, and comes back when answers are quick again.
 *
 * - `baseline`: the quickest recent answer (the lowest of the last `window` calls): Odoo idle.
 * - `recent`: an exponentially weighted mean of the answer times (alpha 0.3): Odoo now.
 * - congested when `recent` exceeds `tolerance` x baseline (and `floorMs`, so a 4 ms -> 9 ms wobble
 *   is not a crowd), or the absolute `targetMs`, or a call failed as a whole.
 * Congested: calls in flight halve (at least 1) and the next call waits `gapMs()`, as long as the
 * excess answer time (capped), giving Odoo's workers back at least the time the write-back cost
 * over its idle answer time. Not congested: one more call in flight per quick answer (up to `max`), no gap.
 * Additive increase, multiplicative decrease, as TCP and Netflix's concurrency-limits do.
 */
export interface PaceOptions {
  /** Most calls in flight. */
  max: number;
  /** Answer time above which Odoo counts as congested whatever its baseline. */
  targetMs?: number;
  /** Congested when the recent answer time exceeds this many baselines. */
  tolerance?: number;
  /** Below this answer time Odoo never counts as congested (noise of tiny calls). */
  floorMs?: number;
  /** Longest pause between calls. */
  maxGapMs?: number;
  /** Calls the baseline looks back over. */
  window?: number;
}

export interface PaceFigures {
  limit: number;
  baseline_ms: number;
  recent_ms: number;
  gap_ms: number;
  congested: boolean;
}

export type Pace = ReturnType<typeof createPace>;

/** An adaptive cap on write-back calls in flight, and a pause between calls, from Odoo's answer times. */
export function createPace({ max, targetMs = 2_000, tolerance = 2, floorMs = 40, maxGapMs = 2_000, window = 20 }: PaceOptions) {
  let limit = 1;
  let recent = 0;
  let congested = false;
  const samples: number[] = [];
  const baseline = () => (samples.length ? Math.min(...samples) : 0);
  return {
    /** One call's answer time; `ok` false when it failed as a whole (Odoo down, contended, timed out). */
    observe(ms: number, ok = true) {
      if (ok) {
        samples.push(ms);
        if (samples.length > window) samples.shift();
        recent = recent ? 0.7 * recent + 0.3 * ms : ms;
      }
      congested = !ok || recent > targetMs || (recent > floorMs && recent > tolerance * baseline());
      limit = congested ? Math.max(1, Math.floor(limit / 2)) : Math.min(max, limit + 1);
    },
    /** Calls that may be in flight now. */
    limit: () => limit,
    /** Pause before the next call (0 unless Odoo is congested). */
    gapMs: () => (congested ? Math.min(maxGapMs, Math.max(0, Math.round(recent - baseline()))) : 0),
    figures: (): PaceFigures => ({ limit, baseline_ms: Math.round(baseline()), recent_ms: Math.round(recent), gap_ms: congested ? Math.min(maxGapMs, Math.max(0, Math.round(recent - baseline()))) : 0, congested }),
  };
}
