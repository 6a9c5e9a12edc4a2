/**
 * A fake Odoo behind `fetch`, speaking both transports the way Odoo does: `/jsonrpc` (common.version,
 * common.authenticate, object.execute_kw) and `/json/2/<model>/<method>` with a bearer key.
 * It implements the contracts of logistics.bridge.api.apply_milestones (one result per item,
 * `duplicate` for an id already applied) and apply_event_states (one result per item: applied,
 * duplicate, stale by the bridge's `at`, unknown event, rejected when malformed), as the addon does.
 * Knobs: down, conflicts, a revoked key, rejected ids, unknown event ids, wrong reply ids, an
 * application error on the states method (for some items), the real 422 follower race, and a latency that moves the injected clock.
 */
import type { Milestone } from '../../shared/src/index.ts';

export interface FakeOdoo {
  fetch: typeof fetch;
  /** Applied count per milestone id (exactly once means 1 each). */
  applied: Map<string, number>;
  /** Milestone ids in the order Odoo applied them. */
  order: string[];
  /** Calls of apply_milestones with their batch sizes. */
  batches: number[];
  requests: { url: string; headers: Record<string, string>; body: any }[];
  down: boolean;
  conflicts: number;
  key: string;
  rejectIds: Set<string>;
  /** Answer /jsonrpc with a different id (a broken proxy). */
  wrongId: boolean;
  version: number;
  /** Latest event state shown per event id (apply_event_states), when `statesMethod` is on. */
  states: Map<string, any>;
  /** false: Odoo lacks apply_event_states (an older module): 404 on JSON-2, AttributeError on /jsonrpc. */
  statesMethod: boolean;
  /** Event ids this Odoo never emitted (answered `unknown`). */
  unknownEvents: Set<string>;
  /** When set, apply_event_states fails with this application error (e.g. a ValidationError): every call, or calls carrying one of `statesErrorFor`. */
  statesError?: string;
  statesErrorFor?: Set<string>;
  /**
   * The real Odoo's 422 race before the fix ("a partner cannot follow twice the same object"): each
   * call of apply_event_states or apply_milestones fails as a whole with it while this returns true.
   */
  race?: (method: string, ids: string[]) => boolean;
  /** Per-item answers of every apply_event_states call, in call order. */
  stateResults: { id: string | null; status: string; message: string }[][];
  /** Called with the batch size; returns ms the call "takes" (moves the clock via `advance`). */
  latency?: (size: number) => number;
}

/** The 422 the real Odoo 19 answered when two calls added the same follower to one picking. */
export const RACE = 'The operation cannot be completed: A partner cannot follow twice the same object.';

