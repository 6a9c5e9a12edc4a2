/** The dashboard's server-rendered pages (Hono JSX; every value is escaped by the renderer). */
import type { Child, FC } from 'hono/jsx';
import type { AuditEntry, Job } from '../core/jobs.ts';
import type { Figures } from '../observability/metrics.ts';
import type { StoredEvent } from '../store/types.ts';
import type { DeadLetterRow } from './actions.ts';

const CSS = `
*{box-sizing:border-box}body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2430;background:#f4f6f9}
header{background:#1f3a5f;color:#fff;padding:10px 24px;display:flex;gap:24px;align-items:center}
header h1{font-size:18px;margin:0;font-weight:600}header nav a{color:#dce7f5;margin-right:16px;text-decoration:none}header nav a:hover{text-decoration:underline}
header form{margin-left:auto}main{max-width:1280px;margin:0 auto;padding:16px 24px 48px}
h2{font-size:17px;margin:24px 0 8px}.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(210px,1fr));gap:12px}
.card{background:#fff;border:1px solid #d8dee8;border-radius:6px;padding:10px 14px}.card .k{font-size:13px;color:#5a6577}.card .v{font-size:24px;font-weight:600}
.card.bad{border-color:#d9534f;background:#fff5f5}td.missed{background:#fde2e1;color:#a12622;font-weight:600}.card.warn{border-color:#e0a800;background:#fffbea}
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid #d8dee8}th,td{text-align:left;padding:6px 10px;border-bottom:1px solid #e6eaf0;vertical-align:top}
th{background:#eef2f7;font-weight:600;font-size:13px}td.num,th.num{text-align:right}td.err{max-width:420px;overflow-wrap:anywhere}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600}
.business{background:#fde2e1;color:#a12622}.technical{background:#e4ecfb;color:#234a93}.closed{background:#dff3e4;color:#1c6b33}.open{background:#fde2e1;color:#a12622}.half-open,.isolated{background:#fff1c2;color:#7a5a00}
.state-delivered{background:#dff3e4;color:#1c6b33}.state-dead,.state-manual{background:#fde2e1;color:#a12622}.state-queued,.state-received,.state-delivering,.state-retrying,.state-blocked{background:#fff1c2;color:#7a5a00}.state-discarded{background:#e8e8e8;color:#444}
a.btn,button{display:inline-block;font:inherit;font-size:14px;padding:4px 12px;border-radius:4px;border:1px solid #1f3a5f;background:#1f3a5f;color:#fff;text-decoration:none;cursor:pointer}
a.btn.secondary,button.secondary{background:#fff;color:#1f3a5f}button.danger,a.btn.danger{background:#a12622;border-color:#a12622}
.flash{padding:10px 14px;border-radius:6px;background:#dff3e4;border:1px solid #9fd3ad;margin:12px 0}.alert{padding:10px 14px;border-radius:6px;background:#fde2e1;border:1px solid #e8a09d;margin:12px 0}
.login{max-width:420px;margin:80px auto;background:#fff;border:1px solid #d8dee8;border-radius:8px;padding:24px}.login label{display:block;margin:12px 0 4px}.login input{width:100%;padding:6px 8px;font:inherit}
.role-viewer a.btn[href*="/replay"],.role-viewer a.btn[href*="/discard"]{display:none}pre{background:#fff;border:1px solid #d8dee8;padding:10px;overflow:auto;max-height:420px}.muted{color:#5a6577;font-size:13px}dl{display:grid;grid-template-columns:180px 1fr;gap:4px 12px;background:#fff;border:1px solid #d8dee8;padding:10px 14px}dt{color:#5a6577}dd{margin:0;overflow-wrap:anywhere}
`;

