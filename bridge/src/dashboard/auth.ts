/**
 * Dashboard login: the admin token, posted once in a form, becomes a signed session cookie
 * (HttpOnly, SameSite=Strict, path /dashboard). Every POST action also needs a CSRF token bound
 * to that session, and a same-origin Origin header when the browser sends one.
 * Stateless: rotating BRIDGE_ADMIN_TOKEN ends every session.
 */
import { createHmac } from 'node:crypto';
import { sameSecret } from '../secrets.ts';
import type { Context } from 'hono';
import { getCookie, setCookie, deleteCookie } from 'hono/cookie';

export const COOKIE = 'lb_dashboard';
const MAX_AGE_S = 8 * 3600;

export interface Session {
  /** Who the operator said they are (recorded as the actor of their actions). */
  name: string;
  /** Issued at (ms since epoch). */
  iat: number;
  /** What the login token may do (older cookies without it: admin, as only the admin token could log in). */
  role?: 'viewer' | 'operator' | 'admin';
}

const b64 = (s: string) => Buffer.from(s).toString('base64url');
/** Constant time, and the length of neither leaks (sha256 first). */
const equal = sameSecret;

/** An operator name as recorded in the audit log: letters, digits, space, dot, dash, underscore. */
export function cleanName(raw: unknown): string | undefined {
  const s = typeof raw === 'string' ? raw.trim() : '';
  return /^[\w .-]{1,40}$/.test(s) ? s : undefined;
}

export function createSessions(o: { adminToken: string; now?: () => number; secure?: boolean }) {
  const now = o.now ?? Date.now;
  // Derived keys: the cookie never contains, nor directly reveals, the admin token.
  const key = createHmac('sha256', o.adminToken).update('dashboard-session-v1').digest();
  const sign = (s: string) => createHmac('sha256', key).update(s).digest('base64url');

  function read(c: Context): (Session & { raw: string }) | undefined {
    const raw = getCookie(c, COOKIE);
    if (!raw) return undefined;
    const [payload, mac] = raw.split('.');
    if (!payload || !mac || !equal(mac, sign(payload))) return undefined;
    try {
      const s = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Session;
      if (typeof s.iat !== 'number' || now() - s.iat > MAX_AGE_S * 1000 || s.iat > now() + 60_000) return undefined;
      return { ...s, raw };
    } catch {
      return undefined;
    }
  }

  return {
    /** Whether the posted token is the admin token (constant time). */
    checkToken: (token: unknown) => typeof token === 'string' && equal(token, o.adminToken),
    /** Starts a session: sets the cookie. */
    start(c: Context, name: string, role: Session['role'] = 'admin') {
      const payload = b64(JSON.stringify({ name, iat: now(), role } satisfies Session));
      const secure = o.secure ?? (new URL(c.req.url).protocol === 'https:' || c.req.header('x-forwarded-proto') === 'https');
      setCookie(c, COOKIE, `${payload}.${sign(payload)}`, { path: '/dashboard', httpOnly: true, sameSite: 'Strict', secure, maxAge: MAX_AGE_S });
    },
    end(c: Context) {
      deleteCookie(c, COOKIE, { path: '/dashboard' });
    },
    read,
    /** The CSRF token for forms of this session. */
    csrf: (s: { raw: string }) => sign(`csrf.${s.raw}`),
    /** A POST may act: session valid, CSRF token matches, Origin (when sent) is this origin. */
    checkPost(c: Context, s: { raw: string }, form: Record<string, unknown>): boolean {
      const origin = c.req.header('origin');
      if (origin && origin !== 'null') {
        const host = c.req.header('host');
        if (!host || new URL(origin).host !== host) return false;
      } else if (origin === 'null') return false;
      const t = form.csrf;
      return typeof t === 'string' && equal(t, sign(`csrf.${s.raw}`));
    },
  };
}
export type Sessions = ReturnType<typeof createSessions>;
