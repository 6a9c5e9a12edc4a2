/**
 * Shadow (dual-run) validation before a cutover: for one partner, build every request the bridge
 * would send for a set of events and compare it with what the legacy integration sent for the same
 * reference, sending nothing. The adapter runs as in production but its requests go to this repo's
 * in-process simulator of that partner (so multi-step calls — create, then buy — get the answers
 * they need); nothing leaves the process.
 *
 * The legacy feed is JSON Lines, one request per line, as the old integration logged it:
 *   {"ref": "WH/OUT/00012", "method": "POST", "path": "/v2/shipments", "body": {...}}
 * `ref` is our reference for the shipment, order or return (shipment_ref, return_ref, picking_ref or
 * order_ref of the event). Paths are compared with ids replaced by `:id`; bodies field by field,
 * except the `ignore` paths (e.g. `shipment.options.print_custom_1`, or `*.created_at`).
 */
import { upcastEvent, type Event } from '../../../shared/src/index.ts';
import type { AdapterFactory, CallContext, PartnerAdapter, StepResult } from '../adapters/types.ts';
import type { Config } from '../config/load.ts';
import { planSteps } from '../core/routing.ts';
import { createAfterShipSim } from '../simulators/aftership/app.ts';
import { createEasyPostSim } from '../simulators/easypost/app.ts';
import { createShippoSim } from '../simulators/shippo/app.ts';
import { createStandardWebhooksSim } from '../simulators/standard-webhooks/app.ts';
import { createWmsSim } from '../simulators/wms/app.ts';

export interface LegacyRequest {
  ref: string;
  method: string;
  path: string;
  body?: unknown;
}

export interface BuiltRequest {
  method: string;
  /** Path with ids replaced by `:id`. */
  path: string;
  body?: unknown;
}

export interface FieldDifference {
  path: string;
  bridge?: unknown;
  legacy?: unknown;
}

export type ShadowOutcome =
  /** Same requests, same fields (ignored ones aside). */
  | 'match'
  /** Same requests, some fields differ. */
  | 'differ'
  /** The bridge would send requests the legacy did not (or in another order). */
  | 'only_bridge'
  /** The legacy sent for this reference but the bridge would send nothing. */
  | 'only_legacy'
  /** The adapter refused the event (its error says why): a business problem to fix before cutover. */
  | 'refused';

export interface ShadowItem {
  ref: string;
  event_id?: string;
  outcome: ShadowOutcome;
  requests: { bridge?: BuiltRequest; legacy?: BuiltRequest; differences: FieldDifference[] }[];
  error?: string;
}

export interface ShadowReport {
  partner: string;
  at: string;
  counts: Record<ShadowOutcome, number>;
  items: ShadowItem[];
}

/**
 * Simulators a shadow run can answer with, by adapter name, and the path each serves the partner's
 * API under (as the demo mounts them; file-3pl needs no answer: it only writes files).
 */
const SIMULATORS: Record<string, { prefix: string; create: () => { app: { fetch: (r: Request) => Response | Promise<Response> } } }> = {
  easypost: { prefix: '/v2', create: () => createEasyPostSim({ latencyMs: 0 }) },
  shippo: { prefix: '', create: () => createShippoSim({ latencyMs: 0 }) },
  'rest-wms': { prefix: '', create: () => createWmsSim({ latencyMs: 0, knownSkus: undefined }) },
  'standard-webhooks': { prefix: '/webhooks/bridge', create: () => createStandardWebhooksSim({ latencyMs: 0 }) },
  aftership: { prefix: '', create: () => createAfterShipSim({ latencyMs: 0 }) },
};

/** Our reference for what an event is about. */
export function referenceOf(event: Event): string | undefined {
  const p = event.payload as Record<string, unknown>;
  const ref = p.shipment_ref ?? p.return_ref ?? p.picking_ref ?? p.order_ref;
  return typeof ref === 'string' ? ref : undefined;
}

