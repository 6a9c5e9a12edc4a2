/**
 * The audit trail: an append-only record per event of its submission, the partner requests built
 * from it, every partner attempt, every status change and every operator action. Kept in a history
 * log (group commit, read by following one event's chain, dropped by age like events).
 *
 * Partner requests are captured where every REST adapter sends them: the `fetch` the engine hands
 * to adapters records the requests made during a call (AsyncLocalStorage names the call), so no
 * adapter knows about auditing. Nothing recorded carries a secret: headers are not kept (but the
 * idempotency key), and bodies and URLs are scrubbed of credential values and secret-looking fields.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash } from 'node:crypto';
import type { Logger } from '../log.ts';
import type { HistoryLog } from '../store/history-log.ts';
import type { AuditEntry, Job } from './jobs.ts';
import { PartnerError } from '../adapters/types.ts';

/** One HTTP request an adapter made during a partner call. */
export interface RequestRecord {
  method: string;
  url: string;
  body?: string;
  status?: number;
  ms: number;
  /** Response headers (rate limits), not recorded in the audit. */
  headers?: Headers;
}

/** The partner call in progress, as the recording fetch sees it. */
export interface CallScope {
  requests: RequestRecord[];
}

const scope = new AsyncLocalStorage<CallScope>();

/** Runs `fn` with the requests it makes collected into `record.requests`. */
export function recordingCall<T>(record: CallScope, fn: () => Promise<T>): Promise<T> {
  return scope.run(record, fn);
}

/** Wraps `fetch` so requests made inside `recordingCall` are collected (elsewhere it is plain fetch). */
export function recordingFetch(fetchFn: typeof fetch, now: () => number = Date.now): typeof fetch {
  return (async (input: string | URL | Request, init?: RequestInit) => {
    const call = scope.getStore();
    if (!call) return fetchFn(input, init);
    const started = now();
    const rec: RequestRecord = {
      method: (init?.method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase(),
      url: input instanceof Request ? input.url : String(input),
      body: typeof init?.body === 'string' ? init.body : undefined,
      ms: 0,
    };
    call.requests.push(rec);
    try {
      const res = await fetchFn(input, init);
      rec.status = res.status;
      rec.headers = res.headers;
      return res;
    } finally {
      rec.ms = now() - started;
    }
  }) as typeof fetch;
}

const SECRET_KEY = /authori[sz]ation|api[-_]?key|apikey|token|secret|password|passwd|signature|credential|cookie|private[-_]?key|hmac/i;
const REDACTED = '[redacted]';

/** A copy of `value` without secrets: secret-looking fields blanked, credential values cut out of every string. */
export function redact(value: unknown, secrets: readonly string[]): unknown {
  const scrub = (s: string) => secrets.reduce((out, secret) => (secret.length >= 4 ? out.split(secret).join(REDACTED) : out), s);
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return scrub(v);
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object') {
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, SECRET_KEY.test(k) ? REDACTED : walk(x)]));
    }
    return v;
  };
  return walk(value);
}

/** The path of a URL with secret-looking query parameters blanked and credential values cut out. */
export function redactUrl(url: string, secrets: readonly string[]): string {
  let out: string;
  try {
    const u = new URL(url);
    for (const k of [...u.searchParams.keys()]) if (SECRET_KEY.test(k)) u.searchParams.set(k, REDACTED);
    u.username = '';
    u.password = '';
    out = `${u.pathname}${u.search}`;
  } catch {
    out = url;
  }
  return redact(out, secrets) as string;
}

const BODY_LIMIT = 4096;

/** A request as the audit keeps it: method, path, body (redacted, at most 4 KiB) and its digest. */
export function requestEntry(r: RequestRecord, secrets: readonly string[]): NonNullable<AuditEntry['request']> {
  const path = redactUrl(r.url, secrets);
  if (r.body === undefined) return { method: r.method, path };
  let parsed: unknown;
  try {
    parsed = JSON.parse(r.body);
  } catch {
    parsed = r.body;
  }
  const redacted = redact(parsed, secrets);
  const clean = JSON.stringify(redacted);
  const sha256 = createHash('sha256').update(clean).digest('hex');
  // `redact` built a fresh copy: kept as is (not parsed back from its text).
  if (clean.length <= BODY_LIMIT) return { method: r.method, path, body: redacted as NonNullable<AuditEntry['request']>['body'], sha256 };
  return { method: r.method, path, body: `${clean.slice(0, BODY_LIMIT)}…`, truncated: true, sha256 };
}

