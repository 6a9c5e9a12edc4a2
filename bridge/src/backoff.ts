/** One backoff for every retry of the bridge (partner calls and write-back to Odoo). */

/** Capped exponential backoff with full jitter: a uniform delay in [0, min(cap, base * 2^(attempt-1))). */
export function backoffDelay(attempt: number, base: number, cap: number, random: () => number): number {
  const ceiling = Math.min(cap, base * 2 ** Math.max(0, Math.min(attempt - 1, 40)));
  return Math.floor(random() * ceiling);
}
