/**
 * What every partner simulator shares: fault injection per request (`X-Sim-Fault`) and per run
 * (options or `POST <prefix>/_control`), an effect counter to prove "exactly one", and a webhook
 * sender with duplicate / out-of-order / wrong-signature knobs.
 *
 * A simulator honours only what its partner's public documentation promises (each behaviour names
 * its page). None of our partners documents an idempotency header, so no simulator honours one:
 * an `Idempotency-Key` is ignored like any other unknown header, and a repeated create creates again.
 *
 * X-Sim-Fault (comma-separated):
 *   500 | 502 | 503        answer that status without acting
 *   429 | 429=<seconds>    answer 429 with Retry-After (default 1 s) without acting
 *   400                    answer the partner's validation error without acting
 *   refuse                 answer the partner's business refusal without acting
 *   timeout | timeout=<ms> hold the request (default 10 s, or until the client goes away) without acting
 *   drop-response          act, then lose the response (socket destroyed / body stream errors)
 *   latency=<ms>           wait before handling
 */
import { Hono, type MiddlewareHandler } from 'hono';

export interface RunFaults {
  /** Probability (0..1) that a request answers 500 without acting. */
  errorRate?: number;
  /** Added to every request. */
  latencyMs?: number;
  /** A random latency per request, uniform in [min, max] ms (e.g. [100, 400], as a real API answers); added to latencyMs. */
  latencyRangeMs?: [number, number];
  /** Every request answers 503 (a partner that is down). */
  down?: boolean;
}

export interface SimOptions extends RunFaults {
  /** Where the simulator sends its webhooks (the bridge's /v1/webhooks/<partner id>); a function when known only later. */
  webhookUrl?: string | (() => string);
  /** The secret it signs webhooks with. */
  webhookSecret?: string;
  /** Outbound I/O, injectable for tests. */
  fetch?: typeof fetch;
  random?: () => number;
  now?: () => Date;
  /** After a label/order effect, send the follow-up webhooks by itself every this many ms (demo mode); 0 = never. */
  autoProgressMs?: number;
}

/** Counts effects a simulator performed, by name. */
export class Effects {
  readonly counts: Record<string, number> = {};
  add(name: string, n = 1): void {
    this.counts[name] = (this.counts[name] ?? 0) + n;
  }
  get(name: string): number {
    return this.counts[name] ?? 0;
  }
  reset(): void {
    for (const k of Object.keys(this.counts)) delete this.counts[k];
  }
}

export type FaultAnswers = {
  /** The partner's validation error body (status 400/422). */
  invalid: () => { status: number; body: unknown };
  /** The partner's business refusal body. */
  refuse: () => { status: number; body: unknown };
};

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
  });

/** A draw from [min, max] ms (0 without a range). */
export function rangeLatency(range: [number, number] | undefined, random: () => number = Math.random): number {
  if (!range) return 0;
  const [min, max] = range;
  return Math.max(0, Math.round(min + random() * Math.max(0, max - min)));
}

/** The fault middleware; `run` is read on every request so control calls take effect at once. */
export function faultInjection(run: RunFaults & { random?: () => number }, answers: FaultAnswers): MiddlewareHandler {
  return async function simFaults(c, next) {
    if (new URL(c.req.url).pathname.includes('/_control')) return next();
    const spec = (c.req.header('x-sim-fault') ?? '').split(',').map((s) => s.trim()).filter(Boolean);
    const opt = (name: string) => {
      const f = spec.find((s) => s === name || s.startsWith(`${name}=`));
      return f === undefined ? undefined : f.includes('=') ? f.slice(name.length + 1) : '';
    };
    const latency = Number(opt('latency') ?? 0) + (run.latencyMs ?? 0) + rangeLatency(run.latencyRangeMs, run.random);
    if (latency > 0) await sleep(latency, c.req.raw.signal);
    if (run.down) return c.json({ error: { code: 'SERVICE_UNAVAILABLE', message: 'partner is down (simulated)' } }, 503);
    for (const s of ['500', '502', '503'] as const) {
      if (opt(s) !== undefined) return c.json({ error: { code: 'INTERNAL_SERVER_ERROR', message: `simulated ${s}` } }, Number(s) as 500);
    }
    const r429 = opt('429');
    if (r429 !== undefined) {
      c.header('Retry-After', r429 || '1');
      return c.json({ error: { code: 'RATE_LIMITED', message: 'too many requests (simulated)' } }, 429);
    }
    if (opt('400') !== undefined) {
      const a = answers.invalid();
      return c.json(a.body as object, a.status as 400);
    }
    if (opt('refuse') !== undefined) {
      const a = answers.refuse();
      return c.json(a.body as object, a.status as 422);
    }
    const t = opt('timeout');
    if (t !== undefined) {
      await sleep(Number(t || 10_000), c.req.raw.signal);
      return c.json({ error: { code: 'GATEWAY_TIMEOUT', message: 'simulated timeout' } }, 504);
    }
    if ((run.errorRate ?? 0) > 0 && (run.random ?? Math.random)() < run.errorRate!) {
      return c.json({ error: { code: 'INTERNAL_SERVER_ERROR', message: 'simulated random failure' } }, 500);
    }
    await next();
    if (opt('drop-response') !== undefined) {
      // The effect happened; now the caller never learns it. On a real socket, cut it; in-process,
      // hand back a body that fails while being read.
      const socket = (c.env as { incoming?: { socket?: { destroy(): void } } } | undefined)?.incoming?.socket;
      if (socket) {
        socket.destroy();
        return;
      }
      const status = [101, 204, 205, 304].includes(c.res.status) ? 200 : c.res.status;
      c.res = new Response(new ReadableStream({ start(ctrl) { ctrl.error(new TypeError('simulated dropped response')); } }), {
        status,
        headers: c.res.headers,
      });
    }
  };
}