export function fakeOdoo(options: { key?: string; version?: number; advance?: (ms: number) => void } = {}): FakeOdoo {
  const odoo: FakeOdoo = {
    applied: new Map(), order: [], batches: [], requests: [], down: false, conflicts: 0, key: options.key ?? 'secret-key',
    rejectIds: new Set(), wrongId: false, version: options.version ?? 19, fetch: undefined as any,
    states: new Map(), statesMethod: true, unknownEvents: new Set(), stateResults: [],
  };
  const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
  const apply = (milestones: Milestone[]) => {
    odoo.batches.push(milestones.length);
    if (odoo.latency && options.advance) options.advance(odoo.latency(milestones.length));
    return milestones.map((m) => {
      if (odoo.rejectIds.has(m.id)) return { id: m.id, status: 'rejected', message: 'picking not found' };
      const n = odoo.applied.get(m.id) ?? 0;
      if (n) return { id: m.id, status: 'duplicate', message: '' };
      odoo.applied.set(m.id, 1);
      odoo.order.push(m.id);
      return { id: m.id, status: 'applied', message: '' };
    });
  };
  const STATES = new Set(['received', 'queued', 'delivering', 'retrying', 'blocked', 'manual', 'delivered', 'dead', 'discarded']);
  // logistics.bridge.api.apply_event_states: never moves a state backwards by the bridge's `at`.
  const applyStates = (items: any[]) => {
    const results = items.map((st) => {
      const id = typeof st?.id === 'string' ? st.id : null;
      if (!id || !STATES.has(st.state) || typeof st.at !== 'string' || Number.isNaN(Date.parse(st.at))) return { id, status: 'rejected', message: 'malformed event state' };
      if (odoo.unknownEvents.has(id)) return { id, status: 'unknown', message: 'no outbox event with this id in this database' };
      const shown = odoo.states.get(id);
      if (shown && Date.parse(st.at) < Date.parse(shown.at)) return { id, status: 'stale', message: `older than the state shown (${shown.state})` };
      if (shown && JSON.stringify(shown) === JSON.stringify(st)) return { id, status: 'duplicate', message: 'already shown' };
      odoo.states.set(id, st);
      return { id, status: 'applied', message: '' };
    });
    odoo.stateResults.push(results);
    return results;
  };
  const idsOf = (items: unknown) => (Array.isArray(items) ? items.map((x: any) => String(x?.id)) : []);
  const statesFail = (items: unknown) => !!odoo.statesError && (!odoo.statesErrorFor || idsOf(items).some((id) => odoo.statesErrorFor!.has(id)));
  const odooError = (name: string, message: string) => ({ code: 200, message: 'Odoo Server Error', data: { name, message, debug: `Traceback...\n${name}: ${message}`, arguments: [message], context: {} } });
  odoo.fetch = (async (input: string | URL | Request, init?: RequestInit) => {
    const url = String(input);
    const headers = Object.fromEntries(Object.entries((init?.headers ?? {}) as Record<string, string>).map(([k, v]) => [k.toLowerCase(), v]));
    const body = init?.body ? JSON.parse(String(init.body)) : undefined;
    odoo.requests.push({ url, headers, body });
    if (odoo.down) throw new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8069'), { code: 'ECONNREFUSED' }) });
    const path = new URL(url).pathname;
    if (path === '/jsonrpc') {
      const { service, method, args } = body.params;
      const id = odoo.wrongId ? body.id + 1000 : body.id;
      if (service === 'common' && method === 'version') return json({ jsonrpc: '2.0', id, result: { server_version: `${odoo.version}.0`, server_version_info: [odoo.version, 0, 0, 'final', 0, ''], protocol_version: 1 } });
      if (service === 'common' && method === 'authenticate') return json({ jsonrpc: '2.0', id, result: args[2] === odoo.key ? 7 : false });
      if (service === 'object' && method === 'execute_kw') {
        const [, uid, key, model, m, positional] = args;
        if (key !== odoo.key || uid !== 7) return json({ jsonrpc: '2.0', id, error: odooError('odoo.exceptions.AccessDenied', 'Access Denied') });
        if (odoo.conflicts > 0) {
          odoo.conflicts -= 1;
          return json({ jsonrpc: '2.0', id, error: odooError('psycopg2.errors.SerializationFailure', 'could not serialize access due to concurrent update') });
        }
        if (odoo.race?.(m, idsOf(positional[0]))) return json({ jsonrpc: '2.0', id, error: odooError('odoo.exceptions.ValidationError', RACE) });
        if (m === 'apply_event_states' && odoo.statesMethod) {
          if (statesFail(positional[0])) return json({ jsonrpc: '2.0', id, error: odooError('odoo.exceptions.ValidationError', odoo.statesError!) });
          return json({ jsonrpc: '2.0', id, result: applyStates(positional[0]) });
        }
        if (model !== 'logistics.bridge.api' || m !== 'apply_milestones') return json({ jsonrpc: '2.0', id, error: odooError('builtins.AttributeError', `The method '${model}.${m}' does not exist`) });
        return json({ jsonrpc: '2.0', id, result: apply(positional[0]) });
      }
      return json({ jsonrpc: '2.0', id, error: odooError('builtins.NameError', 'unknown service') });
    }
    const m = /^\/json\/2\/([^/]+)\/([^/]+)$/.exec(path);
    if (m) {
      if (odoo.version < 19) return new Response('Not Found', { status: 404 });
      if (headers.authorization !== `bearer ${odoo.key}`) return json({ name: 'werkzeug.exceptions.Unauthorized', message: 'Invalid apikey', arguments: [], context: {}, debug: '' }, 401);
      if (odoo.conflicts > 0) {
        odoo.conflicts -= 1;
        return json({ name: 'psycopg2.errors.SerializationFailure', message: 'could not serialize access due to concurrent update', arguments: [], context: {}, debug: '' }, 500);
      }
      if (odoo.race?.(m[2], idsOf(body.states ?? body.milestones))) return json({ name: 'odoo.exceptions.ValidationError', message: RACE, arguments: [RACE], context: {}, debug: '' }, 422);
      if (m[2] === 'apply_event_states' && odoo.statesMethod) {
        if (statesFail(body.states)) return json({ name: 'odoo.exceptions.ValidationError', message: odoo.statesError, arguments: [odoo.statesError], context: {}, debug: '' }, 422);
        return json(applyStates(body.states));
      }
      if (m[1] !== 'logistics.bridge.api' || m[2] !== 'apply_milestones') return json({ name: 'werkzeug.exceptions.NotFound', message: `404 Not Found: The method '${m[1]}.${m[2]}' does not exist`, arguments: [], context: {}, debug: '' }, 404);
      return json(apply(body.milestones));
    }
    return new Response('Not Found', { status: 404 });
  }) as typeof fetch;
  return odoo;
}
