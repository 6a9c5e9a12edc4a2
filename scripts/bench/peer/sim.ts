/**
 * The peer benchmark's partner (scripts/bench/peer.ts): the EasyPost simulator alone in its own
 * process over real HTTP on 127.0.0.1, so that no contender's CPU figure includes it. Prints
 * `SIM_PORT=<port>` once listening.
 */
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { createEasyPostSim } from '../../../bridge/src/simulators/easypost/app.ts';

const sim = createEasyPostSim({ apiKey: 'bench' });
const server = serve({ fetch: sim.app.fetch, port: 0, hostname: '127.0.0.1' });
// Keep-alive sockets stay open between contenders: the simulator, not the client, must not be the one closing them.
server.once('listening', () => console.log(`SIM_PORT=${(server.address() as AddressInfo).port}`));
// The simulator keeps every shipment: forget them between contenders (the parent asks), so each sees the same simulator.
setInterval(() => { if (sim.shipments.size > 50_000) sim.shipments.clear(); }, 1000).unref();
process.on('SIGTERM', () => process.exit(0));
