/**
 * The operations dashboard at /dashboard: server-rendered pages, no front-end build.
 * Mounted as a public route; it authenticates by its own session cookie (see auth.ts).
 */
import type { ShadowReports } from '../cutover/shadow-reports.ts';
import { ADMIN_TOKEN_ACTOR, hasRole, operatorDirectory, type OperatorDirectory } from '../operators.ts';
import { ShadowListPage, ShadowReportPage } from './shadow-pages.tsx';
import { Hono, type Context } from 'hono';
import type { Logger } from '../log.ts';
import type { Metrics } from '../observability/metrics.ts';
import { EVENT_STATES, type Store } from '../store/types.ts';
import { engineActions, storeActions, type DashboardActions, type EngineDeadLetters } from './actions.ts';
import { cleanName, createSessions, type Session } from './auth.ts';
import { ConfirmPage, DeadLetterTable, EventPage, EventsPage, eventHref, Layout, LoginPage, MessagePage, Overview } from './pages.tsx';

/** What the engine may report for the alerts at the top of the overview (structurally `Engine['status']`). */
export interface DashboardStatus {
  partners?: Record<string, { circuit: string }>;
  writeback?: { auth_paused?: boolean; odoo_down?: boolean; alert?: string; configured?: boolean };
}

export interface DashboardDeps {
  store: Store;
  adminToken: string;
  logger?: Logger;
  /** The delivery engine: its dead-letter functions and audit log are used when given. */
  engine?: EngineDeadLetters & { status?: () => DashboardStatus };
  /** Overrides how dead letters are listed and acted on (default: the engine's, else the store's). */
  actions?: DashboardActions;
  /** The registry behind the business figures and partner health. */
  metrics?: Metrics;
  now?: () => Date;
  /** Named operators and their roles (default: only the admin token logs in). */
  operators?: OperatorDirectory;
  /** Shadow (dual-run) reports for the Cutover page. */
  shadow?: ShadowReports;
  /** Force the cookie's Secure flag (default: when the request came over https). */
  secureCookie?: boolean;
}

type Authed = { Variables: { session: Session & { raw: string }; csrf: string } };

const FAILED_LOGIN_WINDOW_MS = 60_000;
const MAX_FAILED_LOGINS = 10;

