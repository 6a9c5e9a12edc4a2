/** Shared test kit for the engine: a fake clock, counting fake partners, a config builder. */
import { createHash } from 'node:crypto';
import type { Event, Milestone } from '../../shared/src/index.ts';
import { PartnerError, type AdapterFactory, type CallContext, type PartnerSettings, type StepResult } from '../../bridge/src/adapters/types.ts';
import { parseConfig, type Config } from '../../bridge/src/config/load.ts';
import type { ConfigFile } from '../../bridge/src/config/schema.ts';
import { createEngine, type Engine, type EngineOptions } from '../../bridge/src/core/engine.ts';
import { createMemoryStore } from '../../bridge/src/store/memory.ts';
import type { Store } from '../../bridge/src/store/types.ts';
import { createLogger } from '../../bridge/src/log.ts';
import { loadFixtures } from '../helpers/fixtures.ts';

/** A clock that moves only when told; timers fire in time order as it moves. */
export function fakeClock(start = Date.parse('2026-11-26T10:00:00Z')) {
  let now = start;
  let nextId = 1;
  const timers = new Map<number, { at: number; fn: () => void }>();
  return {
    now: () => new Date(now),
    ms: () => now,
    setTimeout: (fn: () => void, ms: number) => {
      const id = nextId++;
      timers.set(id, { at: now + Math.max(0, ms), fn });
      return id;
    },
    clearTimeout: (id: number) => { timers.delete(id); },
    /** Moves time forward by `ms`, firing due timers in order. */
    advance(ms: number) {
      const end = now + ms;
      for (;;) {
        const due = [...timers.entries()].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
        if (!due) break;
        timers.delete(due[0]);
        now = Math.max(now, due[1].at);
        due[1].fn();
      }
      now = end;
    },
    pending: () => timers.size,
    /** When the earliest timer fires, if any. */
    nextAt: () => Math.min(...[...timers.values()].map((t) => t.at)),
  };
}
export type FakeClock = ReturnType<typeof fakeClock>;

/** What a fake partner does on its next calls: a script, consumed in order, then `otherwise`. */
export type Behaviour = 'ok' | 'fail500' | 'refuse' | 'hang' | 'act-then-hang' | { retryAfterMs: number; status?: number } | { status: number } | ((ctx: CallContext, event: unknown) => Promise<StepResult> | StepResult);

export interface FakePartner {
  id: string;
  /** Every call, in order: the action, the idempotency key, the event or milestone id, the fake time. */
  calls: { action: string; key: string; subject: string; at: number; data: Record<string, unknown> }[];
  /** Effects performed per event/milestone id (a partner that honours keys acts once per key and replays its answer). */
  effects: Map<string, number>;
  /** Answers stored per idempotency key (honouring partners). */
  answers: Map<string, StepResult>;
  script: Behaviour[];
  otherwise: Behaviour;
  inFlight: number;
  maxInFlight: number;
  /** Resolves hung calls. */
  release(): void;
}

