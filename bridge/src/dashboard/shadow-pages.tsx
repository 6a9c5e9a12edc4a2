/** The dashboard's Cutover pages: shadow (dual-run) reports, what matched and what differs, field by field. */
import type { FC } from 'hono/jsx';
import type { StoredShadowReport } from '../cutover/shadow-reports.ts';

const OUTCOMES = ['match', 'differ', 'only_bridge', 'only_legacy', 'refused'] as const;
const cls = (o: string) => (o === 'match' ? 'state-delivered' : o === 'refused' || o === 'differ' ? 'state-dead' : 'state-queued');
const show = (x: unknown) => (x === undefined ? '—' : JSON.stringify(x));

export const ShadowListPage: FC<{ reports: StoredShadowReport[] }> = ({ reports }) => (
  <>
    <h2>Cutover: shadow runs</h2>
    <p class="muted">
      The requests the bridge would send to a partner, compared with what the legacy integration sent, sending nothing.
      Start one with <code>POST /v1/shadow</code> or <code>npm run cli -- shadow</code> (README, "Cutover and contingency").
    </p>
    {reports.length ? (
      <table>
        <thead><tr><th>Run</th><th>Partner</th><th>Window</th>{OUTCOMES.map((o) => <th class="num">{o}</th>)}<th>By</th></tr></thead>
        <tbody>
          {reports.map((r) => (
            <tr>
              <td><a href={`/dashboard/shadow/${encodeURIComponent(r.id)}`}>{r.at.replace('T', ' ').replace(/\.\d+Z$/, 'Z')}</a></td>
              <td>{r.partner}</td>
              <td>{r.window.since} → {r.window.until}{r.window.types ? ` (${r.window.types.join(', ')})` : ''}</td>
              {OUTCOMES.map((o) => <td class={`num${o !== 'match' && r.counts[o] ? ' missed' : ''}`}>{r.counts[o]}</td>)}
              <td>{r.actor}</td>
            </tr>
          ))}
        </tbody>
      </table>
    ) : <p class="muted">No shadow run yet.</p>}
  </>
);

export const ShadowReportPage: FC<{ report: StoredShadowReport }> = ({ report: r }) => (
  <>
    <h2>Shadow run {r.id}: {r.partner}</h2>
    <p>{OUTCOMES.map((o) => <span><span class={`badge ${cls(o)}`}>{o}</span> {r.counts[o]} </span>)}</p>
    {r.truncated && <p class="alert">Only the first 500 references are kept; the counts cover all.</p>}
    <table>
      <thead><tr><th>Reference</th><th>Outcome</th><th>Request</th><th>Field</th><th>Bridge</th><th>Legacy</th></tr></thead>
      <tbody>
        {r.items.filter((i) => i.outcome !== 'match').flatMap((i) => {
          const rows = i.requests.flatMap((q) => {
            const req = `${(q.bridge ?? q.legacy)?.method ?? ''} ${q.bridge?.path ?? '—'}${q.legacy && q.legacy.path !== q.bridge?.path ? ` / legacy ${q.legacy.method} ${q.legacy.path}` : ''}`;
            return q.differences.length ? q.differences.map((d) => ({ req, field: d.path, bridge: show(d.bridge), legacy: show(d.legacy) }))
              : q.bridge?.path !== q.legacy?.path ? [{ req, field: '', bridge: q.bridge ? 'sent' : '—', legacy: q.legacy ? 'sent' : '—' }] : [];
          });
          if (!rows.length) rows.push({ req: '', field: '', bridge: i.error ?? '', legacy: '' });
          return rows.map((x, n) => (
            <tr>
              <td>{n === 0 ? i.ref : ''}</td>
              <td>{n === 0 ? <span class={`badge ${cls(i.outcome)}`}>{i.outcome}</span> : ''}</td>
              <td>{x.req}</td><td><code>{x.field}</code></td><td class="err">{x.bridge}</td><td class="err">{x.legacy}</td>
            </tr>
          ));
        })}
      </tbody>
    </table>
    <p class="muted">{r.counts.match} references matched (not listed).</p>
  </>
);
