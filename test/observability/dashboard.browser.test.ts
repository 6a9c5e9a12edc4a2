/**
 * End to end in headless Chromium: a simulator fault (the WMS is down) dead-letters an order
 * release; an operator logs in, sees it on the dashboard, replays it with confirmation once the
 * WMS is back, and sees it delivered (and the WMS holds the order exactly once).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import type { Server } from 'node:http';
import { serve } from '@hono/node-server';
import { startBridge } from '../../bridge/src/bridge.ts';
import { parseConfig } from '../../bridge/src/config/load.ts';
import { createEngine } from '../../bridge/src/core/engine.ts';
import { adapterRegistry } from '../../bridge/src/adapters/registry.ts';
import { createWmsSim } from '../../bridge/src/simulators/wms/app.ts';
import { DEMO_PARTNER_ENV } from '../../bridge/src/simulators/demo-partners.ts';
import { createMemoryStore } from '../../bridge/src/store/memory.ts';
import { createMetrics } from '../../bridge/src/observability/metrics.ts';
import { dashboardRoutes } from '../../bridge/src/dashboard/index.tsx';
import { ADMIN, TOKEN, captureLogs } from '../helpers/bridge.ts';
import { sampleEvent } from '../helpers/fixtures.ts';

const CHROMIUM = '/usr/bin/chromium';

async function until<T>(what: string, f: () => Promise<T | undefined> | T | undefined, ms = 8000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

// Without Chromium the test is skipped (counted as skipped, not passed) and says why.
const browserTest = existsSync(CHROMIUM) ? test : (console.log(`SKIPPED: dashboard browser test: no ${CHROMIUM} (apt-get install chromium)`), test.skip);

browserTest('an operator sees a dead letter caused by a WMS outage, replays it with confirmation, and sees it delivered', async () => {
  const { chromium } = await import('playwright-core');
  const sim = createWmsSim({ token: DEMO_PARTNER_ENV.DEMO_WMS_TOKEN, down: true, knownSkus: undefined });
  const simServer = serve({ fetch: sim.app.fetch, hostname: '127.0.0.1', port: 0 }) as Server;
  await new Promise<void>((ok) => (simServer.listening ? ok() : simServer.once('listening', () => ok())));
  const simPort = (simServer.address() as { port: number }).port;

  const store = createMemoryStore();
  await store.open();
  const logs = captureLogs();
  const config = parseConfig({
    partners: [{
      id: 'wms-sim', adapter: 'rest-wms', role: 'warehouse', base_url: `http://127.0.0.1:${simPort}`,
      credentials: { api_token: { env: 'DEMO_WMS_TOKEN' }, webhook_secret: { env: 'DEMO_WMS_WEBHOOK_SECRET' } },
      options: { warehouse: 'WH', shipping_method_map: { bridge_ground: 'Standard' } },
      // One transient failure is enough to dead-letter: the test needs no waiting for backoff.
      limits: { timeout_ms: 3_000, max_attempts: 1 },
    }],
    routes: [{ name: 'WH orders', events: ['order.released'], partners: ['wms-sim'] }],
  }, DEMO_PARTNER_ENV, '<browser test>', { adapters: Object.keys(adapterRegistry) });
  const engine = createEngine({ store, config, registry: adapterRegistry, logger: logs.logger });
  await engine.start();
  const metrics = createMetrics({ store, partners: ['wms-sim'], engineStatus: () => engine.status() });
  const bridge = await startBridge({
    store, token: TOKEN, adminToken: ADMIN, logger: logs.logger, port: 0,
    publicRoutes: [{ path: '/dashboard', app: dashboardRoutes({ store, adminToken: ADMIN, logger: logs.logger, engine, metrics }) }],
  });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  try {
    const e = sampleEvent();
    await store.ingest([e]);
    await until('the release to be dead-lettered', async () => (await store.get(e.id))?.state === 'dead');
    assert.is(sim.effects.get('order_released'), 0, 'the WMS was down: nothing happened there');

    const page = await (await browser.newContext({ viewport: { width: 1366, height: 768 } })).newPage();
    page.setDefaultTimeout(8000);
    await page.goto(`${bridge.url}/dashboard`);
    assert.match(page.url(), /\/dashboard\/login$/, 'the dashboard asks for a login first');
    await page.fill('#name', 'alice');
    await page.fill('#token', 'wrong-token');
    await page.click('button[type=submit]');
    await page.getByText("That is not the admin token nor an operator's token.").waitFor();
    await page.fill('#name', 'alice');
    await page.fill('#token', ADMIN);
    await page.click('button[type=submit]');
    await page.waitForURL(`${bridge.url}/dashboard`);

    const row = page.locator(`#dead-letters tr[data-id="${e.id}"]`);
    await row.waitFor();
    assert.match(await row.innerText(), /technical/);
    assert.match(await row.innerText(), /wms-sim/);
    assert.match(await page.locator('#partners tr[data-partner="wms-sim"]').innerText(), /closed/);

    sim.run.down = false; // the WMS is back
    await row.getByText('Replay…').click();
    await page.getByText('Replay this dead letter?').waitFor();
    assert.is((await store.get(e.id))!.state, 'dead', 'nothing happens before the confirmation');
    await page.getByRole('button', { name: 'Yes, replay it' }).click();
    await page.waitForURL(/\/dashboard\/events\//);
    await page.getByText(/Replayed: now/).waitFor();

    // The engine delivers in the background; reloading the event page shows it delivered.
    await until('the replayed event to be delivered', async () => {
      await page.reload();
      return (await page.locator('#event-state').innerText()) === 'delivered';
    });
    assert.match(await page.locator('#history').innerText(), /dashboard:alice\s+replay/);
    assert.is(sim.effects.get('order_released'), 1, 'delivered exactly once');
    await page.goto(`${bridge.url}/dashboard`);
    assert.is(await page.locator(`#dead-letters tr[data-id="${e.id}"]`).count(), 0, 'gone from the dead-letter list');
    assert.match(await page.content(), /No dead letters/);
  } finally {
    await browser.close();
    await engine.stop();
    await bridge.close();
    await store.close();
    simServer.closeAllConnections?.();
    await new Promise<void>((ok) => simServer.close(() => ok()));
  }
});

test.run();