const fmtSeconds = (s?: number) => (s === undefined ? '—' : s < 1 ? `${Math.round(s * 1000)} ms` : s < 120 ? `${s.toFixed(1)} s` : s < 7200 ? `${(s / 60).toFixed(1)} min` : `${(s / 3600).toFixed(1)} h`);
const pct = (x?: number) => (x === undefined ? '—' : `${(x * 100).toFixed(1)} %`);
const when = (iso?: string) => (iso ? iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '—');
export const eventHref = (id: string) => `/dashboard/events/${encodeURIComponent(id)}`;
const dlHref = (id: string, action: 'replay' | 'discard') => `/dashboard/dead-letters/${encodeURIComponent(id)}/${action}`;

export const Layout: FC<{ title: string; csrf?: string; who?: string; role?: string; children?: Child }> = (p) => (
  <html lang="en">
    <head>
      <meta charset="utf-8" />
      <meta name="viewport" content="width=device-width, initial-scale=1" />
      <title>{p.title} · Logistics Bridge</title>
      <style>{CSS}</style>
    </head>
    <body class={p.role === 'viewer' ? 'role-viewer' : undefined}>
      <header>
        <h1>Logistics Bridge · Operations</h1>
        {p.csrf && (
          <nav>
            <a href="/dashboard">Overview</a>
            <a href="/dashboard/dead-letters">Dead letters</a>
            <a href="/dashboard/events">Events</a>
            <a href="/dashboard/shadow">Cutover</a>
          </nav>
        )}
        {p.csrf && (
          <form method="post" action="/dashboard/logout">
            <span class="muted" style="color:#dce7f5;margin-right:8px">{p.who}{p.role && p.role !== 'admin' ? ` (${p.role})` : ''}</span>
            <input type="hidden" name="csrf" value={p.csrf} />
            <button class="secondary" type="submit">Log out</button>
          </form>
        )}
      </header>
      <main>{p.children}</main>
    </body>
  </html>
);

export const LoginPage: FC<{ error?: string }> = ({ error }) => (
  <Layout title="Log in">
    <form class="login" method="post" action="/dashboard/login">
      <h2 style="margin-top:0">Operator log-in</h2>
      <p class="muted">Use the bridge's admin token (BRIDGE_ADMIN_TOKEN). Your name is recorded with every replay or discard you make.</p>
      {error && <div class="alert" role="alert">{error}</div>}
      <label for="name">Your name</label>
      <input id="name" name="name" autocomplete="username" required maxlength={40} />
      <label for="token">Admin token</label>
      <input id="token" name="token" type="password" autocomplete="current-password" required />
      <p><button type="submit">Log in</button></p>
    </form>
  </Layout>
);

const Card: FC<{ k: string; v: Child; tone?: 'bad' | 'warn'; hint?: string }> = (p) => (
  <div class={`card ${p.tone ?? ''}`} title={p.hint}>
    <div class="k">{p.k}</div>
    <div class="v">{p.v}</div>
  </div>
);

