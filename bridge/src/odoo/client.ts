/**
 * The Odoo write-back client: one interface, two transports.
 * - jsonrpc: `POST /jsonrpc` `object.execute_kw(db, uid, api_key, model, method, args)` through the
 *   json-rpc-2.0 client; every request has a timeout (a reply with a wrong id would hang it forever).
 * - json2 (Odoo 19+): `POST /json/2/<model>/<method>` with `Authorization: bearer <api key>` and
 *   named arguments in the body.
 * - auto: asks the server its version (`common.version`) once and takes json2 from 19 on.
 * Errors come out classified once, here (refusal.ts): transient (Odoo down or contended: wait and
 * drain), conflict (a concurrent call won a race: retry), permanent (the call itself is wrong), auth
 * (pause, alert).
 */
import { JSONRPCClient, JSONRPCErrorException } from 'json-rpc-2.0';
import { classifyRefusal, type Refusal } from './refusal.ts';
import type { Milestone } from '../../../shared/src/index.ts';

/** A classified Odoo failure. `name` is Odoo's exception class when it said one. */
export class OdooError extends Error {
  constructor(readonly kind: Refusal, message: string, readonly details: { status?: number; name?: string; cause?: unknown } = {}) {
    super(message, { cause: details.cause });
    this.name = 'OdooError';
  }
}

/** One result per milestone, in input order (logistics.bridge.api.apply_milestones). */
export interface ApplyResult {
  id: string | null;
  status: 'applied' | 'duplicate' | 'stale' | 'rejected';
  message?: string;
}

export interface OdooClient {
  /** The transport in use (`auto` resolves on the first call). */
  transport(): 'jsonrpc' | 'json2' | 'auto';
  /** Writes a batch of milestones; one result per milestone, same order. */
  applyMilestones(milestones: Milestone[]): Promise<ApplyResult[]>;
  /** Calls any method of the write-back model with named arguments. */
  call<T = unknown>(method: string, kwargs: Record<string, unknown>, positional: unknown[]): Promise<T>;
}

export interface OdooClientOptions {
  url: string;
  db: string;
  transport?: 'jsonrpc' | 'json2' | 'auto';
  /** The integration user's login (jsonrpc authenticates login + key to get its uid). */
  login?: string;
  api_key: string;
  model?: string;
  timeout_ms?: number;
  fetch?: typeof fetch;
}

/** Classifies an Odoo exception by its name, message and HTTP status (refusal.ts has the rule). */
export function classifyOdooException(name: string | undefined, message: string, status?: number): Refusal {
  return classifyRefusal({ name, message, status });
}