const ID_SEGMENT = /^(?:[a-z]{2,12}_[0-9A-Za-z]+|[0-9a-f]{8,}|\d+|[0-9a-f-]{36})$/;
/** A path as compared: no query, no base prefix before the version/resource, ids as `:id`. */
export function normalPath(path: string, basePath = ''): string {
  let p = path.split('?')[0];
  if (basePath && p.startsWith(basePath)) p = p.slice(basePath.length) || '/';
  return p.split('/').map((s) => (ID_SEGMENT.test(s) ? ':id' : s)).join('/').replace(/\/+$/, '') || '/';
}

/** Leaf values by dotted path (arrays by index). */
export function flatten(value: unknown, prefix = '', out = new Map<string, unknown>()): Map<string, unknown> {
  if (value !== null && typeof value === 'object') {
    const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v] as const) : Object.entries(value as Record<string, unknown>);
    if (!entries.length) out.set(prefix, value);
    for (const [k, v] of entries) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  } else out.set(prefix, value);
  return out;
}

/** `a.*.b` matches any one segment; a prefix matches everything under it. */
function ignored(path: string, patterns: readonly string[]): boolean {
  return patterns.some((pat) => {
    const re = new RegExp(`^${pat.split('.').map((s) => (s === '*' ? '[^.]+' : s.replace(/[$()*+.?[\\\]^{|}]/g, '\\$&'))).join('\\.')}(?:\\..*)?$`);
    return re.test(path);
  });
}

export function diffBodies(bridge: unknown, legacy: unknown, ignore: readonly string[] = []): FieldDifference[] {
  const a = flatten(bridge);
  const b = flatten(legacy);
  const out: FieldDifference[] = [];
  for (const path of [...new Set([...a.keys(), ...b.keys()])].sort()) {
    if (ignored(path, ignore)) continue;
    const x = a.get(path);
    const y = b.get(path);
    if (JSON.stringify(x) !== JSON.stringify(y)) out.push({ path, ...(a.has(path) && { bridge: x }), ...(b.has(path) && { legacy: y }) });
  }
  return out;
}

/** The effectful requests (not GET/HEAD) one adapter call makes, answered by the simulator. */
async function buildRequests(adapter: PartnerAdapter, action: string, event: Event, captured: { method: string; url: string; body?: unknown }[]) {
  const ctx: CallContext = { idempotencyKey: `${event.id}:shadow`, correlationId: event.id, signal: new AbortController().signal, data: {}, inDoubt: false };
  const call = (adapter as unknown as Record<string, (e: Event, c: CallContext) => Promise<StepResult>>)[action];
  if (typeof call !== 'function') throw new Error(`the adapter has no ${action}`);
  captured.length = 0;
  await call.call(adapter, event, ctx);
  return captured.filter((r) => r.method !== 'GET' && r.method !== 'HEAD');
}

/**
 * Compares, for `partnerId`, the requests the bridge would send for `events` with the legacy feed.
 * Events not routed to the partner are left out; legacy references with no event are `only_legacy`.
 */
