/**
 * The demo partners: every one is a simulator of this repo, mounted on the bridge's own port under
 * /_sim/<partner id>/. Shaped as the configuration file (bridge/src/config/schema.ts) so the demo
 * runs through the same validation as a real deployment; the secrets are demo values, resolved
 * from DEMO_PARTNER_ENV.
 *
 * Routing: warehouse WH -> wms-sim (REST), warehouse EU -> files-3pl-eu (CSV files);
 * shipments -> easypost-sim, falling back to shippo-sim; milestones -> notify-sim (Standard
 * Webhooks) and aftership-sim (tracking platform).
 */
import type { ConfigFile } from '../config/schema.ts';

/** Demo secrets (never real ones), as the environment the config's `{ env }` references read. */
export const DEMO_PARTNER_ENV: Record<string, string> = {
  DEMO_WMS_TOKEN: 'demo-wms-token',
  DEMO_WMS_WEBHOOK_SECRET: 'whsec_' + Buffer.from('demo wms webhook secret, 32 bytes').toString('base64'),
  DEMO_EASYPOST_API_KEY: 'EZTKdemo0000000000000000',
  DEMO_EASYPOST_WEBHOOK_SECRET: 'demo-easypost-webhook-secret',
  DEMO_SHIPPO_TOKEN: 'shippo_test_demo',
  DEMO_SHIPPO_WEBHOOK_TOKEN: 'demo-shippo-webhook-token',
  DEMO_NOTIFY_SECRET: 'whsec_' + Buffer.from('demo notify secret, thirty-two b').toString('base64'),
  DEMO_AFTERSHIP_API_KEY: 'asat_demo',
  DEMO_AFTERSHIP_WEBHOOK_SECRET: 'demo-aftership-webhook-secret',
};

/** Which simulator plays each demo partner. */
export const DEMO_SIMULATORS = {
  'wms-sim': 'wms',
  'files-3pl-eu': 'file-3pl',
  'easypost-sim': 'easypost',
  'shippo-sim': 'shippo',
  'notify-sim': 'standard-webhooks',
  'aftership-sim': 'aftership',
} as const;
export type DemoPartnerId = keyof typeof DEMO_SIMULATORS;

/** The demo configuration's partners, routes and ownership; `simBaseUrl` is the bridge's own origin, e.g. http://127.0.0.1:8787. */
export function demoPartnersConfig(options: { simBaseUrl: string }): Pick<Required<ConfigFile>, 'partners' | 'routes' | 'ownership'> {
  const sim = (id: DemoPartnerId, path = '') => `${options.simBaseUrl.replace(/\/+$/, '')}/_sim/${id}${path}`;
  const env = (name: keyof typeof DEMO_PARTNER_ENV) => ({ env: name });
  return {
    partners: [
      {
        id: 'wms-sim', adapter: 'rest-wms', role: 'warehouse', base_url: sim('wms-sim'),
        credentials: { api_token: env('DEMO_WMS_TOKEN'), webhook_secret: env('DEMO_WMS_WEBHOOK_SECRET') },
        options: { warehouse: 'WH', shipping_method_map: { bridge_ground: 'Standard' } },
        limits: { rate: 20, timeout_ms: 5_000 },
      },
      {
        id: 'files-3pl-eu', adapter: 'file-3pl', role: 'warehouse',
        options: { warehouse: 'EU', folder: 'files-3pl-eu' },
        poll_interval_ms: 2_000,
      },
      {
        id: 'easypost-sim', adapter: 'easypost', role: 'carrier', base_url: sim('easypost-sim', '/v2'),
        credentials: { api_key: env('DEMO_EASYPOST_API_KEY'), webhook_secret: env('DEMO_EASYPOST_WEBHOOK_SECRET') },
        options: { service_map: { GROUND: { carrier: 'USPS', service: 'GroundAdvantage' } } },
        limits: { rate: 10, timeout_ms: 5_000, breaker: { consecutive_failures: 3, half_open_after_ms: 10_000 } },
        fallback: ['shippo-sim'],
      },
      {
        id: 'shippo-sim', adapter: 'shippo', role: 'carrier', base_url: sim('shippo-sim'),
        credentials: { api_token: env('DEMO_SHIPPO_TOKEN'), webhook_token: env('DEMO_SHIPPO_WEBHOOK_TOKEN') },
        options: { service_map: { GROUND: 'ups_ground' } },
        limits: { rate: 10, timeout_ms: 5_000 },
      },
      {
        id: 'notify-sim', adapter: 'standard-webhooks', role: 'visibility', base_url: sim('notify-sim', '/webhooks/bridge'),
        credentials: { webhook_secret: env('DEMO_NOTIFY_SECRET') },
        limits: { timeout_ms: 5_000 },
      },
      {
        id: 'aftership-sim', adapter: 'aftership', role: 'visibility', base_url: sim('aftership-sim'),
        credentials: { api_key: env('DEMO_AFTERSHIP_API_KEY'), webhook_secret: env('DEMO_AFTERSHIP_WEBHOOK_SECRET') },
        milestones: ['label.created'],
        limits: { timeout_ms: 5_000 },
      },
    ],
    routes: [
      { name: 'WH orders to the REST WMS', events: ['order.released', 'order.cancelled', 'return.requested'], when: { warehouse: ['WH'] }, partners: ['wms-sim'] },
      { name: 'EU orders to the file 3PL', events: ['order.released', 'order.cancelled', 'return.requested'], when: { warehouse: ['EU'] }, partners: ['files-3pl-eu'] },
      { name: 'labels', events: ['shipment.requested', 'shipment.cancelled'], partners: ['easypost-sim'], fallback: ['shippo-sim'] },
      { name: 'return labels', events: ['return.requested'], partners: ['easypost-sim'], fallback: ['shippo-sim'] },
    ],
    ownership: {
      inventory: { WH: 'wms-sim', EU: 'files-3pl-eu' },
      shipments: { trusted: ['aftership-sim'] },
    },
  };
}