/** A registry entry whose partners record every call and follow a script. */
export function fakeRegistry(clock: FakeClock, options: { honoursKeys?: boolean; withFind?: boolean } = {}) {
  const partners = new Map<string, FakePartner>();
  const { honoursKeys = true } = options;
  /** A fake that honours keys deduplicates; one that does not but can be searched looks up before creating again; otherwise unsafe. */
  const rule = (action: string) => honoursKeys ? 'partner-deduplicates' as const : options.withFind && action === 'createShipment' ? 'lookup-before-retry' as const : 'unsafe' as const;
  const safety = (...actions: string[]) => Object.fromEntries(actions.map((a) => [a, { rule: rule(a), doc: 'test double' }])) as any;
  const get = (id: string): FakePartner => {
    let p = partners.get(id);
    if (!p) {
      let releases: (() => void)[] = [];
      p = {
        id, calls: [], effects: new Map(), answers: new Map(), script: [], otherwise: 'ok', inFlight: 0, maxInFlight: 0,
        release() { const r = releases; releases = []; r.forEach((f) => f()); },
      };
      (p as any)._hang = (fn: () => void) => releases.push(fn);
      partners.set(id, p);
    }
    return p;
  };
  const handler = (settings: PartnerSettings, action: string) => async (body: Event | Milestone, ctx: CallContext): Promise<StepResult> => {
    const p = get(settings.id);
    const subject = body.id;
    p.calls.push({ action, key: ctx.idempotencyKey, subject, at: clock.ms(), data: ctx.data });
    p.inFlight += 1;
    p.maxInFlight = Math.max(p.maxInFlight, p.inFlight);
    try {
      const b = p.script.length ? p.script.shift()! : p.otherwise;
      if (typeof b === 'function') return await b(ctx, body);
      if (b === 'hang') {
        await new Promise<void>((resolve, reject) => {
          (p as any)._hang(resolve);
          ctx.signal.addEventListener('abort', () => reject(new PartnerError('retryable', 'aborted')));
        });
      }
      if (b === 'fail500') throw new PartnerError('retryable', 'HTTP 500 from partner', { status: 500 });
      if (b === 'refuse') throw new PartnerError('permanent', 'address is not deliverable', { status: 422, reason: 'invalid_address' });
      if (typeof b === 'object' && 'retryAfterMs' in b) throw new PartnerError('retryable', 'HTTP 429 slow down', { status: b.status ?? 429, retryAfterMs: b.retryAfterMs });
      if (typeof b === 'object' && 'status' in b) throw new PartnerError('retryable', `HTTP ${b.status}`, { status: b.status });
      const seen = honoursKeys ? p.answers.get(ctx.idempotencyKey) : undefined;
      if (seen) return seen;
      // A lookup-before-retry fake: in doubt, it finds what an earlier call created and adopts it.
      if (rule(action) === 'lookup-before-retry' && ctx.inDoubt) {
        const found = await find(settings.id, subject, ctx);
        if (found) return found;
      }
      p.effects.set(subject, (p.effects.get(subject) ?? 0) + 1);
      const answer = act(settings.id, action, body);
      if (honoursKeys) p.answers.set(ctx.idempotencyKey, answer);
      if (b === 'act-then-hang') await new Promise(() => {});
      return answer;
    } finally {
      p.inFlight -= 1;
    }
  };
  const find = async (partnerId: string, ref: string, ctx: CallContext): Promise<StepResult | undefined> => {
    const p = get(partnerId);
    p.calls.push({ action: 'findShipment', key: ctx.idempotencyKey, subject: ref, at: clock.ms(), data: ctx.data });
    return p.effects.get(ctx.correlationId) ? { data: { shipment_id: `${partnerId}-found`, ref } } : undefined;
  };
  const act = (partnerId: string, action: string, body: Event | Milestone): StepResult => {
    const subject = body.id;
    const ref = `${partnerId}-${subject.slice(-4)}`;
      if (action === 'createShipment') {
        const e = body as Extract<Event, { type: 'shipment.requested' }>;
        return {
          data: { shipment_id: ref },
          milestones: [{
            id: stableId(partnerId, subject), type: 'label.created', schema_version: 1, occurred_at: clock.now().toISOString(),
            source: { partner: partnerId, partner_ref: ref }, aggregate: e.aggregate, event_id: e.id,
            payload: { shipment_ref: e.payload.shipment_ref, carrier: e.payload.carrier.carrier, tracking_number: `TRK${subject.slice(-6)}`, label: { format: 'PDF', url: 'https://labels.example.com/x.pdf' } },
          } as Milestone],
        };
      }
      return { data: { [`${action}_ref`]: ref } };
  };
  const warehouse: AdapterFactory = {
    role: 'warehouse',
    create: (s) => ({
      role: 'warehouse', safety: safety('releaseOrder', 'cancelOrder', 'expectReturn'), releaseOrder: handler(s, 'releaseOrder') as any, cancelOrder: handler(s, 'cancelOrder') as any, expectReturn: handler(s, 'expectReturn') as any,
    }),
  };
  const carrier: AdapterFactory = {
    role: 'carrier',
    create: (s) => ({
      role: 'carrier', safety: safety('createShipment', 'cancelShipment', 'createReturnLabel'), createShipment: handler(s, 'createShipment') as any, cancelShipment: handler(s, 'cancelShipment') as any,
      createReturnLabel: handler(s, 'createReturnLabel') as any,
      ...(options.withFind && { findShipment: (ref: string, ctx: CallContext) => find(s.id, ref, ctx) }),
    }),
  };
  const visibility: AdapterFactory = { role: 'visibility', create: (s) => ({ role: 'visibility', safety: safety('publishMilestone'), publishMilestone: handler(s, 'publishMilestone') as any }) };
  return { registry: { 'fake-wms': warehouse, 'fake-carrier': carrier, 'fake-vis': visibility } as Record<string, AdapterFactory>, partner: get };
}