export async function shadowRun(o: {
  config: Config; registry: Record<string, AdapterFactory>; partnerId: string; events: Event[]; legacy: LegacyRequest[]; ignore?: readonly string[]; now?: () => Date;
}): Promise<ShadowReport> {
  const partner = o.config.partners.find((p) => p.id === o.partnerId);
  if (!partner) throw new Error(`no partner "${o.partnerId}" in the configuration (partners: ${o.config.partners.map((p) => p.id).join(', ')})`);
  const simulator = SIMULATORS[partner.adapter];
  const sim = simulator?.create();
  if (!simulator || !sim) throw new Error(`a shadow run needs a simulator of adapter "${partner.adapter}"; there is none (have: ${Object.keys(SIMULATORS).join(', ')})`);
  const base = new URL(partner.base_url ?? 'http://shadow.invalid');
  const basePath = base.pathname === '/' ? '' : base.pathname.replace(/\/+$/, '');
  const captured: { method: string; url: string; body?: unknown }[] = [];
  // Every request goes to the in-process simulator; none leaves the process.
  const fetchFn = (async (input: string | URL | Request, init?: RequestInit) => {
    const req = new Request(input, init);
    const text = req.method === 'GET' || req.method === 'HEAD' ? '' : await req.clone().text();
    let body: unknown = text || undefined;
    try { if (text) body = JSON.parse(text); } catch { /* a form or text body is compared as text */ }
    captured.push({ method: req.method, url: req.url, body });
    const u = new URL(req.url);
    const rest = basePath && u.pathname.startsWith(basePath) ? u.pathname.slice(basePath.length) : u.pathname;
    return sim.app.fetch(new Request(`http://sim.local${simulator.prefix}${rest}${u.search}`, req));
  }) as typeof fetch;
  const adapter = o.registry[partner.adapter].create(
    { id: partner.id, adapter: partner.adapter, base_url: `http://sim.local${base.pathname === '/' ? '' : base.pathname}`, credentials: partner.credentials ?? {}, options: partner.options ?? {} },
    { fetch: fetchFn, now: o.now ?? (() => new Date()), dataDir: '/nonexistent-shadow' },
  );
  const legacyByRef = new Map<string, BuiltRequest[]>();
  for (const l of o.legacy) {
    const list = legacyByRef.get(l.ref) ?? [];
    list.push({ method: l.method.toUpperCase(), path: normalPath(l.path, basePath), body: l.body });
    legacyByRef.set(l.ref, list);
  }
  const items: ShadowItem[] = [];
  const seen = new Set<string>();
  for (const event of o.events) {
    const step = planSteps(o.config, event).steps.find((s) => s.candidates[0] === o.partnerId);
    const ref = referenceOf(event);
    if (!step || !ref) continue;
    seen.add(ref);
    const legacy = legacyByRef.get(ref) ?? [];
    let built: BuiltRequest[];
    try {
      built = (await buildRequests(adapter, step.action, upcastEvent(event) as Event, captured)).map((r) => ({ method: r.method, path: normalPath(new URL(r.url).pathname, basePath), body: r.body }));
    } catch (e) {
      items.push({ ref, event_id: event.id, outcome: 'refused', requests: [], error: (e as Error).message });
      continue;
    }
    const pairs: ShadowItem['requests'] = [];
    let outcome: ShadowOutcome = legacy.length ? 'match' : 'only_bridge';
    for (let i = 0; i < Math.max(built.length, legacy.length); i++) {
      const b = built[i];
      const l = legacy[i];
      if (!b || !l || b.method !== l.method || b.path !== l.path) {
        pairs.push({ bridge: b, legacy: l, differences: [] });
        if (outcome !== 'only_legacy') outcome = !b ? 'only_legacy' : 'only_bridge';
        continue;
      }
      const differences = diffBodies(b.body, l.body, o.ignore);
      pairs.push({ bridge: b, legacy: l, differences });
      if (differences.length && outcome === 'match') outcome = 'differ';
    }
    items.push({ ref, event_id: event.id, outcome, requests: pairs });
  }
  for (const [ref, legacy] of legacyByRef) {
    if (!seen.has(ref)) items.push({ ref, outcome: 'only_legacy', requests: legacy.map((l) => ({ legacy: l, differences: [] })) });
  }
  const counts = { match: 0, differ: 0, only_bridge: 0, only_legacy: 0, refused: 0 } as Record<ShadowOutcome, number>;
  for (const i of items) counts[i.outcome]++;
  return { partner: o.partnerId, at: (o.now ?? (() => new Date()))().toISOString(), counts, items };
}

/** Reads a JSON Lines legacy feed; a bad line names its number. */
export function parseLegacyFeed(text: string): LegacyRequest[] {
  const out: LegacyRequest[] = [];
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    let r: Partial<LegacyRequest>;
    try { r = JSON.parse(line); } catch (e) { throw new Error(`legacy feed line ${i + 1}: not JSON (${(e as Error).message})`); }
    if (typeof r.ref !== 'string' || typeof r.method !== 'string' || typeof r.path !== 'string') throw new Error(`legacy feed line ${i + 1}: needs "ref", "method" and "path" strings`);
    out.push(r as LegacyRequest);
  });
  return out;
}
