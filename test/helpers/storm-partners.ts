/** The partners the crash storm runs against (test/engine/exactly-once.test.ts, `npm run bench -- crash`), and where the bridge keeps its data. */
import type { Event } from '../../shared/src/index.ts';
import { createEasyPostSim } from '../../bridge/src/simulators/easypost/app.ts';
import { createShippoSim } from '../../bridge/src/simulators/shippo/app.ts';
import { createWmsSim } from '../../bridge/src/simulators/wms/app.ts';
import { createEmbeddedStore } from '../../bridge/src/store/embedded.ts';
import { createPostgresStore } from '../../bridge/src/store/postgres.ts';
import { parseMetadata } from '../../bridge/src/adapters/shippo/map.ts';
import type { StormBacking, StormPartner } from './crash-storm.ts';
import type { TestPostgres } from './postgres.ts';
import { event } from '../engine/helpers.ts';

const EVENTS = 60;
const LIMITS = { concurrency: 3, timeout_ms: 1500, max_attempts: 50, backoff: { base_ms: 50, cap_ms: 200 }, breaker: { consecutive_failures: 1000, half_open_after_ms: 100 } };

const count = (refs: (string | undefined)[]) => {
  const m = new Map<string, number>();
  for (const r of refs) if (r !== undefined) m.set(r, (m.get(r) ?? 0) + 1);
  return m;
};

function shipments(prefix: string): Event[] {
  return Array.from({ length: EVENTS }, (_, i) => {
    const e = event('shipment.requested', `stock.picking:${prefix}${i}`, 1);
    (e.payload as any).shipment_ref = `WH/OUT/${prefix}${i}`;
    return e;
  });
}

/** The partners under test, each fresh (a simulator per run). */
export const PARTNERS: Record<string, () => StormPartner> = {
  easypost: () => {
    const sim = createEasyPostSim({ apiKey: 'ep-storm-key' });
    const events = shipments('E');
    return {
      name: 'easypost', fetch: (r) => sim.app.fetch(r), env: { STORM_EP_KEY: 'ep-storm-key' }, events,
      partner: (url) => ({
        id: 'ep', adapter: 'easypost', role: 'carrier', base_url: `${url}/v2`, credentials: { api_key: { env: 'STORM_EP_KEY' } },
        options: { service_map: { GROUND: { carrier: 'USPS', service: 'GroundAdvantage' } } }, limits: LIMITS,
      }),
      routes: [{ events: ['shipment.requested'], partners: ['ep'] }],
      // A label is a bought shipment; each is filed under the reference we gave it.
      effects: () => count([...sim.shipments.values()].filter((s) => s.postage_label).map((s) => s.reference)),
      expected: events.map((e) => (e.payload as any).shipment_ref),
    };
  },
  shippo: () => {
    const sim = createShippoSim({ token: 'shippo-storm-token' });
    const events = shipments('S');
    return {
      name: 'shippo', fetch: (r) => sim.app.fetch(r), env: { STORM_SHIPPO_TOKEN: 'shippo-storm-token' }, events,
      partner: (url) => ({
        id: 'shippo', adapter: 'shippo', role: 'carrier', base_url: url, credentials: { api_token: { env: 'STORM_SHIPPO_TOKEN' } }, limits: LIMITS,
      }),
      routes: [{ events: ['shipment.requested'], partners: ['shippo'] }],
      // A label is a successful transaction; our reference travels in its metadata.
      effects: () => count([...sim.transactions.values()].filter((t) => t.status === 'SUCCESS').map((t) => parseMetadata(t.metadata)?.shipment_ref)),
      expected: events.map((e) => (e.payload as any).shipment_ref),
    };
  },
  'rest-wms': () => {
    const sim = createWmsSim({ token: 'wms-storm-token', stock: { FURN_7800: 1_000_000, FURN_0269: 1_000_000, DESK0005: 1_000_000 } });
    const events = Array.from({ length: EVENTS }, (_, i) => {
      const e = event('order.released', `stock.picking:W${i}`, 1);
      (e.payload as any).picking_ref = `WH/OUT/W${i}`;
      return e;
    });
    return {
      name: 'rest-wms', fetch: (r) => sim.app.fetch(r), env: { STORM_WMS_TOKEN: 'wms-storm-token' }, events,
      partner: (url) => ({
        id: 'wms', adapter: 'rest-wms', role: 'warehouse', base_url: url, credentials: { api_token: { env: 'STORM_WMS_TOKEN' } }, options: { warehouse: 'WH' }, limits: LIMITS,
      }),
      routes: [{ events: ['order.released'], when: { warehouse: ['WH'] }, partners: ['wms'] }],
      // An order at the warehouse, by our picking reference.
      effects: () => count([...sim.orders.values()].map((o) => o.reference_id)),
      expected: events.map((e) => (e.payload as any).picking_ref),
    };
  },
};

export const EMBEDDED: StormBacking = { name: 'embedded', env: {}, store: (data) => createEmbeddedStore({ dir: data, pruneEveryMs: 0 }) };


/** Events and engine state in a fresh schema of the test PostgreSQL. */
export function postgresBacking(pg: TestPostgres): StormBacking {
  const schema = pg.freshSchema();
  return { name: 'postgres', env: { FAULT_PG_URL: pg.url, FAULT_PG_SCHEMA: schema }, store: () => createPostgresStore({ url: pg.url, schema, pruneEveryMs: 0 }) };
}