/** A config with one warehouse `wms` and carriers `ups` (fallback `dhl`) unless overridden. */
export function testConfig(overrides: Partial<ConfigFile> = {}): Config {
  const file: ConfigFile = {
    partners: [
      { id: 'wms', adapter: 'fake-wms', role: 'warehouse', limits: { max_attempts: 3, backoff: { base_ms: 1000, cap_ms: 8000 } } },
      { id: 'ups', adapter: 'fake-carrier', role: 'carrier', limits: { max_attempts: 3, breaker: { consecutive_failures: 3, half_open_after_ms: 10_000 } } },
      { id: 'dhl', adapter: 'fake-carrier', role: 'carrier' },
    ],
    routes: [
      { events: ['order.released', 'order.cancelled', 'return.requested'], when: { warehouse: ['WH'] }, partners: ['wms'] },
      { events: ['shipment.requested', 'shipment.cancelled'], partners: ['ups'] },
    ],
    ...overrides,
  };
  return parseConfig(file, {}, 'test');
}

/** Silent logger (set LOG_LEVEL=debug to see the engine talk). */
export const quietLogger = () => createLogger({ level: process.env.LOG_LEVEL ?? 'silent' });

/** A UUID-shaped id derived from its parts (partners' milestone ids are stable per fact). */
export function stableId(...parts: string[]): string {
  const h = createHash('sha256').update(parts.join('|')).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

let n = 0;
/** A valid event of `type` (from the shared fixtures) on `aggregate` with `sequence`. */
export function event(type: Event['type'], aggregate = 'stock.picking:17', sequence = 1, patch: Record<string, unknown> = {}): Event {
  const name = type === 'order.released' ? 'order.released' : type;
  const base = loadFixtures<Event>('events', 'valid').find(([f]) => f === name)![1];
  n += 1;
  const id = `0b7f3c1e-6a5d-4e8b-9f21-${String(n).padStart(12, '0')}`;
  return { ...structuredClone(base), id, aggregate, sequence, ...patch } as Event;
}

export interface Harness {
  clock: FakeClock;
  store: Store;
  engine: Engine;
  partner: (id: string) => FakePartner;
  /** Ingests events (as the socket would) and runs everything due. */
  publish(...events: Event[]): Promise<void>;
  /** Moves the clock and runs everything due. */
  advance(ms: number): Promise<void>;
  state(id: string): Promise<string | undefined>;
}

/** A started engine on a memory store and a fake clock. random defaults to 0.5. */
export async function harness(options: { config?: Config; random?: () => number; store?: Store; clock?: FakeClock; keys?: boolean; withFind?: boolean; odoo?: EngineOptions['odoo']; metrics?: EngineOptions['metrics']; aggregateRetentionMs?: number; maxActiveEvents?: number; registry?: EngineOptions['registry']; fetch?: typeof fetch; logs?: EngineOptions['logs'] } = {}): Promise<Harness> {
  const clock = options.clock ?? fakeClock();
  const store = options.store ?? createMemoryStore({ now: clock.now });
  if (!store.isOpen) await store.open();
  const { registry, partner } = fakeRegistry(clock, { honoursKeys: options.keys ?? true, withFind: options.withFind });
  const engine = createEngine({
    store, config: options.config ?? testConfig(), registry: options.registry ?? registry, logger: quietLogger(), odoo: options.odoo, metrics: options.metrics,
    aggregateRetentionMs: options.aggregateRetentionMs, maxActiveEvents: options.maxActiveEvents, logs: options.logs,
    io: { now: clock.now, random: options.random ?? (() => 0.5), setTimeout: clock.setTimeout, clearTimeout: clock.clearTimeout, fetch: options.fetch ?? ((() => { throw new Error('no network in tests'); }) as any) },
  });
  await engine.start();
  const h: Harness = {
    clock, store, engine, partner,
    async publish(...events) {
      await store.ingest(events);
      await engine.runDue();
    },
    async advance(ms) {
      // Step from timer to timer, letting the engine finish what each one started before time moves on.
      const end = clock.ms() + ms;
      for (let guard = 0; guard < 100_000; guard++) {
        const at = clock.nextAt();
        if (!(at <= end)) break;
        clock.advance(Math.max(0, at - clock.ms()));
        await engine.runDue();
      }
      clock.advance(end - clock.ms());
      await engine.runDue();
    },
    async state(id) {
      return (await store.get(id))?.state;
    },
  };
  return h;
}