/**
 * The entries for one call of a step: each request body not audited before for this job (`seen`
 * holds their digests), then the attempt with its outcome and requests.
 */
export function attemptEntries(o: {
  job: Job; partnerId: string; call: CallScope; ms: number; outcome: NonNullable<AuditEntry['outcome']>; error?: unknown; secrets: readonly string[]; seen: Set<string>; at: string;
}): AuditEntry[] {
  const { job, partnerId, call, outcome, secrets, at } = o;
  const base = { at, actor: 'bridge', target: job.subject, ...(job.event_id && { event_id: job.event_id }), partner: partnerId, step: job.step, key: job.key };
  const entries: AuditEntry[] = [];
  for (const r of call.requests) {
    if (r.body === undefined) continue;
    const request = requestEntry(r, secrets);
    if (o.seen.has(request.sha256!)) continue;
    o.seen.add(request.sha256!);
    entries.push({ ...base, id: crypto.randomUUID(), action: 'transformed', request });
  }
  const err = o.error instanceof PartnerError ? o.error : undefined;
  entries.push({
    ...base, id: crypto.randomUUID(), action: 'attempt', call: job.calls, outcome, duration_ms: Math.max(0, Math.round(o.ms)),
    ...(outcome !== 'success' && { error_class: outcome === 'permanent' ? 'business' as const : 'technical' as const }),
    ...(err?.details.status !== undefined && { status: err.details.status }),
    ...(o.error !== undefined && { error: redact(String((o.error as Error)?.message ?? o.error), secrets) as string }),
    requests: call.requests.map((r) => ({ method: r.method, path: redactUrl(r.url, secrets), ...(r.status !== undefined && { status: r.status }), ms: Math.max(0, Math.round(r.ms)) })),
  });
  return entries;
}

/** The chain of every operator action (no event id looks like this). */
export const OPERATORS_KEY = '~operators';

/** Appends audit entries under their event (or dead-letter target); failures are logged, never thrown at delivery. */
export function auditTrail(log: () => Promise<HistoryLog<AuditEntry>>, logger: Logger) {
  const writing = new Set<Promise<void>>();
  return {
    /** Records entries; resolves once written. Operator actions are also filed under their target. */
    record(entries: AuditEntry[]): Promise<void> {
      const keyed: { key: string; entry: AuditEntry }[] = [];
      for (const entry of entries) {
        const key = entry.event_id ?? entry.target;
        keyed.push({ key, entry });
        if (entry.action === 'replay' || entry.action === 'discard') {
          if (entry.target !== key) keyed.push({ key: entry.target, entry });
          // Every operator action in one chain too: "what did people do" is read without a scan.
          keyed.push({ key: OPERATORS_KEY, entry });
        }
      }
      const p = log().then((l) => l.append(keyed)).catch((e) => logger.error({ err: e }, 'cannot write the audit trail'));
      writing.add(p);
      void p.finally(() => writing.delete(p));
      return p;
    },
    /** Resolves once every entry recorded so far is written. */
    async flush() {
      while (writing.size) await Promise.allSettled([...writing]);
    },
    async query(key: string | undefined, limit: number, match: (e: AuditEntry) => boolean = () => true): Promise<AuditEntry[]> {
      if (key !== undefined) return (await log()).query(key, limit, match);
      // A scan of everything sees an operator action once per chain it is filed in.
      const seen = new Set<string>();
      return (await log()).query(undefined, limit, (e) => match(e) && !seen.has(e.id) && !!seen.add(e.id));
    },
    /** Drops entries older than `cutoffMs` (whole log segments). */
    async prune(cutoffMs: number): Promise<void> {
      await (await log()).prune(cutoffMs);
    },
  };
}
