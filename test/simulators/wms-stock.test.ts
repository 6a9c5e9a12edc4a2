/** The WMS simulator's stock stays a warehouse's: 400 releases and shipments never take it below zero (issue 18). */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createWmsSim } from '../../bridge/src/simulators/wms/app.ts';

test('stock never goes negative over 400 orders: a dry SKU is replenished, and that is counted', async () => {
  const sim = createWmsSim({ token: 't', webhookUrl: 'http://bridge.invalid/v1/webhooks/wms-sim', fetch: (async () => new Response(null, { status: 202 })) as typeof fetch });
  for (let i = 0; i < 400; i++) {
    const res = await sim.app.fetch(new Request('http://sim/order', {
      method: 'POST', headers: { authorization: 'Bearer t', 'content-type': 'application/json' },
      body: JSON.stringify({ reference_id: `WH/OUT/${i}`, recipient: { address: { address1: '1 Main St', city: 'Paris', country: 'FR' } }, products: [{ reference_id: 'FURN_7800', quantity: 2 }, { reference_id: 'FURN_0269', quantity: 1 }] }),
    }));
    assert.is(res.status, 201);
    await sim.ship(`WH/OUT/${i}`);
    for (const [sku, s] of sim.stock) assert.ok(s.on_hand >= 0 && s.on_hand - s.committed >= 0, `${sku} after order ${i}: ${JSON.stringify(s)}`);
  }
  assert.ok(sim.effects.get('stock_received') > 0, 'replenishments are counted');
});

test.run();
