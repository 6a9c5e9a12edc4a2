/**
 * The one HTTP call every REST adapter makes, and the one place its failures are sorted:
 * timeouts, connection errors, lost responses, 408, 409 (request in progress), 5xx and 429 are
 * retryable (429/503 with `retryAfterMs` from Retry-After); other 4xx are permanent, with a
 * business reason the adapter's own `classify` reads from the partner's error body.
 */
import { PartnerError, type BusinessReason } from './types.ts';

export interface PartnerRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: string;
  headers?: Record<string, string>;
  /** JSON-encoded when an object; sent as is when a string. */
  body?: unknown;
  signal: AbortSignal;
  /** 'manual' to treat a redirect as an answer (webhook senders must not follow them). */
  redirect?: 'follow' | 'manual';
}

export interface PartnerResponse<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
}

/**
 * Reads a partner's error body into a message and a business reason (per partner); `kind`
 * overrides the default sorting where a protocol says otherwise (Standard Webhooks retries 4xx).
 */
export type ErrorClassifier = (status: number, body: unknown) => { message: string; reason?: BusinessReason; kind?: 'retryable' | 'permanent' };

/** Retry-After as seconds or an HTTP date, in milliseconds (never negative). */
export function parseRetryAfter(value: string | null, now: Date = new Date()): number | undefined {
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Math.round(Number(value) * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now.getTime());
}

const defaultClassify: ErrorClassifier = (status, body) => ({
  message: typeof body === 'string' && body ? body.slice(0, 300) : `HTTP ${status}`,
  reason: status === 404 ? 'not_found' : 'invalid_request',
});

/** Makes one call and returns the parsed body of a 2xx; throws a classified PartnerError otherwise. */
export async function callPartner<T = unknown>(
  fetchFn: typeof fetch,
  req: PartnerRequest,
  classify: ErrorClassifier = defaultClassify,
  now: () => Date = () => new Date(),
): Promise<PartnerResponse<T>> {
  let res: Response;
  const headers: Record<string, string> = { accept: 'application/json', ...req.headers };
  let body: string | undefined;
  if (req.body !== undefined) {
    body = typeof req.body === 'string' ? req.body : JSON.stringify(req.body);
    headers['content-type'] ??= 'application/json';
  }
  try {
    res = await fetchFn(req.url, { method: req.method, headers, body, signal: req.signal, ...(req.redirect ? { redirect: req.redirect } : {}) });
  } catch (cause) {
    const timedOut = req.signal.aborted;
    throw new PartnerError('retryable', timedOut ? `timeout calling ${req.method} ${pathOf(req.url)}` : `connection failed: ${errMessage(cause)}`, { cause });
  }
  let text: string;
  try {
    text = await res.text();
  } catch (cause) {
    // The partner answered and may have acted, but we never read what it said: the retry must be in
    // doubt. No `status` on the error: the engine reads a status as "the partner answered" (and a
    // 2xx/4xx one as "did not act"), which a lost answer is not.
    throw new PartnerError('retryable', `response lost while reading ${req.method} ${pathOf(req.url)} (HTTP ${res.status} never read)`, { cause });
  }
  const parsed = parseBody(text);
  if (res.ok) {
    if (parsed === PARSE_FAILED) throw new PartnerError('retryable', `unreadable response from ${pathOf(req.url)}`, { status: res.status });
    return { status: res.status, headers: res.headers, body: parsed as T };
  }
  const errBody = parsed === PARSE_FAILED ? text : parsed;
  const retryAfterMs = parseRetryAfter(res.headers.get('retry-after'), now());
  const c = classify(res.status, errBody);
  const kind = c.kind ?? (res.status === 429 || res.status >= 500 || res.status === 408 || res.status === 409 ? 'retryable' : 'permanent');
  if (kind === 'retryable') throw new PartnerError('retryable', `${res.status} from partner: ${c.message}`, { status: res.status, retryAfterMs });
  throw new PartnerError('permanent', c.message, { status: res.status, reason: c.reason ?? 'invalid_request' });
}

const PARSE_FAILED = Symbol('parse failed');
function parseBody(text: string): unknown {
  if (text === '') return null;
  try {
    return JSON.parse(text);
  } catch {
    return PARSE_FAILED;
  }
}
function pathOf(url: string): string {
  try {
    return new URL(url).pathname;
  } catch {
    return url;
  }
}
function errMessage(e: unknown): string {
  const cause = (e as { cause?: { code?: string; message?: string } })?.cause;
  return cause?.code ?? cause?.message ?? (e as Error)?.message ?? String(e);
}

/** Joins a base URL and a path without doubling or losing slashes. */
export function joinUrl(base: string, path: string): string {
  return `${base.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`;
}
