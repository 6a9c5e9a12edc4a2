/**
 * Assembles the delivery side around a store: configuration (a file, or the demo with simulators),
 * the engine, the signed webhook gateway, operator routes, metrics and the dashboard.
 * server.ts hands `extendWith(...)` to startBridge; tests can do the same.
 */
import { operatorDirectory } from './operators.ts';
import { shadowReports } from './cutover/shadow-reports.ts';
import { shadowRoutes } from './routes/shadow.ts';
import { Hono } from 'hono';
import { join } from 'node:path';
import { adapterRegistry } from './adapters/registry.ts';
import { loadConfig, parseConfig, type Config } from './config/load.ts';
import { demoConfig, demoWritebackNote, DEMO_ENV } from './config/demo.ts';
import { createEngine, type Engine } from './core/engine.ts';
import { dashboardRoutes } from './dashboard/index.tsx';
import { createMetrics, slaOf } from './observability/metrics.ts';
import { deadLetterRoutes } from './routes/dead-letters.ts';
import { metricsRoutes, overviewRoutes } from './routes/metrics.ts';
import { webhookRoutes } from './routes/webhooks.ts';
import { mountSimulators } from './simulators/index.ts';
import { SHIPMENT_REFS_COLLECTION, shipmentRefs, withShipmentRefs } from './webhooks/refs.ts';
import { gatewayCollections } from './webhooks/gateway.ts';
import { withKeyedCollections } from './store/keyed-collection.ts';
import { EVENT_STATES_OUTBOX, OUTBOX } from './odoo/outbox.ts';
import { stateLogs } from './store/state-logs.ts';
import type { Extension } from './bridge.ts';
import type { Logger } from './log.ts';
import type { Store } from './store/types.ts';

export interface RuntimeOptions {
  store: Store;
  logger: Logger;
  adminToken: string;
  dataDir: string;
  /** Configuration file; undefined runs the demo: every partner is a simulator on the bridge's own port. */
  configPath?: string;
  env?: Record<string, string | undefined>;
  /** Bearer token a Prometheus scraper must send to /metrics; unset = open. */
  metricsToken?: string;
  /** false: the engine is built (operator routes work) but not started, so nothing is delivered. */
  deliver?: boolean;
}

/** What the runtime exposes once built (for tests and the process). */
export interface Runtime { engine: Engine; config: Config; demo: boolean }

/** Returns an `extend` hook for startBridge and a handle filled in once it ran. */
export function extendWith(o: RuntimeOptions): { extend: (origin: string) => Promise<Extension>; runtime: () => Runtime } {
  let built: Runtime | undefined;
  const extend = async (origin: string): Promise<Extension> => {
    const env = o.env ?? process.env;
    const demo = !o.configPath;
    const adapters = { adapters: Object.keys(adapterRegistry) };
    const config = demo
      ? parseConfig(demoConfig({ simBaseUrl: origin, env }), { ...DEMO_ENV, ...env }, 'demo configuration', adapters)
      : loadConfig(o.configPath!, env, adapters);
    if (demo) o.logger.warn({ simulators: config.partners.map((p) => p.id) }, `DEMO MODE: no BRIDGE_CONFIG, every partner is a built-in simulator on this port (/_sim/...); set BRIDGE_CONFIG for real partners; ${demoWritebackNote(env)}`);
    // The engine's state logs go here unless the store keeps them itself (PostgreSQL: its tables).
    const stateDir = join(o.dataDir, 'state');
    const fsync = env.BRIDGE_FSYNC === '1';
    // Shipment references and statuses grow with every label, webhook receipts with every webhook,
    // and the write-back queues churn with every milestone: keyed logs (append-only, beside the
    // engine's own, pruned by their stamps) instead of lowdb files rewritten whole.
    const stateLogsOfRuntime = stateLogs(o.store, { dir: stateDir, fsync });
    const store = await withKeyedCollections(o.store, stateLogsOfRuntime, {
      [SHIPMENT_REFS_COLLECTION]: { stamp: (r: { at: string }) => Date.parse(r.at) || 0, retentionMs: 180 * 86_400_000 },
      [OUTBOX]: {},
      [EVENT_STATES_OUTBOX]: {},
      ...gatewayCollections(),
    });
    const refs = shipmentRefs(store);
    // The gauges read the engine's live status on scrape; the engine records counters as it works.
    let engine: Engine | undefined;
    const metrics = createMetrics({ store: o.store, stateDir, partners: config.partners.map((p) => p.id), engineStatus: () => engine!.status(), processMetrics: true, ...slaOf(config.partners) });
    const retentionDays = Number(env.BRIDGE_RETENTION_DAYS ?? 30) || 30;
    engine = createEngine({
      store, config, registry: withShipmentRefs(adapterRegistry, refs), io: { dataDir: o.dataDir }, logger: o.logger.child({ component: 'engine' }), metrics,
      stateDir, fsync, auditRetentionMs: retentionDays * 86_400_000,
    });
    const shadow = shadowReports({ store, config, registry: adapterRegistry });
    const publicRoutes: { path: string; app: Hono }[] = [
      { path: '/', app: webhookRoutes({ partner: (id) => config.partners.find((p) => p.id === id), store, retainedByStore: true, refs, logger: o.logger, enqueueMilestones: (ms, from) => engine.acceptMilestones(ms, from) }) },
      { path: '/', app: metricsRoutes({ metrics, token: o.metricsToken }) },
      { path: '/dashboard', app: dashboardRoutes({ store: o.store, adminToken: o.adminToken, logger: o.logger, engine, metrics, shadow, operators: operatorDirectory({ adminToken: o.adminToken, operators: config.operators }) }) },
    ];
    let stopSims = () => {};
    if (demo) {
      const sims = new Hono();
      stopSims = mountSimulators(sims, { baseUrl: origin, dataDir: o.dataDir, autoProgressMs: 1500 }).stop;
      publicRoutes.push({ path: '/', app: sims });
    }
    if (o.deliver === false) o.logger.warn('DELIVERY PAUSED (BRIDGE_DELIVERY=paused): events are stored and acknowledged, nothing is sent to partners');
    else await engine.start();
    built = { engine, config, demo };
    return {
      publicRoutes,
      operators: config.operators,
      adminRoutes: [deadLetterRoutes({ engine }), shadowRoutes({ reports: shadow }), overviewRoutes({ store: o.store, writeback: () => engine!.writeback.status() })],
      async close() { stopSims(); await engine!.stop(); await stateLogsOfRuntime.close(); },
      observePublish: (events, result) => {
        const typeOf = new Map(events.map((e: any) => [e?.id, typeof e?.type === 'string' ? e.type : 'unknown']));
        for (const id of result.accepted) metrics.eventsReceived(typeOf.get(id) ?? 'unknown', 'accepted');
        for (const id of result.duplicates) metrics.eventsReceived(typeOf.get(id) ?? 'unknown', 'duplicate');
        for (const r of result.rejected) metrics.eventsReceived(typeOf.get(r.id) ?? 'unknown', 'rejected');
      },
    };
  };
  return { extend, runtime: () => { if (!built) throw new Error('runtime not built yet'); return built; } };
}
