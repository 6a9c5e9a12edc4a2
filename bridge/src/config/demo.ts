/**
 * The demo configuration `npm start` runs without a configuration file: every partner is one of
 * this repo's simulators (bridge/src/simulators/demo-partners.ts, owned by the adapters work), so
 * a newcomer sees the whole flow on one machine. Same validation as a real file.
 */
import { DEMO_PARTNER_ENV, demoPartnersConfig } from '../simulators/demo-partners.ts';
import type { ConfigFile } from './schema.ts';

/** Environment the demo's secret references resolve against (simulator secrets, not real ones). */
export const DEMO_ENV: Record<string, string> = DEMO_PARTNER_ENV;

/**
 * The demo configuration file (unresolved), pointing every partner at the simulators under
 * `simBaseUrl`. With `ODOO_URL` in `env`, milestones and states are written back to that Odoo
 * (database `ODOO_DB`, default "odoo"; the integration user's key in `ODOO_API_KEY`, its login in
 * `ODOO_LOGIN`, default "logistics_bridge"; no key yet: no write-back, and the start says so), so the lab Odoo plus `npm start` is the whole loop.
 */
export function demoConfig(options: { simBaseUrl: string; env?: Record<string, string | undefined> }): ConfigFile {
  const env = options.env ?? {};
  const partners = demoPartnersConfig(options);
  if (!env.ODOO_URL || !env.ODOO_API_KEY) return { ...partners };
  return {
    ...partners,
    odoo: { url: env.ODOO_URL, db: env.ODOO_DB || 'odoo', transport: 'auto', login: env.ODOO_LOGIN || 'logistics_bridge', api_key: { env: 'ODOO_API_KEY' } },
  };
}

/** What the demo's start line says about write-back. */
export function demoWritebackNote(env: Record<string, string | undefined>): string {
  if (env.ODOO_URL && !env.ODOO_API_KEY) return `NO write-back to Odoo yet: ODOO_URL is set but ODOO_API_KEY is not (create the integration user's key in Odoo: Settings > Logistics Bridge)`;
  return env.ODOO_URL
    ? `write-back to ${env.ODOO_URL} (database ${env.ODOO_DB || 'odoo'})`
    : 'NO write-back to Odoo: set ODOO_URL, ODOO_DB and ODOO_API_KEY (the integration user\'s key) to see milestones and states come back';
}
