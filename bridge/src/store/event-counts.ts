/** Building an `EventCounts` answer, shared by the stores that tally in memory and the one that asks SQL. */
import { PENDING_STATES, UNFINISHED_STATES, type CountsQuery, type EventCounts, type EventState, type UnfinishedState } from './types.ts';

/** Every unfinished state at 0, with `bounds.length + 1` empty age buckets. */
export function emptyCounts(bounds: readonly number[]): EventCounts {
  const byState = Object.fromEntries(UNFINISHED_STATES.map((s) => [s, { count: 0, ages: new Array<number>(bounds.length + 1).fill(0) }])) as EventCounts['byState'];
  return { byState, deadLetters: { dead: { technical: 0, business: 0 }, manual: { technical: 0, business: 0 } } };
}

/** The bucket of an age in seconds: the first bound it is below, else the last bucket (PostgreSQL's width_bucket). */
export function ageBucket(ageSeconds: number, bounds: readonly number[]): number {
  let i = 0;
  while (i < bounds.length && ageSeconds >= bounds[i]) i++;
  return i;
}

/** The bounds of a query, checked: ascending finite numbers. */
export function boundsOf(query: CountsQuery | undefined): number[] {
  const bounds = query?.ageBoundsSeconds ?? [];
  bounds.forEach((b, i) => {
    if (!Number.isFinite(b) || (i > 0 && b <= bounds[i - 1])) throw new Error(`counts: ageBoundsSeconds must be finite and ascending, got [${bounds.join(', ')}]`);
  });
  return [...bounds];
}

/** Adds `n` events of one state, error class and age bucket to `counts` (finished states are ignored). */
export function addCount(counts: EventCounts, state: EventState, errorClass: string | undefined, bucket: number, n = 1) {
  const row = counts.byState[state as UnfinishedState];
  if (!row) return;
  row.count += n;
  row.ages[bucket] += n;
  if (state === 'dead' || state === 'manual') counts.deadLetters[state][errorClass === 'business' ? 'business' : 'technical'] += n;
}

export const isPending = (state: EventState) => PENDING_STATES.has(state);