/** Mounts `POST /_control` (per-run faults) and `GET /_control/effects` on a simulator app. */
export function controlRoutes(app: Hono, run: RunFaults, effects: Effects): void {
  app.post('/_control', async (c) => {
    const body = (await c.req.json().catch(() => ({}))) as RunFaults & { reset_effects?: boolean };
    if (body.errorRate !== undefined) run.errorRate = Number(body.errorRate);
    if (body.latencyMs !== undefined) run.latencyMs = Number(body.latencyMs);
    if (body.latencyRangeMs !== undefined) run.latencyRangeMs = Array.isArray(body.latencyRangeMs) ? [Number(body.latencyRangeMs[0]), Number(body.latencyRangeMs[1])] : undefined;
    if (body.down !== undefined) run.down = Boolean(body.down);
    if (body.reset_effects) effects.reset();
    return c.json({ errorRate: run.errorRate ?? 0, latencyMs: run.latencyMs ?? 0, latencyRangeMs: run.latencyRangeMs ?? null, down: run.down ?? false });
  });
  app.get('/_control/effects', (c) => c.json(effects.counts));
}

export interface OutgoingWebhook {
  body: string;
  /** Headers including the signature, computed over `body`. */
  headers: Record<string, string>;
}

export interface SendOptions {
  /** Send each delivery twice (same id and signature), as a sender retrying after a lost 2xx. */
  duplicate?: boolean;
  /** Send the batch newest first. */
  outOfOrder?: boolean;
  /** Corrupt the signature. */
  badSignature?: boolean;
}

/** Delivers signed webhooks to `url`; answers the HTTP statuses received, in send order. */
export async function sendWebhooks(fetchFn: typeof fetch, url: string, batch: OutgoingWebhook[], opts: SendOptions = {}): Promise<number[]> {
  const list = opts.outOfOrder ? [...batch].reverse() : batch;
  const statuses: number[] = [];
  for (const w of list) {
    const headers: Record<string, string> = { 'content-type': 'application/json', ...w.headers };
    if (opts.badSignature) {
      for (const [k, v] of Object.entries(headers)) {
        if (/signature|hmac|token|authorization/i.test(k)) headers[k] = corrupt(v);
      }
    }
    for (let i = 0; i < (opts.duplicate ? 2 : 1); i++) {
      try {
        const res = await fetchFn(url, { method: 'POST', headers, body: w.body });
        await res.arrayBuffer().catch(() => undefined);
        statuses.push(res.status);
      } catch {
        statuses.push(0);
      }
    }
  }
  return statuses;
}

function corrupt(v: string): string {
  const last = v.at(-2) ?? 'A';
  return `${v.slice(0, -2)}${last === 'A' ? 'B' : 'A'}${v.at(-1) ?? ''}`;
}

/** The webhook target now. */
export function urlOf(u: string | (() => string)): string {
  return typeof u === 'function' ? u() : u;
}

/** A partner simulator: its Hono app (routes relative to its mount point), effects and controls. */
export interface Simulator {
  /** Partner style, e.g. "easypost". */
  readonly kind: string;
  readonly app: Hono;
  readonly effects: Effects;
  readonly run: RunFaults;
}

/** Per-run fault state from options. */
export function runFaults(o: SimOptions): RunFaults & { random?: () => number } {
  return { errorRate: o.errorRate, latencyMs: o.latencyMs, latencyRangeMs: o.latencyRangeMs, down: o.down, random: o.random };
}

/** Short random ids in a partner's style (`shp_…`), deterministic when `random` is. */
export function idMaker(random: () => number = Math.random) {
  return (prefix: string, len = 24) => {
    let s = '';
    while (s.length < len) s += Math.floor(random() * 16).toString(16);
    return `${prefix}${s}`;
  };
}