/** Builds the client; `fetch` comes in from outside (tests replay recorded Odoo answers). */
export function createOdooClient(options: OdooClientOptions): OdooClient {
  const { url, db, api_key, model = 'logistics.bridge.api', timeout_ms = 30_000 } = options;
  const doFetch = options.fetch ?? globalThis.fetch;
  const base = url.replace(/\/+$/, '');
  let transport = options.transport ?? 'auto';
  let uid: number | undefined;

  async function post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
    const signal = AbortSignal.timeout(timeout_ms);
    try {
      return await doFetch(`${base}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'odoo-logistics-bridge', ...headers },
        body: JSON.stringify(body),
        signal,
      });
    } catch (e) {
      const timedOut = (e as Error)?.name === 'TimeoutError' || signal.aborted;
      throw new OdooError('transient', timedOut ? `Odoo did not answer ${path} within ${timeout_ms} ms` : `cannot reach Odoo at ${base}: ${(e as Error)?.message ?? e}`, { cause: e });
    }
  }

  // json-rpc-2.0 client: we send, it matches replies to requests by id; `.timeout()` bounds every call.
  // A failed send reaches the caller only as a generic JSON-RPC error, so the classified error
  // travels in the per-call holder (json-rpc-2.0's clientParams).
  type Holder = { error?: OdooError };
  const rpc = new JSONRPCClient<Holder>(async (payload, holder) => {
    try {
      const res = await post('/jsonrpc', payload);
      if (!res.ok) {
        const text = await res.text().catch(() => '');
        throw new OdooError(classifyOdooException(undefined, text, res.status), `Odoo answered HTTP ${res.status} on /jsonrpc: ${text.slice(0, 300)}`, { status: res.status });
      }
      let json: unknown;
      try {
        json = await res.json();
      } catch (e) {
        throw new OdooError('transient', 'Odoo answered /jsonrpc with something that is not JSON', { cause: e });
      }
      rpc.receive(json as any);
    } catch (e) {
      holder.error = e instanceof OdooError ? e : new OdooError('transient', String((e as Error)?.message ?? e), { cause: e });
      throw e;
    }
  });

  async function jsonrpcCall(service: string, method: string, args: unknown[]): Promise<any> {
    const holder: Holder = {};
    try {
      return await rpc.timeout(timeout_ms, (id) => ({ jsonrpc: '2.0', id, error: { code: -32000, message: `no answer within ${timeout_ms} ms`, data: { name: 'bridge.Timeout' } } }))
        .request('call', { service, method, args }, holder);
    } catch (e) {
      if (holder.error) throw holder.error;
      if (e instanceof OdooError) throw e;
      if (e instanceof JSONRPCErrorException) {
        const data = (e.data ?? {}) as { name?: string; message?: string; debug?: string };
        if (data.name === 'bridge.Timeout') throw new OdooError('transient', `Odoo did not answer ${service}.${method} within ${timeout_ms} ms`, { cause: e });
        const message = data.message || e.message;
        throw new OdooError(classifyOdooException(data.name, `${message} ${data.debug?.split('\n').slice(-2).join(' ') ?? ''}`), `Odoo ${service}.${method}: ${data.name ?? 'error'}: ${message}`, { name: data.name, cause: e });
      }
      throw new OdooError('transient', `Odoo ${service}.${method}: ${(e as Error)?.message ?? e}`, { cause: e });
    }
  }

  async function resolveTransport(): Promise<'jsonrpc' | 'json2'> {
    if (transport !== 'auto') return transport;
    const v = await jsonrpcCall('common', 'version', []);
    const major = Number(Array.isArray(v?.server_version_info) ? v.server_version_info[0] : String(v?.server_version ?? '').split('.')[0]);
    transport = Number.isFinite(major) && major >= 19 ? 'json2' : 'jsonrpc';
    return transport;
  }

  async function login(): Promise<number> {
    if (uid !== undefined) return uid;
    if (!options.login) throw new OdooError('auth', 'the jsonrpc transport needs odoo.login (the integration user) to authenticate');
    const r = await jsonrpcCall('common', 'authenticate', [db, options.login, api_key, {}]);
    if (typeof r !== 'number' || r <= 0) throw new OdooError('auth', `Odoo refused the API key of ${options.login} (revoked or expired?)`);
    uid = r;
    return uid;
  }

  async function call<T>(method: string, kwargs: Record<string, unknown>, positional: unknown[]): Promise<T> {
    const t = await resolveTransport();
    if (t === 'json2') {
      const res = await post(`/json/2/${model}/${method}`, kwargs, { authorization: `bearer ${api_key}`, 'x-odoo-database': db });
      const text = await res.text().catch(() => '');
      let body: any;
      try {
        body = text ? JSON.parse(text) : null;
      } catch {
        body = text;
      }
      if (res.ok) return body as T;
      const name = typeof body === 'object' && body ? body.name : undefined;
      const message = typeof body === 'object' && body ? String(body.message ?? text) : String(body ?? '');
      throw new OdooError(classifyOdooException(name, message, res.status), `Odoo ${model}.${method} answered HTTP ${res.status}: ${name ? `${name}: ` : ''}${message.slice(0, 300)}`, { status: res.status, name });
    }
    const id = await login();
    try {
      return (await jsonrpcCall('object', 'execute_kw', [db, id, api_key, model, method, positional])) as T;
    } catch (e) {
      // A key revoked since login: forget the uid so the next try authenticates again.
      if (e instanceof OdooError && e.kind === 'auth') uid = undefined;
      throw e;
    }
  }

  return {
    transport: () => transport,
    call,
    async applyMilestones(milestones) {
      const results = await call<ApplyResult[]>('apply_milestones', { milestones }, [milestones]);
      if (!Array.isArray(results) || results.length !== milestones.length) {
        throw new OdooError('permanent', `apply_milestones answered ${Array.isArray(results) ? results.length : typeof results} results for ${milestones.length} milestones`);
      }
      return results;
    },
  };
}
