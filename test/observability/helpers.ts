/** A bridge with the dashboard and /metrics mounted, as bridge.ts will mount them, on a memory store. */
import { startBridge } from '../../bridge/src/bridge.ts';
import { createMemoryStore } from '../../bridge/src/store/memory.ts';
import { createMetrics } from '../../bridge/src/observability/metrics.ts';
import { metricsRoutes } from '../../bridge/src/routes/metrics.ts';
import { dashboardRoutes, type DashboardDeps } from '../../bridge/src/dashboard/index.tsx';
import type { Store } from '../../bridge/src/store/types.ts';
import { ADMIN, TOKEN, captureLogs } from '../helpers/bridge.ts';
import { sampleEvent } from '../helpers/fixtures.ts';

export { ADMIN };

export async function observedBridge(o: { store?: Store; metricsToken?: string; dashboard?: Partial<DashboardDeps> } = {}) {
  const store = o.store ?? createMemoryStore();
  if (!store.isOpen) await store.open();
  const logs = captureLogs();
  const metrics = createMetrics({ store, partners: ['wms', 'easypost'] });
  const bridge = await startBridge({
    store, token: TOKEN, adminToken: ADMIN, logger: logs.logger, port: 0,
    publicRoutes: [
      { path: '/', app: metricsRoutes({ metrics, token: o.metricsToken }) },
      { path: '/dashboard', app: dashboardRoutes({ store, adminToken: ADMIN, logger: logs.logger, metrics, ...o.dashboard }) },
    ],
  });
  return { store, metrics, bridge, logs, url: bridge.url, async close() { await bridge.close(); await store.close(); } };
}

/** Stores an event and marks it dead, as the engine does after a partner's business refusal. */
export async function deadEvent(store: Store, overrides: Record<string, unknown> = {}, errorClass: 'business' | 'technical' = 'business') {
  const e = sampleEvent(overrides);
  await store.ingest([e]);
  await store.setStatus(e.id, { state: 'dead', attempts: 1, error_class: errorClass, last_error: 'wms: refused: unknown SKU ABC-1' });
  return e;
}
