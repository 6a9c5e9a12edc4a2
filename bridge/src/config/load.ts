/** Loads, validates and resolves the configuration file; every error names its path in the file. */
import { readFileSync } from 'node:fs';
import * as v from 'valibot';
import type { EventType } from '../../../shared/src/index.ts';
import { ConfigFile, type OdooConfig, type ParsedConfig, type PartnerConfig } from './schema.ts';

/** A partner with its secrets read from the environment. */
export type ResolvedPartner = Omit<PartnerConfig, 'credentials'> & { credentials: Record<string, string> };
export type ResolvedOperator = { name: string; role: 'viewer' | 'operator' | 'admin'; token: string };
export type ResolvedOdoo = Omit<OdooConfig, 'api_key'> & { api_key: string; api_key_env: string };
/** The configuration the engine runs on: validated, cross-checked, secrets resolved. */
export type Config = Omit<ParsedConfig, 'partners' | 'odoo' | 'operators'> & { partners: ResolvedPartner[]; odoo?: ResolvedOdoo; operators: ResolvedOperator[] };

/** Thrown for a bad file; `problems` lists every problem as `path: message`. */
export class ConfigError extends Error {
  constructor(readonly source: string, readonly problems: { path: string; message: string }[]) {
    super(`invalid configuration ${source}:\n${problems.map((p) => `  ${p.path || '(root)'}: ${p.message}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Which partner roles can take which event types (the engine calls the matching adapter method). */
export const ROLE_EVENTS: Record<'warehouse' | 'carrier' | 'visibility', readonly EventType[]> = {
  warehouse: ['order.released', 'order.cancelled', 'return.requested'],
  carrier: ['shipment.requested', 'shipment.cancelled', 'return.requested'],
  visibility: [],
};

function pathOf(issue: v.BaseIssue<unknown>): string {
  let out = '';
  for (const item of issue.path ?? []) {
    const key = (item as { key: unknown }).key;
    out += typeof key === 'number' ? `[${key}]` : out ? `.${String(key)}` : String(key);
  }
  return out;
}

function message(issue: v.BaseIssue<unknown>): string {
  if (issue.message.startsWith('Invalid key')) return 'unknown key (check the spelling)';
  if (issue.message.startsWith('Invalid type') && issue.received === 'undefined') return 'is required';
  return issue.message;
}

/** Validates a parsed JSON document and resolves its secret references from `env`. */
export function parseConfig(input: unknown, env: Record<string, string | undefined>, source = '<config>', options: { adapters?: readonly string[] } = {}): Config {
  const parsed = v.safeParse(ConfigFile, input);
  if (!parsed.success) throw new ConfigError(source, parsed.issues.map((i) => ({ path: pathOf(i), message: message(i) })));
  const cfg = parsed.output;
  const problems: { path: string; message: string }[] = [];
  const byId = new Map<string, { p: PartnerConfig; i: number }>();
  cfg.partners.forEach((p, i) => {
    if (byId.has(p.id)) problems.push({ path: `partners[${i}].id`, message: `duplicate partner id "${p.id}" (also partners[${byId.get(p.id)!.i}])` });
    else byId.set(p.id, { p, i });
  });
  cfg.partners.forEach((p, i) => {
    if (options.adapters && !options.adapters.includes(p.adapter)) {
      problems.push({ path: `partners[${i}].adapter`, message: `unknown adapter "${p.adapter}"; known: ${options.adapters.join(', ')}` });
    }
    p.fallback.forEach((f, j) => checkFallback(f, p.role, `partners[${i}].fallback[${j}]`));
  });
  function checkFallback(id: string, role: string, path: string) {
    const target = byId.get(id);
    if (!target) problems.push({ path, message: `unknown partner "${id}"` });
    else if (target.p.role !== role) problems.push({ path, message: `fallback "${id}" is a ${target.p.role}, not a ${role}` });
  }
  cfg.routes.forEach((r, i) => {
    r.partners.forEach((id, j) => {
      const target = byId.get(id);
      const path = `routes[${i}].partners[${j}]`;
      if (!target) return problems.push({ path, message: `unknown partner "${id}"` });
      const wrong = r.events.filter((t) => !ROLE_EVENTS[target.p.role].includes(t));
      if (wrong.length) problems.push({ path, message: `"${id}" is a ${target.p.role} and cannot take ${wrong.join(', ')}` });
      r.fallback.forEach((f, k) => checkFallback(f, target.p.role, `routes[${i}].fallback[${k}]`));
    });
  });
  for (const [wh, id] of Object.entries(cfg.ownership.inventory)) {
    const target = byId.get(id);
    if (!target) problems.push({ path: `ownership.inventory.${wh}`, message: `unknown partner "${id}"` });
    else if (target.p.role !== 'warehouse') problems.push({ path: `ownership.inventory.${wh}`, message: `"${id}" is a ${target.p.role}; inventory is owned by a warehouse` });
  }
  cfg.ownership.shipments.trusted.forEach((id, i) => {
    if (!byId.has(id)) problems.push({ path: `ownership.shipments.trusted[${i}]`, message: `unknown partner "${id}"` });
  });
  const secret = (ref: { env: string }, path: string): string => {
    const value = env[ref.env];
    if (value === undefined || value === '') problems.push({ path, message: `environment variable ${ref.env} is not set` });
    return value ?? '';
  };
  const partners = cfg.partners.map((p, i) => ({
    ...p,
    credentials: Object.fromEntries(Object.entries(p.credentials).map(([k, ref]) => [k, secret(ref, `partners[${i}].credentials.${k}`)])),
  }));
  let odoo: ResolvedOdoo | undefined;
  if (cfg.odoo) {
    if (cfg.odoo.transport === 'jsonrpc' && !cfg.odoo.login) problems.push({ path: 'odoo.login', message: 'is required for the jsonrpc transport' });
    odoo = { ...cfg.odoo, api_key: secret(cfg.odoo.api_key, 'odoo.api_key'), api_key_env: cfg.odoo.api_key.env };
  }
  const names = new Set<string>();
  const operators = cfg.operators.map((o, i) => {
    if (names.has(o.name)) problems.push({ path: `operators[${i}].name`, message: `"${o.name}" is already an operator` });
    names.add(o.name);
    const token = secret(o.token, `operators[${i}].token`);
    if (token && token.length < 24) problems.push({ path: `operators[${i}].token`, message: `${o.token.env} must be at least 24 characters (e.g. openssl rand -hex 24)` });
    return { name: o.name, role: o.role, token };
  });
  if (problems.length) throw new ConfigError(source, problems);
  return { ...cfg, partners, odoo, operators };
}

/** Reads the JSON file at `path`; throws ConfigError naming the file and the path inside it. */
export function loadConfig(path: string, env: Record<string, string | undefined> = process.env, options: { adapters?: readonly string[] } = {}): Config {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e: any) {
    throw new ConfigError(path, [{ path: '', message: `cannot read the file: ${e?.code ?? e?.message ?? e}` }]);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e: any) {
    throw new ConfigError(path, [{ path: '', message: `not valid JSON: ${e?.message ?? e}` }]);
  }
  return parseConfig(json, env, path, options);
}
