/**
 * First start without BRIDGE_TOKEN / BRIDGE_ADMIN_TOKEN: random tokens are generated once into
 * <data dir>/secrets.json (mode 0600) and reused on every start. The tokens are never logged;
 * the log names the file, which only the bridge's own user can read.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';

export interface Tokens { token: string; adminToken: string; generatedFile?: string }

/** Tokens from the environment, else from (or newly into) the data dir's secrets file. */
export function resolveTokens(dataDir: string, fromEnv: { token?: string; adminToken?: string }): Tokens {
  if (fromEnv.token && fromEnv.adminToken) return { token: fromEnv.token, adminToken: fromEnv.adminToken };
  const file = join(dataDir, 'secrets.json');
  let saved: Partial<Record<'BRIDGE_TOKEN' | 'BRIDGE_ADMIN_TOKEN', string>> = {};
  if (existsSync(file)) saved = JSON.parse(readFileSync(file, 'utf8'));
  const next = {
    BRIDGE_TOKEN: saved.BRIDGE_TOKEN ?? randomBytes(24).toString('hex'),
    BRIDGE_ADMIN_TOKEN: saved.BRIDGE_ADMIN_TOKEN ?? randomBytes(24).toString('hex'),
  };
  if (next.BRIDGE_TOKEN !== saved.BRIDGE_TOKEN || next.BRIDGE_ADMIN_TOKEN !== saved.BRIDGE_ADMIN_TOKEN) {
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(file, JSON.stringify(next, null, 2) + '\n', { mode: 0o600 });
  }
  return { token: fromEnv.token ?? next.BRIDGE_TOKEN, adminToken: fromEnv.adminToken ?? next.BRIDGE_ADMIN_TOKEN, generatedFile: file };
}

/** Compares secrets in constant time (hashing first so neither content nor length leaks). */
export function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}
