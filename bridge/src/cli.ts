/**
 * Operator CLI over the admin HTTP API: `npm run cli -- <command>`.
 * Talks to BRIDGE_URL (default http://127.0.0.1:8787) with BRIDGE_ADMIN_TOKEN.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { checkEvent, type Event } from '../../shared/src/index.ts';
import { adapterRegistry } from './adapters/registry.ts';
import { loadConfig } from './config/load.ts';
import { parseLegacyFeed, shadowRun, type ShadowReport } from './cutover/shadow.ts';

const USAGE = `usage: npm run cli -- <command>

  dead-letters list    [--state dead|manual] [--kind event|publish|writeback] [--partner ID] [--type TYPE]
                       [--aggregate KEY] [--class technical|business] [--reason REASON] [--limit N] [--json]
  dead-letters show    <id>
  dead-letters replay  <id> [--new-key] [--payload FILE.json]   replay one (optionally with an edited payload)
  dead-letters replay  --all [filters as for list] [--new-key]  replay every match (at most --limit, default 500)
  dead-letters discard <id> [--note TEXT]
  audit                [--event ID] [--action replay,discard,attempt,state,...] [--limit N] [--json]
  engine               breakers, queue depths, write-back health
  replay-from          --partner ID --since TIME [--until TIME] [--type T1,T2] [--run RUN_ID] [--dry-run]
                       send delivered events again to ONE partner (onboarding, a partner that lost data); the
                       same --run never sends an event twice; --dry-run lists them only
  shadow               --config FILE --partner ID --events EVENTS.jsonl --legacy LEGACY.jsonl [--ignore a.b,c.*] [--json]
                       cutover check, local, sends nothing: the requests the bridge would send to the partner
                       for these events (one event, or a stored {"event": ...}, per line) compared with what the
                       legacy integration sent ({"ref","method","path","body"} per line); exit 1 on any difference

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
        since: { type: 'string' }, until: { type: 'string' }, run: { type: 'string' }, 'dry-run': { type: 'boolean' },
        config: { type: 'string' }, events: { type: 'string' }, legacy: { type: 'string' }, ignore: { type: 'string' },
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
  if (group === 'shadow') return shadowCommand(o, io);
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
    if (group === 'replay-from') {
      if (!o.partner || !o.since) throw new Error('replay-from needs --partner and --since');
      const r = await api('POST', '/replays', {
        partner: o.partner, since: o.since, ...(o.until && { until: o.until }), ...(o.type && { types: String(o.type).split(',') }),
        ...(o.run && { run_id: o.run }), ...(o['dry-run'] && { dry_run: true }),
      });
      if (o.json) return print(r), 0;
      io.out(`${r.dry_run ? 'would send' : 'queued'} ${r.steps.length} steps to ${o.partner} (run ${r.run_id}${r.already_sent ? `; ${r.already_sent} already sent by this run` : ''})`);
      for (const st of r.steps) io.out(`  ${st.event_id}  ${st.type}  ${st.aggregate}  ${st.action}`);
      return 0;
    }
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

/** `shadow`: runs locally (no bridge needed), prints a summary or the whole report; exit 1 when anything differs. */
async function shadowCommand(o: Record<string, string | boolean | undefined>, io: CliIO): Promise<number> {
  const read = io.readFile ?? ((p: string) => readFileSync(p, 'utf8'));
  for (const flag of ['config', 'partner', 'events', 'legacy']) {
    if (typeof o[flag] !== 'string') {
      io.err(`shadow needs --${flag}\n\n${USAGE}`);
      return 2;
    }
  }
  try {
    const config = loadConfig(o.config as string, io.env, { adapters: Object.keys(adapterRegistry) });
    const events: Event[] = [];
    read(o.events as string).split('\n').forEach((line, i) => {
      if (!line.trim()) return;
      let raw: any;
      try { raw = JSON.parse(line); } catch { throw new Error(`${o.events} line ${i + 1}: not JSON`); }
      const checked = checkEvent(raw?.event ?? raw);
      if (!checked.ok) throw new Error(`${o.events} line ${i + 1}: ${checked.problem.path}: ${checked.problem.message}`);
      events.push(checked.value);
    });
    const ignore = typeof o.ignore === 'string' ? o.ignore.split(',').map((x) => x.trim()).filter(Boolean) : [];
    const report: ShadowReport = await shadowRun({ config, registry: adapterRegistry, partnerId: o.partner as string, events, legacy: parseLegacyFeed(read(o.legacy as string)), ignore });
    if (o.json) io.out(JSON.stringify(report, null, 2));
    else {
      const c = report.counts;
      io.out(`shadow ${report.partner}: ${c.match} match, ${c.differ} differ, ${c.only_bridge} only the bridge, ${c.only_legacy} only the legacy, ${c.refused} refused`);
      for (const it of report.items.filter((x) => x.outcome !== 'match')) {
        io.out(`  ${it.ref}  ${it.outcome}${it.error ? `: ${it.error}` : ''}`);
        for (const q of it.requests) {
          if (!q.bridge || !q.legacy || q.bridge.path !== q.legacy.path) io.out(`    bridge ${q.bridge ? `${q.bridge.method} ${q.bridge.path}` : '-'}  legacy ${q.legacy ? `${q.legacy.method} ${q.legacy.path}` : '-'}`);
          for (const d of q.differences) io.out(`    ${q.bridge!.method} ${q.bridge!.path} ${d.path}: bridge ${JSON.stringify(d.bridge)} legacy ${JSON.stringify(d.legacy)}`);
        }
      }
    }
    return report.counts.match === report.items.length ? 0 : 1;
  } catch (e) {
    io.err((e as Error).message);
    return 2;
  }
}
