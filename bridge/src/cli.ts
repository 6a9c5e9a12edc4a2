/**
 * Operator CLI over the admin HTTP API: `npm run cli -- <command>`.
 * Talks to BRIDGE_URL (default http://127.0.0.1:8787) with BRIDGE_ADMIN_TOKEN.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

const USAGE = `usage: npm run cli -- <command>

  dead-letters list    [--state dead|manual] [--kind event|publish|writeback] [--partner ID] [--type TYPE]
                       [--aggregate KEY] [--class technical|business] [--reason REASON] [--limit N] [--json]
  dead-letters show    <id>
  dead-letters replay  <id> [--new-key] [--payload FILE.json]   replay one (optionally with an edited payload)
  dead-letters replay  --all [filters as for list] [--new-key]  replay every match (at most --limit, default 500)
  dead-letters discard <id> [--note TEXT]
  audit                [--event ID] [--action replay,discard,attempt,state,...] [--limit N] [--json]
  engine               breakers, queue depths, write-back health

  --operator NAME   who you are, for the audit log (default: $USER)
environment: BRIDGE_URL (default http://127.0.0.1:8787), BRIDGE_ADMIN_TOKEN (required)`;

export interface CliIO {
  env: Record<string, string | undefined>;
  fetch: typeof fetch;
  out: (line: string) => void;
  err: (line: string) => void;
  readFile?: (path: string) => string;
}

/** Runs one CLI command; resolves with the process exit code. */
export async function runCli(argv: string[], io: CliIO): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        state: { type: 'string' }, kind: { type: 'string' }, partner: { type: 'string' }, type: { type: 'string' }, aggregate: { type: 'string' },
        class: { type: 'string' }, reason: { type: 'string' }, limit: { type: 'string' }, json: { type: 'boolean' }, 'new-key': { type: 'boolean' },
        payload: { type: 'string' }, all: { type: 'boolean' }, note: { type: 'string' }, event: { type: 'string' }, operator: { type: 'string' }, action: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    io.err(`${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values: o, positionals: [group, action, id] } = parsed;
  if (o.help || !group) {
    io.out(USAGE);
    return o.help ? 0 : 2;
  }
  const base = (io.env.BRIDGE_URL ?? 'http://127.0.0.1:8787').replace(/\/+$/, '');
  const token = io.env.BRIDGE_ADMIN_TOKEN;
  if (!token) {
    io.err('BRIDGE_ADMIN_TOKEN is not set (the bridge prints where it keeps it on first start)');
    return 2;
  }
  const operator = o.operator ?? io.env.USER ?? 'cli';
  const api = async (method: string, path: string, body?: unknown): Promise<any> => {
    let res: Response;
    try {
      res = await io.fetch(`${base}/v1${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, 'x-operator': operator, ...(body !== undefined && { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      throw new Error(`cannot reach the bridge at ${base}: ${(e as Error).message}`);
    }
    const text = await res.text();
    let json: any;
    try {
      json = text ? JSON.parse(text) : {};
    } catch {
      json = { error: { message: text } };
    }
    if (!res.ok) {
      const e = json?.error ?? {};
      throw new Error(`HTTP ${res.status} ${e.code ?? ''}: ${e.message ?? text}${e.path ? ` (at ${e.path})` : ''}`);
    }
    return json;
  };
  const filter = () => Object.fromEntries(Object.entries({
    state: o.state, kind: o.kind, partner: o.partner, type: o.type, aggregate: o.aggregate, error_class: o.class, reason: o.reason,
  }).filter(([, value]) => value !== undefined));
  const print = (x: unknown) => io.out(JSON.stringify(x, null, 2));

  try {
    if (group === 'dead-letters' && action === 'list') {
      const q = new URLSearchParams({ ...filter(), ...(o.limit && { limit: o.limit }) } as Record<string, string>);
      const r = await api('GET', `/dead-letters?${q}`);
      if (o.json) return print(r), 0;
      if (!r.items.length) return io.out('no dead letters'), 0;
      for (const d of r.items) {
        io.out(`${d.id}  ${d.state}/${d.error_class}${d.reason ? `:${d.reason}` : ''}  ${d.type}  ${d.aggregate}  ${d.partners.join(',')}  ${d.dead_at}${d.blocking.length ? `  blocks ${d.blocking.length}` : ''}\n    ${d.last_error}`);
      }
      if (r.next_cursor) io.out(`(more: the API's next_cursor is ${r.next_cursor})`);
      return 0;
    }
    if (group === 'dead-letters' && action === 'show' && id) return print(await api('GET', `/dead-letters/${encodeURIComponent(id)}`)), 0;
    if (group === 'dead-letters' && action === 'replay') {
      if (o.all) {
        const r = await api('POST', '/dead-letters/replay', { filter: filter(), new_key: o['new-key'] ?? false, ...(o.limit && { limit: Number(o.limit) }) });
        io.out(`replayed ${r.replayed.length}${r.failed.length ? `, failed ${r.failed.length}` : ''}`);
        for (const f of r.failed) io.err(`  ${f.id}: ${f.error}`);
        return r.failed.length ? 1 : 0;
      }
      if (!id) throw new Error('replay needs an id, or --all with filters');
      let payload: unknown;
      if (o.payload) {
        const text = (io.readFile ?? ((p) => readFileSync(p, 'utf8')))(o.payload);
        try {
          payload = JSON.parse(text);
        } catch {
          throw new Error(`${o.payload} is not JSON`);
        }
      }
      const r = await api('POST', `/dead-letters/${encodeURIComponent(id)}/replay`, { ...(o['new-key'] && { new_key: true }), ...(payload !== undefined && { payload }) });
      io.out(`replayed ${id}: ${r.state ?? 'queued'}`);
      return 0;
    }
    if (group === 'dead-letters' && action === 'discard' && id) {
      const r = await api('POST', `/dead-letters/${encodeURIComponent(id)}/discard`, o.note ? { note: o.note } : {});
      io.out(`discarded ${id}: ${r.state}`);
      return 0;
    }
    if (group === 'audit') {
      const q = new URLSearchParams({ ...(o.event && { event_id: o.event }), ...(o.action && { action: o.action }), ...(o.limit && { limit: o.limit }) });
      const r = await api('GET', `/audit?${q}`);
      if (o.json) return print(r), 0;
      for (const a of r.items) io.out(auditLine(a));
      return 0;
    }
    if (group === 'engine') return print(await api('GET', '/engine')), 0;
    io.err(`unknown command: ${[group, action].filter(Boolean).join(' ')}\n\n${USAGE}`);
    return 2;
  } catch (e) {
    io.err((e as Error).message);
    return 1;
  }
}

/** One audit entry on one line. */
function auditLine(a: any): string {
  const what = a.action === 'state' ? `${a.from ?? '?'} -> ${a.to}${a.blocked_by ? ` (blocked by ${a.blocked_by})` : ''}`
    : a.action === 'attempt' ? `${a.partner} ${a.step} call ${a.call}: ${a.outcome}${a.status ? ` HTTP ${a.status}` : ''} ${a.duration_ms} ms key ${a.key}${a.error ? ` "${a.error}"` : ''}`
    : a.action === 'transformed' ? `${a.partner} ${a.request?.method} ${a.request?.path}${a.request?.truncated ? ' (body cut)' : ''}`
    : a.action === 'submitted' ? `${a.type} ${a.aggregate} #${a.sequence}`
    : `${a.new_key ? 'new key' : ''}${a.after !== undefined ? ' payload edited' : ''}${a.note ? ` "${a.note}"` : ''}`.trim();
  return `${a.at}  ${a.actor}  ${a.action}  ${a.target}${what ? `  ${what}` : ''}`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  runCli(process.argv.slice(2), { env: process.env, fetch: globalThis.fetch, out: (l) => console.log(l), err: (l) => console.error(l) })
    .then((code) => { process.exitCode = code; });
}
