/**
 * Starts the partner simulators standalone: `npm run sim` (all, port 8788) or
 * `npm run sim -- easypost-sim --port 9000 --bridge http://127.0.0.1:8787`.
 * Each is under http://127.0.0.1:<port>/_sim/<partner id>/; GET /_sim/effects counts effects.
 * Per-run faults: --error-rate 0.2 --latency 200; per request: header X-Sim-Fault (see kit.ts).
 */
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { mountSimulators, DEMO_SIMULATORS } from '../bridge/src/simulators/index.ts';

const args = process.argv.slice(2);
const flag = (name: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const flagNames = new Set(['--port', '--bridge', '--error-rate', '--latency', '--data-dir', '--auto']);
const only = args.filter((a, i) => !a.startsWith('--') && !flagNames.has(args[i - 1] ?? ''));
const unknown = only.filter((id) => !(id in DEMO_SIMULATORS));
if (unknown.length) {
  console.error(`unknown simulator(s): ${unknown.join(', ')}; known: ${Object.keys(DEMO_SIMULATORS).join(', ')}`);
  process.exit(2);
}
const port = Number(flag('port') ?? process.env.SIM_PORT ?? 8788);
const app = new Hono();
const { stop } = mountSimulators(app, {
  baseUrl: flag('bridge') ?? process.env.BRIDGE_URL ?? 'http://127.0.0.1:8787',
  only: only.length ? only : undefined,
  errorRate: flag('error-rate') ? Number(flag('error-rate')) : undefined,
  latencyMs: flag('latency') ? Number(flag('latency')) : undefined,
  autoProgressMs: Number(flag('auto') ?? 1500),
  dataDir: flag('data-dir'),
});
const server = serve({ fetch: app.fetch, port, hostname: '127.0.0.1' }, (info) => {
  console.log(`simulators (${only.length ? only.join(', ') : 'all'}) on http://127.0.0.1:${info.port}/_sim/<partner id>/ — effects at /_sim/effects`);
});
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => { stop(); server.close(); process.exit(0); });