export const DeadLetterTable: FC<{ rows: DeadLetterRow[]; limit?: number }> = ({ rows, limit }) => {
  const shown = limit ? rows.slice(0, limit) : rows;
  if (!rows.length) return <p class="muted">No dead letters: nothing needs a person right now.</p>;
  return (
    <>
      <table id="dead-letters">
        <thead>
          <tr><th>Dead since</th><th>Class</th><th>Type</th><th>Aggregate</th><th>Partner</th><th>Reason / last error</th><th class="num">Calls</th><th>Actions</th></tr>
        </thead>
        <tbody>
          {shown.map((d) => (
            <tr data-id={d.id}>
              <td>{when(d.dead_at)}</td>
              <td><span class={`badge ${d.error_class}`}>{d.error_class === 'business' ? 'business: a person must fix' : 'technical'}</span>{d.state === 'manual' && <div class="muted">manual handling</div>}</td>
              <td>{d.event_id ? <a href={eventHref(d.event_id)}>{d.type}</a> : d.type}</td>
              <td>{d.aggregate}{d.blocking?.length ? <div class="muted">blocks {d.blocking.length} later event(s)</div> : ''}</td>
              <td>{d.partners.join(', ') || '—'}</td>
              <td class="err">{d.reason && <strong>{d.reason.replaceAll('_', ' ')}: </strong>}{d.last_error}</td>
              <td class="num">{d.attempts}</td>
              <td style="white-space:nowrap">
                <a class="btn" href={dlHref(d.id, 'replay')}>Replay…</a>{' '}
                <a class="btn danger" href={dlHref(d.id, 'discard')}>Discard…</a>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {limit && rows.length > limit && <p><a href="/dashboard/dead-letters">All {rows.length} dead letters →</a></p>}
    </>
  );
};

export interface OverviewData {
  counts: Record<string, number>;
  oldestPendingSeconds?: number;
  deadLetters: DeadLetterRow[];
  figures?: Figures;
  alerts: string[];
}

export const Overview: FC<OverviewData> = (d) => {
  const business = d.deadLetters.filter((x) => x.error_class === 'business').length;
  const technical = d.deadLetters.length - business;
  const f = d.figures;
  const pending = ['received', 'queued', 'delivering', 'retrying', 'blocked'].reduce((n, s) => n + (d.counts[s] ?? 0), 0);
  const missing = f?.missing_milestones.reduce((n, m) => n + m.count, 0) ?? 0;
  return (
    <>
      {d.alerts.map((a) => <div class="alert" role="alert">{a}</div>)}
      <h2>Needs attention</h2>
      <div class="cards">
        <Card k="Business exceptions (a person must fix)" v={business} tone={business ? 'bad' : undefined} hint="Refused by a partner: invalid address, unknown SKU, allocation conflict…" />
        <Card k="Technical failures (retries exhausted / manual)" v={technical} tone={technical ? 'warn' : undefined} />
        <Card k="Retrying now" v={d.counts.retrying ?? 0} tone={(d.counts.retrying ?? 0) ? 'warn' : undefined} />
        <Card k="Blocked behind a dead letter" v={d.counts.blocked ?? 0} tone={(d.counts.blocked ?? 0) ? 'warn' : undefined} />
        <Card k="Events on their way" v={pending} />
        <Card k="Oldest event on its way" v={fmtSeconds(d.oldestPendingSeconds)} />
        <Card k="Shipments missing a milestone" v={missing} tone={missing ? 'warn' : undefined} hint={f?.missing_milestones.map((m) => `${m.milestone}: ${m.count}`).join(', ')} />
      </div>
      {f && (
        <>
          <h2>Business figures (since the bridge started)</h2>
          <div class="cards">
            <Card k="Order release success" v={pct(f.order_release_success_rate)} hint={`${f.order_releases} releases`} />
            <Card k="Failed carrier labels" v={`${f.label_failures} / ${f.label_requests}`} tone={f.label_failures ? 'warn' : undefined} />
            <Card k="Odoo commit → partner p50 / p95 / p99" v={<span style="font-size:17px">{fmtSeconds(f.commit_to_partner.p50)} / {fmtSeconds(f.commit_to_partner.p95)} / {fmtSeconds(f.commit_to_partner.p99)}</span>} />
            <Card k="Write-back to Odoo: backlog / lag" v={`${f.writeback_backlog} / ${fmtSeconds(f.writeback_lag_seconds)}`} tone={f.writeback_lag_seconds > 300 ? 'warn' : undefined} />
            <Card k="Write-back refused by Odoo (dead letters)" v={f.writeback_dead_letters ?? 0} tone={f.writeback_dead_letters ? 'warn' : undefined} hint="milestones and event states; replay or discard them below" />
            <Card k="Proofs of delivery in Odoo (p95)" v={`${f.pod_propagated} (${fmtSeconds(f.pod_p95_seconds)})`} />
            <Card k="Inventory update latency p95" v={fmtSeconds(f.inventory_p95_seconds)} />
          </div>
        </>
      )}
      <h2>Events by state</h2>
      <table id="states" style="width:auto">
        <thead><tr>{Object.keys(d.counts).map((s) => <th>{s}</th>)}</tr></thead>
        <tbody><tr>{Object.entries(d.counts).map(([s, n]) => <td class="num"><a href={`/dashboard/events?state=${s}`}>{n}</a></td>)}</tr></tbody>
      </table>
      <p class="muted">Delivered and discarded events are not counted here (see the Prometheus counters).</p>
      {f && (
        <>
          <h2>Partner health</h2>
          <table id="partners">
            <thead>
              <tr><th>Partner</th><th>Circuit</th><th class="num">Calls</th><th class="num">OK</th><th class="num">Technical errors</th><th class="num">Business errors</th><th class="num">429s</th><th class="num">Rate headroom</th><th class="num">p95 answer / target</th><th class="num">Success / target</th><th class="num">Within answer target</th><th class="num">Waiting</th></tr>
            </thead>
            <tbody>
              {f.partners.map((p) => (
                <tr data-partner={p.partner} class={p.sla_missed.answer || p.sla_missed.success ? 'sla-missed' : undefined}>
                  <td>{p.partner}</td>
                  <td><span class={`badge ${p.circuit}`}>{p.circuit}</span></td>
                  <td class="num">{p.calls}</td>
                  <td class="num">{p.success}</td>
                  <td class="num">{p.technical_errors}</td>
                  <td class="num">{p.business_errors}</td>
                  <td class="num">{p.rate_limited}</td>
                  <td class={`num headroom${p.headroom !== undefined && p.headroom < 0.1 ? ' missed' : ''}`} title="Share of the partner's rate limit still unused: our token bucket, or the partner's rate-limit headers when lower">{pct(p.headroom)}</td>
                  <td class={`num sla-answer${p.sla_missed.answer ? ' missed' : ''}`}>{fmtSeconds(p.p95_seconds)}{p.sla_target_seconds !== undefined && <span class="muted"> / ≤ {fmtSeconds(p.sla_target_seconds)}</span>}</td>
                  <td class={`num sla-success${p.sla_missed.success ? ' missed' : ''}`}>{pct(p.success_ratio)}{p.success_target !== undefined && <span class="muted"> / ≥ {pct(p.success_target)}</span>}</td>
                  <td class="num">{p.sla_target_seconds === undefined ? '—' : pct(p.within_sla)}</td>
                  <td class="num">{p.pending}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
      <h2>Dead letters</h2>
      <DeadLetterTable rows={d.deadLetters} limit={20} />
    </>
  );
};

export const ConfirmPage: FC<{ action: 'replay' | 'discard'; row: DeadLetterRow; csrf: string }> = ({ action, row, csrf }) => (
  <>
    <h2>{action === 'replay' ? 'Replay this dead letter?' : 'Discard this dead letter?'}</h2>
    <dl>
      <dt>Dead letter</dt><dd>{row.id}</dd>
      <dt>Type</dt><dd>{row.type}</dd>
      <dt>Aggregate</dt><dd>{row.aggregate}</dd>
      <dt>Class</dt><dd><span class={`badge ${row.error_class}`}>{row.error_class}</span> {row.reason}</dd>
      <dt>Last error</dt><dd>{row.last_error}</dd>
    </dl>
    <p>
      {action === 'replay'
        ? 'It is sent to its partner again with the same idempotency key, so a partner that already acted on it does not act twice. Fix the cause first if it was a business refusal.'
        : 'It will not be delivered. Later events of the same order or shipment that it blocks go ahead. This is recorded with your name.'}
    </p>
    <form method="post" action={dlHref(row.id, action)}>
      <input type="hidden" name="csrf" value={csrf} />
      {action === 'discard' && (
        <p><label>Note for the audit trail <input name="note" maxlength={200} style="width:360px" /></label></p>
      )}
      <button type="submit" class={action === 'discard' ? 'danger' : ''}>{action === 'replay' ? 'Yes, replay it' : 'Yes, discard it'}</button>{' '}
      <a class="btn secondary" href={row.event_id ? eventHref(row.event_id) : '/dashboard/dead-letters'}>Cancel</a>
    </form>
  </>
);

export const EventsPage: FC<{ state?: string; items: StoredEvent[]; states: readonly string[] }> = (p) => (
  <>
    <h2>Events{p.state ? ` in state ${p.state}` : ''}</h2>
    <form method="get" action="/dashboard/events">
      <label>State <select name="state">{p.states.map((s) => <option value={s} selected={s === p.state}>{s}</option>)}</select></label>{' '}
      <label>or event id <input name="id" size={40} /></label> <button type="submit">Show</button>
    </form>
    <p />
    {p.items.length ? (
      <table>
        <thead><tr><th>Received</th><th>Type</th><th>Aggregate</th><th class="num">Seq</th><th>State</th><th class="num">Calls</th><th>Last error</th></tr></thead>
        <tbody>
          {p.items.map((s) => (
            <tr>
              <td>{when(s.received_at)}</td>
              <td><a href={eventHref(s.event.id)}>{s.event.type}</a></td>
              <td>{s.event.aggregate}</td>
              <td class="num">{s.event.sequence}</td>
              <td><span class={`badge state-${s.state}`}>{s.state}</span></td>
              <td class="num">{s.attempts}</td>
              <td class="err">{s.last_error}</td>
            </tr>
          ))}
        </tbody>
      </table>
    ) : <p class="muted">No events here.</p>}
  </>
);

export const EventPage: FC<{ s: StoredEvent; steps: Job[]; audit: AuditEntry[]; dead?: DeadLetterRow; done?: string }> = ({ s, steps, audit, dead, done }) => (
  <>
    {done && <div class="flash" role="status">{done}</div>}
    <h2>Event {s.event.type} · <span id="event-state" class={`badge state-${s.state}`}>{s.state}</span></h2>
    <dl>
      <dt>Event id (correlation id)</dt><dd>{s.event.id}</dd>
      <dt>Aggregate / sequence</dt><dd>{s.event.aggregate} #{s.event.sequence}</dd>
      <dt>Committed in Odoo</dt><dd>{when(s.event.occurred_at)}</dd>
      <dt>Received by the bridge</dt><dd>{when(s.received_at)}</dd>
      <dt>Last change</dt><dd>{when(s.updated_at)}</dd>
      <dt>Partner calls</dt><dd>{s.attempts}</dd>
      {s.error_class && <><dt>Error class</dt><dd><span class={`badge ${s.error_class}`}>{s.error_class}</span></dd></>}
      {s.last_error && <><dt>Last error</dt><dd>{s.last_error}</dd></>}
      {s.blocked_by && <><dt>Blocked by</dt><dd><a href={eventHref(s.blocked_by)}>{s.blocked_by}</a></dd></>}
    </dl>
    {dead && (
      <p>
        <a class="btn" href={dlHref(dead.id, 'replay')}>Replay…</a>{' '}
        <a class="btn danger" href={dlHref(dead.id, 'discard')}>Discard…</a>
      </p>
    )}
    <h2>Partner steps</h2>
    {steps.length ? (
      <table>
        <thead><tr><th>Step</th><th>Partner</th><th>State</th><th class="num">Calls</th><th class="num">Counted failures</th><th>Next run</th><th>Idempotency key</th><th>Last error</th></tr></thead>
        <tbody>
          {steps.map((j) => (
            <tr>
              <td>{j.action}</td>
              <td>{j.candidates[j.candidate]}{j.candidates.length > 1 && <div class="muted">fallbacks: {j.candidates.join(' → ')}</div>}</td>
              <td>{j.state}</td>
              <td class="num">{j.calls}</td>
              <td class="num">{j.attempts}</td>
              <td>{j.state === 'pending' ? when(j.run_at) : '—'}</td>
              <td>{j.key}</td>
              <td class="err">{j.last_error}</td>
            </tr>
          ))}
        </tbody>
      </table>
    ) : <p class="muted">No open partner steps (finished steps are forgotten once the event is).</p>}
    <h2>History</h2>
    <HistoryTable s={s} audit={audit} />
    <details>
      <summary>Event as Odoo sent it</summary>
      <pre>{JSON.stringify(s.event, null, 2)}</pre>
    </details>
  </>
);

/** The event's audit trail: submission, requests sent, partner attempts, status changes, operator actions. */
const HistoryTable: FC<{ s: StoredEvent; audit: AuditEntry[] }> = ({ s, audit }) => (
  <table id="history">
    <thead><tr><th>When</th><th>Who</th><th>What</th><th>Details</th></tr></thead>
    <tbody>
      {!audit.some((a) => a.action === 'submitted') && <tr><td>{when(s.received_at)}</td><td>odoo</td><td>received</td><td>acknowledged and stored</td></tr>}
      {audit.map((a) => (
        <tr class={`audit-${a.action}`}>
          <td>{when(a.at)}</td>
          <td>{a.actor}</td>
          <td>{a.action === 'state' ? <span class={`badge state-${a.to}`}>{a.to}</span> : a.action === 'attempt' ? <span class={`badge ${a.outcome === 'success' ? 'closed' : a.error_class ?? 'technical'}`}>{a.outcome}</span> : a.action}</td>
          <td class="err"><AuditDetails a={a} /></td>
        </tr>
      ))}
      <tr><td>{when(s.updated_at)}</td><td>bridge</td><td>now {s.state}</td><td>{s.last_error}</td></tr>
    </tbody>
  </table>
);

const AuditDetails: FC<{ a: AuditEntry }> = ({ a }) => {
  switch (a.action) {
    case 'submitted':
      return <>{a.type} {a.aggregate} #{a.sequence}</>;
    case 'state':
      return <>{a.from ? `${a.from} → ${a.to}` : `→ ${a.to}`}{a.blocked_by && <div>blocked by <a href={eventHref(a.blocked_by)}>{a.blocked_by}</a></div>}{a.last_error && <div class="muted">{a.last_error}</div>}</>;
    case 'transformed':
      return (
        <details>
          <summary>request to {a.partner}: {a.request?.method} {a.request?.path}{a.request?.truncated ? ' (cut at 4 KiB)' : ''}</summary>
          <pre>{typeof a.request?.body === 'string' ? a.request.body : JSON.stringify(a.request?.body, null, 2)}</pre>
        </details>
      );
    case 'attempt':
      return (
        <>
          <div>{a.partner}{a.step && a.step !== a.partner ? ` (step ${a.step})` : ''}, call {a.call}{a.status ? `, HTTP ${a.status}` : ''}{a.duration_ms !== undefined ? `, ${a.duration_ms} ms` : ''}</div>
          <div class="muted">key {a.key}{a.requests?.length ? ` · ${a.requests.map((r) => `${r.method} ${r.path} ${r.status ?? '—'}`).join(' · ')}` : ''}</div>
          {a.error && <div>{a.error}</div>}
        </>
      );
    default:
      return (
        <>
          {a.target !== a.event_id && <div class="muted">{a.target}</div>}
          {a.new_key !== undefined && <div>new idempotency key: {a.new_key ? 'yes' : 'no'}</div>}
          {a.keys && <div class="muted">keys {a.keys.before.join(', ')} → {a.keys.after.join(', ') || '—'}</div>}
          {a.after !== undefined && <div>payload edited</div>}
          {a.note && <div>note: {a.note}</div>}
        </>
      );
  }
};

export const MessagePage: FC<{ title: string; message: string }> = (p) => (
  <>
    <h2>{p.title}</h2>
    <div class="alert" role="alert">{p.message}</div>
    <p><a href="/dashboard">Back to the overview</a></p>
  </>
);
