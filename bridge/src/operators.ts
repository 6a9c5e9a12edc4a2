/**
 * Operators and their roles, for the operator API (/v1/*) and the dashboard.
 *
 * - BRIDGE_ADMIN_TOKEN is the admin (its actor is "admin-token", or the X-Operator it names);
 * - named operators come from the configuration (`operators: [{name, role, token: {env}}]`); their
 *   actions are audited under their name (X-Operator is ignored: the token is the identity);
 * - viewer: reads; operator: also replay, discard, point-in-time replays and shadow runs; admin:
 *   everything, including lifting the write-back key pause.
 * Tokens are compared in constant time (sameSecret), every one of them on every request.
 */
import { sameSecret } from './secrets.ts';

export type Role = 'viewer' | 'operator' | 'admin';
export interface Operator { name: string; role: Role }
export const ADMIN_TOKEN_ACTOR = 'admin-token';

const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };
export const hasRole = (role: Role, needed: Role) => RANK[role] >= RANK[needed];

export function operatorDirectory(o: { adminToken: string; operators?: { name: string; role: Role; token: string }[] }) {
  const named = o.operators ?? [];
  return {
    /** The operator a bearer token belongs to, or undefined. */
    identify(token: string): Operator | undefined {
      let found: Operator | undefined;
      if (sameSecret(token, o.adminToken)) found = { name: ADMIN_TOKEN_ACTOR, role: 'admin' };
      for (const n of named) if (sameSecret(token, n.token) && !found) found = { name: n.name, role: n.role };
      return found;
    },
  };
}
export type OperatorDirectory = ReturnType<typeof operatorDirectory>;

/** The role an operator API request needs: reads are for viewers; acting on deliveries for operators; the rest for admins. */
export function roleFor(method: string, path: string): Role {
  if (method === 'GET' || method === 'HEAD') return 'viewer';
  if (/^\/v1\/(dead-letters|replays|shadow)(\/|$)/.test(path)) return 'operator';
  return 'admin';
}

/** Who acted, for the audit: a named operator by name; the admin token (or a route mounted without the app's auth) by the X-Operator sent, if any. */
export function actorOf(op: Operator | undefined, declared: string | undefined): string {
  if (op && op.name !== ADMIN_TOKEN_ACTOR) return op.name;
  const d = declared?.trim();
  return d ? d.slice(0, 64) : ADMIN_TOKEN_ACTOR;
}
