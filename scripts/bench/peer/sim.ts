/**
 * The peer benchmark's partner (scripts/bench/peer.ts): the EasyPost simulator in its own process
 * over real HTTP on 127.0.0.1, so that no contender's CPU figure includes it; beside it, under
 * /odoo, Odoo's JSON-2 write-back as far as the bridge uses it (every milestone applied), so the
 * bridge's label milestones drain as a running Odoo drains them. Prints `SIM_PORT=<port>`.
 */
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { createEasyPostSim } from '../../../bridge/src/simulators/easypost/app.ts';

const sim = createEasyPostSim({ apiKey: 'bench' });
const app = new Hono();
app.post('/odoo/json/2/:model/:method', async (c) => {
  if (c.req.header('authorization') !== 'bearer bench-odoo-key') return c.json({ name: 'werkzeug.exceptions.Unauthorized', message: 'Invalid apikey' }, 401);
  const body = await c.req.json();
  // As Odoo answers (services/event_states.py): one result per state, in order.
  if (c.req.param('method') === 'apply_event_states') return c.json(body.states.map((st: { id: string }) => ({ id: st.id, status: 'applied', message: '' })));
  return c.json(body.milestones.map((m: { id: string }) => ({ id: m.id, status: 'applied', message: '' })));
});
app.route('/', sim.app);
const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
// Keep-alive sockets stay open between contenders: the simulator, not the client, must not be the one closing them.
server.once('listening', () => console.log(`SIM_PORT=${(server.address() as AddressInfo).port}`));
// The simulator keeps every shipment: forget them between contenders (the parent asks), so each sees the same simulator.
setInterval(() => { if (sim.shipments.size > 50_000) sim.shipments.clear(); }, 1000).unref();
process.on('SIGTERM', () => process.exit(0));
