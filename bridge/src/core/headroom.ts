/**
 * Rate-limit headroom per partner (0..1): how much of its rate limit is still unused. From our own
 * token bucket and, when the partner says it, from its rate-limit response headers (the lower of
 * the two; a partner's figure older than a minute is no longer trusted).
 */

/** Remaining / limit from a response's rate-limit headers, if it has them. */
export function headroomFromHeaders(headers: Headers | undefined): number | undefined {
  if (!headers) return undefined;
  const num = (name: string) => {
    const v = headers.get(name);
    const n = v === null ? NaN : Number.parseFloat(v);
    return Number.isFinite(n) ? n : undefined;
  };
  let remaining = num('x-ratelimit-remaining') ?? num('ratelimit-remaining');
  let limit = num('x-ratelimit-limit') ?? num('ratelimit-limit');
  // IETF draft structured form: `RateLimit: limit=100, remaining=50, reset=5` (or `r=50;t=5` with RateLimit-Policy `q=100`).
  const combined = headers.get('ratelimit');
  if (combined && remaining === undefined) {
    const field = (k: string) => {
      const m = new RegExp(`(?:^|[,;\\s])${k}=(\\d+(?:\\.\\d+)?)`).exec(combined);
      return m ? Number(m[1]) : undefined;
    };
    remaining = field('remaining') ?? field('r');
    limit = field('limit') ?? limit ?? (() => {
      const m = /(?:^|[,;\s])q=(\d+)/.exec(headers.get('ratelimit-policy') ?? '');
      return m ? Number(m[1]) : undefined;
    })();
  }
  if (remaining === undefined || !limit || limit <= 0) return undefined;
  return Math.max(0, Math.min(1, remaining / limit));
}

export function createHeadroom(now: () => number, trustMs = 60_000) {
  const told = new Map<string, { ratio: number; at: number }>();
  return {
    /** Records what a partner's response headers said, if anything. */
    observe(partner: string, headers: Headers | undefined) {
      const ratio = headroomFromHeaders(headers);
      if (ratio !== undefined) told.set(partner, { ratio, at: now() });
    },
    /** The headroom now: the lower of our bucket's (if rate limited) and the partner's recent figure. */
    value(partner: string, bucket: number | undefined): number | undefined {
      const t = told.get(partner);
      const theirs = t && now() - t.at <= trustMs ? t.ratio : undefined;
      if (bucket === undefined) return theirs;
      return theirs === undefined ? bucket : Math.min(bucket, theirs);
    },
  };
}
