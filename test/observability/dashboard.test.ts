/** The dashboard over HTTP: login required, wrong token refused, pages render, POST actions need the cookie and a CSRF token. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { observedBridge, deadEvent, ADMIN } from './helpers.ts';
import { AUDIT } from '../../bridge/src/core/jobs.ts';

type B = Awaited<ReturnType<typeof observedBridge>>;

async function login(b: B, name = 'alice') {
  const r = await fetch(`${b.url}/dashboard/login`, { method: 'POST', body: new URLSearchParams({ name, token: ADMIN }), redirect: 'manual' });
  assert.is(r.status, 303);
  const cookie = r.headers.get('set-cookie')!;
  return { cookie: cookie.split(';')[0], raw: cookie };
}
const get = (b: B, path: string, cookie?: string) => fetch(`${b.url}${path}`, { headers: cookie ? { cookie } : {}, redirect: 'manual' });
const post = (b: B, path: string, form: Record<string, string>, headers: Record<string, string> = {}) =>
  fetch(`${b.url}${path}`, { method: 'POST', body: new URLSearchParams(form), headers, redirect: 'manual' });
const csrfOf = (html: string) => /name="csrf" value="([^"]+)"/.exec(html)?.[1];

test('every page needs a login: GET redirects to the login page, POST is refused', async () => {
  const b = await observedBridge();
  try {
    const e = await deadEvent(b.store);
    for (const path of ['/dashboard', '/dashboard/dead-letters', `/dashboard/events/${e.id}`, `/dashboard/dead-letters/${e.id}/replay`]) {
      const r = await get(b, path);
      assert.is(r.status, 302, path);
      assert.is(r.headers.get('location'), '/dashboard/login');
    }
    const r = await post(b, `/dashboard/dead-letters/${e.id}/replay`, { csrf: 'x' });
    assert.is(r.status, 401);
    assert.is((await b.store.get(e.id))!.state, 'dead');
    const page = await get(b, '/dashboard/login');
    assert.is(page.status, 200);
    assert.match(await page.text(), /name="token" type="password"/);
  } finally { await b.close(); }
});

test('a wrong token is refused without a cookie; the admin token gives an HttpOnly, SameSite=Strict cookie that does not contain the token', async () => {
  const b = await observedBridge();
  try {
    const wrong = await post(b, '/dashboard/login', { name: 'mallory', token: 'not-the-token' });
    assert.is(wrong.status, 401);
    assert.is(wrong.headers.get('set-cookie'), null);
    assert.match(await wrong.text(), /not the admin token/);
    const { raw, cookie } = await login(b);
    assert.match(raw, /HttpOnly/);
    assert.match(raw, /SameSite=Strict/);
    assert.match(raw, /Path=\/dashboard/);
    assert.not.ok(raw.includes(ADMIN));
    assert.is((await get(b, '/dashboard', cookie)).status, 200);
    const forged = cookie.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'));
    assert.is((await get(b, '/dashboard', forged)).status, 302, 'a tampered cookie is no session');
    const otherBridgeCookie = 'lb_dashboard=eyJuYW1lIjoibWFsbG9yeSIsImlhdCI6MX0.aaaa';
    assert.is((await get(b, '/dashboard', otherBridgeCookie)).status, 302);
  } finally { await b.close(); }
});

test('after 10 wrong tokens in a minute, even the right one waits', async () => {
  const b = await observedBridge();
  try {
    for (let i = 0; i < 10; i++) assert.is((await post(b, '/dashboard/login', { name: 'x', token: `guess-${i}` })).status, 401);
    assert.is((await post(b, '/dashboard/login', { name: 'x', token: ADMIN })).status, 429);
  } finally { await b.close(); }
});

test('the overview shows counts, business vs technical exceptions, partner health and the dead letters; values are escaped', async () => {
  const b = await observedBridge();
  try {
    const e = await deadEvent(b.store);
    const t = await deadEvent(b.store, {}, 'technical');
    await b.store.setStatus(t.id, { state: 'dead', last_error: 'wms: <script>alert(1)</script> HTTP 503' });
    b.metrics.partnerCall('wms', 'success', 0.3);
    b.metrics.partnerCall('wms', 'permanent', 0.1);
    b.metrics.circuitState('easypost', 'open');
    const { cookie } = await login(b);
    const r = await get(b, '/dashboard', cookie);
    assert.is(r.status, 200);
    assert.match(r.headers.get('content-security-policy')!, /default-src 'none'/);
    const html = await r.text();
    assert.match(html, /^<!DOCTYPE html>/);
    assert.match(html, /Business exceptions \(a person must fix\)<\/div><div class="v">1</);
    assert.match(html, /Technical failures[^<]*<\/div><div class="v">1</);
    assert.match(html, /<tr data-partner="wms"><td>wms<\/td><td><span class="badge closed">closed<\/span><\/td><td class="num">2<\/td><td class="num">1<\/td><td class="num">0<\/td><td class="num">1</);
    assert.match(html, /<tr data-partner="easypost"><td>easypost<\/td><td><span class="badge open">open/);
    assert.ok(html.includes(`data-id="${e.id}"`));
    assert.not.ok(html.includes('<script>alert(1)'), 'partner text is escaped');
    assert.ok(html.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
    assert.match(html, /Log out/);
    const dl = await (await get(b, '/dashboard/dead-letters?class=business', cookie)).text();
    assert.ok(dl.includes(`data-id="${e.id}"`));
    assert.not.ok(dl.includes(`data-id="${t.id}"`), 'the class filter applies');
  } finally { await b.close(); }
});

test('replay: the confirmation page carries a CSRF token; the POST needs cookie and token, then queues the event and audits who', async () => {
  const b = await observedBridge();
  try {
    const e = await deadEvent(b.store);
    const { cookie } = await login(b, 'alice');
    const confirm = await get(b, `/dashboard/dead-letters/${e.id}/replay`, cookie);
    assert.is(confirm.status, 200);
    const html = await confirm.text();
    assert.match(html, /Replay this dead letter\?/);
    const csrf = csrfOf(html)!;
    assert.ok(csrf);
    assert.is((await b.store.get(e.id))!.state, 'dead', 'the confirmation page changes nothing');

    const path = `/dashboard/dead-letters/${e.id}/replay`;
    assert.is((await post(b, path, { csrf }, {})).status, 401, 'no cookie');
    assert.is((await post(b, path, {}, { cookie })).status, 403, 'no CSRF token');
    assert.is((await post(b, path, { csrf: csrf.replace(/^./, (c) => (c === 'a' ? 'b' : 'a')) }, { cookie })).status, 403, 'wrong CSRF token');
    assert.is((await post(b, path, { csrf }, { cookie, origin: 'https://evil.example' })).status, 403, 'cross-origin');
    const other = await login(b, 'bob');
    assert.is((await post(b, path, { csrf }, { cookie: other.cookie })).status, 403, "another session's token");
    assert.is((await b.store.get(e.id))!.state, 'dead', 'nothing refused changed anything');

    const ok = await post(b, path, { csrf }, { cookie, origin: b.url });
    assert.is(ok.status, 303);
    assert.match(ok.headers.get('location')!, new RegExp(`^/dashboard/events/${e.id}\\?done=`));
    assert.is((await b.store.get(e.id))!.state, 'queued');
    const audit = await b.store.log<any>(AUDIT).query((a) => a.event_id === e.id);
    assert.is(audit.length, 1);
    assert.is(audit[0].actor, 'dashboard:alice');
    assert.is(audit[0].action, 'replay');

    const page = await (await get(b, ok.headers.get('location')!, cookie)).text();
    assert.match(page, /Replayed: now queued\./);
    assert.match(page, /<td>dashboard:alice<\/td><td>replay<\/td>/);
    assert.match(page, /id="event-state" class="badge state-queued"/);

    const again = await post(b, path, { csrf }, { cookie });
    assert.is(again.status, 409, 'replaying what is no longer dead says so');
  } finally { await b.close(); }
});

test('discard with a note; logout ends the session in the browser', async () => {
  const b = await observedBridge();
  try {
    const e = await deadEvent(b.store);
    const { cookie } = await login(b, 'carol');
    const csrf = csrfOf(await (await get(b, `/dashboard/dead-letters/${e.id}/discard`, cookie)).text())!;
    const r = await post(b, `/dashboard/dead-letters/${e.id}/discard`, { csrf, note: 'customer cancelled by phone' }, { cookie });
    assert.is(r.status, 303);
    assert.is((await b.store.get(e.id))!.state, 'discarded');
    const [entry] = await b.store.log<any>(AUDIT).query((a) => a.event_id === e.id);
    assert.equal([entry.actor, entry.action, entry.note], ['dashboard:carol', 'discard', 'customer cancelled by phone']);
    const out = await post(b, '/dashboard/logout', { csrf }, { cookie });
    assert.is(out.status, 303);
    assert.match(out.headers.get('set-cookie')!, /lb_dashboard=;.*Max-Age=0/);
    assert.is((await get(b, '/dashboard/events/nope', cookie)).status, 404, 'unknown event: a page that says so');
  } finally { await b.close(); }
});

test.run();
