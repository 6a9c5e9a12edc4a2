/**
 * All partner simulators together. `mountSimulators(app, { baseUrl })` mounts one per demo partner
 * under /_sim/<partner id>/ on the given Hono app and serves GET /_sim/effects ->
 * { "<partner id>": { "<effect>": count } }. Each simulator sends its webhooks to
 * `${baseUrl}/v1/webhooks/<partner id>`, signed with the demo secrets.
 *
 * Controls, under each /_sim/<partner id>/ (faults per request: header X-Sim-Fault, see kit.ts):
 *   POST _control {errorRate, latencyMs, latencyRangeMs, down, reset_effects}   per-run faults (every simulator)
 *   GET  _control/effects                                        this simulator's counts
 *   POST _control/webhooks {tracking_code|tracking_number, statuses|tags, duplicate, outOfOrder, badSignature}
 *                                                                easypost-sim, shippo-sim, aftership-sim
 *   POST _control/ship {reference_id|picking_ref, shipped: {sku: qty}, duplicate...}   wms-sim, files-3pl-eu
 *   POST _control/inventory (wms-sim), _control/stock (files-3pl-eu), _control/tick (files-3pl-eu)
 *   POST _control/gone {gone}                                    notify-sim answers 410 Gone
 */
import { Hono } from 'hono';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { DEMO_PARTNER_ENV as E, DEMO_SIMULATORS, type DemoPartnerId } from './demo-partners.ts';
import { createEasyPostSim } from './easypost/app.ts';
import { createShippoSim } from './shippo/app.ts';
import { createWmsSim } from './wms/app.ts';
import { createFile3plSim, type File3plSim } from './file-3pl/app.ts';
import { createStandardWebhooksSim } from './standard-webhooks/app.ts';
import { createAfterShipSim } from './aftership/app.ts';
import type { RunFaults, Simulator } from './kit.ts';

export { DEMO_PARTNER_ENV, DEMO_SIMULATORS, demoPartnersConfig } from './demo-partners.ts';
export type { Simulator } from './kit.ts';

export interface SimulatorsOptions extends RunFaults {
  /** The bridge's own origin, e.g. http://127.0.0.1:8787 (webhooks go to its /v1/webhooks/<id>); a function when the port is known only after listening. */
  baseUrl: string | (() => string);
  /** The bridge's data dir: the file 3PL's folders live in <dataDir>/files-3pl-eu (as the demo config says). */
  dataDir?: string;
  /** Only these partner ids (default: all). */
  only?: string[];
  /** Send follow-up webhooks / confirmation files by themselves, this many ms apart (demo: 1500); 0 = never. */
  autoProgressMs?: number;
  /** How often the file 3PL takes files from outbound/ (default 1000 ms; 0 = only on POST /_control/tick). */
  fileTickMs?: number;
  fetch?: typeof fetch;
}

/** Builds the simulators for the demo partners (not mounted). */
export function createSimulators(o: SimulatorsOptions): Record<string, Simulator> {
  const origin = () => (typeof o.baseUrl === 'function' ? o.baseUrl() : o.baseUrl).replace(/\/+$/, '');
  // Resolved when a webhook is sent, so the bridge may learn its port after building the simulators.
  const hook = (id: string, query = '') => () => `${origin()}/v1/webhooks/${id}${query}`;
  const common = { errorRate: o.errorRate, latencyMs: o.latencyMs, latencyRangeMs: o.latencyRangeMs, autoProgressMs: o.autoProgressMs ?? 0, fetch: o.fetch };
  const make: Record<DemoPartnerId, () => Simulator> = {
    'wms-sim': () => createWmsSim({ ...common, token: E.DEMO_WMS_TOKEN, webhookUrl: hook('wms-sim'), webhookSecret: E.DEMO_WMS_WEBHOOK_SECRET }),
    'files-3pl-eu': () => createFile3plSim({ ...common, root: join(o.dataDir ?? join(tmpdir(), 'odoo-bridge-demo'), 'files-3pl-eu') }),
    'easypost-sim': () => createEasyPostSim({ ...common, apiKey: E.DEMO_EASYPOST_API_KEY, webhookUrl: hook('easypost-sim'), webhookSecret: E.DEMO_EASYPOST_WEBHOOK_SECRET }),
    'shippo-sim': () => createShippoSim({ ...common, token: E.DEMO_SHIPPO_TOKEN, webhookUrl: hook('shippo-sim', `?token=${encodeURIComponent(E.DEMO_SHIPPO_WEBHOOK_TOKEN)}`) }),
    'notify-sim': () => createStandardWebhooksSim({ ...common, secrets: [E.DEMO_NOTIFY_SECRET] }),
    // The carrier already reports the journey; the tracking platform only does so when asked (POST /_control/webhooks).
    'aftership-sim': () => createAfterShipSim({ ...common, autoProgressMs: 0, apiKey: E.DEMO_AFTERSHIP_API_KEY, webhookUrl: hook('aftership-sim'), webhookSecret: E.DEMO_AFTERSHIP_WEBHOOK_SECRET }),
  };
  const out: Record<string, Simulator> = {};
  for (const id of Object.keys(DEMO_SIMULATORS) as DemoPartnerId[]) {
    if (!o.only || o.only.includes(id)) out[id] = make[id]();
  }
  return out;
}

/** A Hono app with every simulator under /_sim/<id>/ and GET /_sim/effects, to mount at "/" (e.g. as a bridge public route). */
export function simulatorsApp(o: SimulatorsOptions): { app: Hono; simulators: Record<string, Simulator>; stop: () => void } {
  const app = new Hono();
  return { app, ...mountSimulators(app, o) };
}

/** Mounts the simulators on `app` under /_sim/<id>/ plus GET /_sim/effects; answers them and a stop function (file ticks). */
export function mountSimulators(app: Hono, o: SimulatorsOptions): { simulators: Record<string, Simulator>; stop: () => void } {
  const simulators = createSimulators(o);
  app.get('/_sim/effects', (c) => c.json(Object.fromEntries(Object.entries(simulators).map(([id, s]) => [id, { ...s.effects.counts }]))));
  for (const [id, s] of Object.entries(simulators)) app.route(`/_sim/${id}`, s.app);
  const timers: NodeJS.Timeout[] = [];
  const tick = o.fileTickMs ?? 1000;
  for (const s of Object.values(simulators)) {
    if (s.kind === 'file-3pl' && tick > 0) {
      const t = setInterval(() => void (s as File3plSim).tick().catch(() => undefined), tick);
      t.unref?.();
      timers.push(t);
    }
  }
  return { simulators, stop: () => timers.forEach(clearInterval) };
}