/** The dashboard routes; mount with `publicRoutes: [{ path: '/dashboard', app: dashboardRoutes(deps) }]`. */
export function dashboardRoutes(deps: DashboardDeps): Hono {
  const now = deps.now ?? (() => new Date());
  const sessions = createSessions({ adminToken: deps.adminToken, now: () => now().getTime(), secure: deps.secureCookie });
  const directory = deps.operators ?? operatorDirectory({ adminToken: deps.adminToken });
  const canAct = (c: Context<Authed>) => hasRole(c.get('session').role ?? 'admin', 'operator');
  const viewerRefused = (c: Context<Authed>) => html(c, <Layout title="Not allowed" csrf={c.get('csrf')} who={c.get('session').name} role={c.get('session').role}><MessagePage title="Not allowed" message={`${c.get('session').name} is a viewer: replaying and discarding need the operator role (ask an admin).`} /></Layout>, 403);
  const actions = deps.actions ?? (deps.engine ? engineActions(deps.engine) : storeActions(deps.store, now));
  let failures: number[] = [];

  const app = new Hono<Authed>();
  app.use('*', async (c, next) => {
    await next();
    c.header('Cache-Control', 'no-store');
    c.header('X-Frame-Options', 'DENY');
    c.header('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
    c.header('Referrer-Policy', 'same-origin');
  });

  app.get('/login', (c) => html(c, <LoginPage />));
  app.post('/login', async (c) => {
    const t = now().getTime();
    failures = failures.filter((f) => t - f < FAILED_LOGIN_WINDOW_MS);
    if (failures.length >= MAX_FAILED_LOGINS) return html(c, <LoginPage error="Too many wrong tokens: wait a minute and try again." />, 429);
    const form = await c.req.parseBody();
    const typed = cleanName(form.name);
    const op = typeof form.token === 'string' ? directory.identify(form.token) : undefined;
    if (!op) {
      failures.push(t);
      deps.logger?.warn({ remote: c.req.header('x-forwarded-for') }, 'dashboard login refused: wrong admin token');
      return html(c, <LoginPage error="That is not the admin token nor an operator's token." />, 401);
    }
    // A named operator is who their token says; the shared admin token records the name typed.
    const name = op.name === ADMIN_TOKEN_ACTOR ? typed : op.name;
    if (!name) return html(c, <LoginPage error="Give your name (letters, digits, spaces, . _ -; up to 40): it is recorded with your actions." />, 400);
    sessions.start(c, name, op.role);
    deps.logger?.info({ operator: name, role: op.role }, 'dashboard login');
    return c.redirect('/dashboard', 303);
  });

  // Everything below needs a session.
  app.use('*', async (c, next) => {
    const s = sessions.read(c);
    if (!s) {
      if (c.req.method === 'GET') return c.redirect('/dashboard/login', 302);
      return html(c, <Layout title="Log in needed"><MessagePage title="Log in needed" message="Your session is missing or has expired: log in again." /></Layout>, 401);
    }
    c.set('session', s);
    c.set('csrf', sessions.csrf(s));
    if (c.req.method === 'POST') {
      const form = await c.req.parseBody();
      if (!sessions.checkPost(c, s, form)) {
        return html(c, <Layout title="Refused"><MessagePage title="Refused" message="This form is stale or did not come from this dashboard (CSRF check failed). Reload the page and try again." /></Layout>, 403);
      }
    }
    await next();
  });

  const page = (c: Context<Authed>, title: string, body: any, status: 200 | 400 | 404 | 409 | 500 = 200) =>
    html(c, <Layout title={title} csrf={c.get('csrf')} who={c.get('session').name} role={c.get('session').role}>{body}</Layout>, status);

  app.post('/logout', (c) => {
    sessions.end(c);
    return c.redirect('/dashboard/login', 303);
  });

  app.get('/', async (c) => {
    const counts: Record<string, number> = {};
    for (const s of EVENT_STATES) if (s !== 'delivered' && s !== 'discarded') counts[s] = 0;
    const t = now().getTime();
    let oldest: number | undefined;
    for (const e of await deps.store.unfinished()) {
      counts[e.state] = (counts[e.state] ?? 0) + 1;
      if (['received', 'queued', 'delivering', 'retrying', 'blocked'].includes(e.state)) oldest = Math.max(oldest ?? 0, (t - Date.parse(e.received_at)) / 1000);
    }
    const status = safe(() => deps.engine?.status?.());
    const alerts: string[] = [];
    if (status?.writeback?.auth_paused) alerts.push(`Write-back to Odoo is paused: Odoo refused the bridge's API key. Fix the key; milestones wait and are written afterwards. ${status.writeback.alert ?? ''}`);
    else if (status?.writeback?.odoo_down) alerts.push('Odoo does not answer: milestones wait in the write-back queue and are written when it is back.');
    for (const [id, p] of Object.entries(status?.partners ?? {})) if (p.circuit === 'open') alerts.push(`Partner ${id} is failing: its circuit is open, calls wait (carriers fall back where a fallback is configured).`);
    const figures = deps.metrics ? await deps.metrics.figures() : undefined;
    return page(c, 'Overview', <Overview counts={counts} oldestPendingSeconds={oldest} deadLetters={await actions.deadLetters()} figures={figures} alerts={alerts} />);
  });

  app.get('/dead-letters', async (c) => {
    const cls = c.req.query('class');
    const rows = (await actions.deadLetters()).filter((d) => !cls || d.error_class === cls);
    return page(c, 'Dead letters', (
      <>
        <h2>Dead letters{cls ? ` (${cls})` : ''}</h2>
        <p class="muted">
          Show: <a href="/dashboard/dead-letters">all</a> · <a href="/dashboard/dead-letters?class=business">business (a person must fix the data)</a> ·{' '}
          <a href="/dashboard/dead-letters?class=technical">technical (partner unreachable, retries exhausted)</a>
        </p>
        <DeadLetterTable rows={rows} />
      </>
    ));
  });

  for (const action of ['replay', 'discard'] as const) {
    app.get(`/dead-letters/:id/${action}`, async (c) => {
      if (!canAct(c)) return viewerRefused(c);
      const row = await actions.get(c.req.param('id'));
      if (!row) return page(c, 'Not found', <MessagePage title="Not in the dead-letter queue" message={`${c.req.param('id')} is not a dead letter (any more).`} />, 404);
      return page(c, action === 'replay' ? 'Replay?' : 'Discard?', <ConfirmPage action={action} row={row} csrf={c.get('csrf')} />);
    });
    app.post(`/dead-letters/:id/${action}`, async (c) => {
      if (!canAct(c)) return viewerRefused(c);
      const id = c.req.param('id');
      const actor = `dashboard:${c.get('session').name}`;
      const row = await actions.get(id);
      try {
        const form = await c.req.parseBody();
        const note = typeof form.note === 'string' && form.note.trim() ? form.note.trim().slice(0, 200) : undefined;
        const r = action === 'replay' ? await actions.replay(id, actor) : await actions.discard(id, actor, note);
        deps.logger?.info({ correlation_id: row?.event_id ?? id, dead_letter: id, actor, action }, `dead letter ${action === 'replay' ? 'replayed' : 'discarded'} from the dashboard`);
        const target = row?.event_id ?? (id.includes('~') || id.startsWith('writeback:') ? undefined : id);
        const done = action === 'replay' ? `Replayed: now ${r.state}.` : 'Discarded.';
        return c.redirect(target ? `${eventHref(target)}?done=${encodeURIComponent(done)}` : '/dashboard/dead-letters', 303);
      } catch (e) {
        const status = (e as { status?: number }).status;
        const code = status === 404 || status === 409 || status === 400 ? status : 500;
        if (code === 500) deps.logger?.error({ err: e, dead_letter: id }, `dashboard ${action} failed`);
        return page(c, 'Not done', <MessagePage title={`${action === 'replay' ? 'Replay' : 'Discard'} not done`} message={(e as Error).message} />, code);
      }
    });
  }

  app.get('/events', async (c) => {
    const id = c.req.query('id')?.trim();
    if (id) return c.redirect(eventHref(id), 303);
    const q = c.req.query('state');
    const state = (EVENT_STATES as readonly string[]).includes(q ?? '') ? (q as (typeof EVENT_STATES)[number]) : 'dead';
    const pageOf = await deps.store.list({ state, limit: 100 });
    return page(c, 'Events', <EventsPage state={state} items={pageOf.items} states={EVENT_STATES} />);
  });

  app.get('/events/:id', async (c) => {
    const id = c.req.param('id');
    const s = await deps.store.get(id);
    if (!s) return page(c, 'Not found', <MessagePage title="No such event" message={`The bridge has no event ${id} (never received, or pruned after the retention period).`} />, 404);
    const [audit, dead] = await Promise.all([actions.audit(id), actions.get(id)]);
    const done = c.req.query('done');
    return page(c, `Event ${s.event.type}`, <EventPage s={s} steps={deps.engine?.steps?.(id) ?? []} audit={audit} dead={dead} done={done?.slice(0, 120)} />);
  });

  app.get('/shadow', (c) => page(c, 'Cutover', <ShadowListPage reports={deps.shadow?.list() ?? []} />));
  app.get('/shadow/:id', (c) => {
    const report = deps.shadow?.get(c.req.param('id'));
    if (!report) return page(c, 'Not found', <MessagePage title="No such shadow run" message={`No shadow report ${c.req.param('id')} (only the last 20 are kept).`} />, 404);
    return page(c, `Shadow run ${report.partner}`, <ShadowReportPage report={report} />);
  });

  return app as unknown as Hono;
}

/** Renders a page in standards mode (the doctype JSX cannot express). */
function html(c: Context<any>, node: unknown, status: 200 | 400 | 401 | 403 | 404 | 409 | 429 | 500 = 200) {
  return c.html(`<!DOCTYPE html>${String(node)}`, status);
}

function safe<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch {
    return undefined;
  }
}
