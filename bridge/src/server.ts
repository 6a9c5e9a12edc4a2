/** Process entry: settings, store, one HTTP + websocket port, graceful shutdown. */
import { serve } from '@hono/node-server';
import type { Server } from 'node:http';
import { resolve } from 'node:path';
import { readSettings } from './env.ts';
import { createLogger } from './log.ts';
import { resolveTokens } from './secrets.ts';
import { createEmbeddedStore } from './store/embedded.ts';
import { createApp } from './app.ts';
import { createOdooRpcServer } from './ingest/publish.ts';
import { attachOdooSocket } from './routes/odoo-socket.ts';

export const VERSION = '0.1.0';

async function main() {
  const logger = createLogger();
  let settings;
  try {
    settings = readSettings(process.env);
  } catch (e) {
    console.error(`logistics-bridge: cannot start: ${(e as Error).message}`);
    process.exit(2);
  }
  const dataDir = resolve(settings.dataDir);
  const tokens = resolveTokens(dataDir, settings);
  if (tokens.generatedFile) logger.info({ file: tokens.generatedFile }, 'tokens not set in the environment: using the generated ones in this file (mode 0600)');

  const store = createEmbeddedStore({ dir: dataDir, fsync: settings.fsync, retentionMs: settings.retentionDays * 86_400_000 });
  await store.open();

  const app = createApp({ store, adminToken: tokens.adminToken, logger, version: VERSION });
  const server = serve({ fetch: app.fetch, hostname: settings.host, port: settings.port }) as Server;
  const closeSocket = attachOdooSocket(server, { token: tokens.token, rpc: createOdooRpcServer(store), logger, maxFrameBytes: settings.maxFrameBytes });
  await new Promise<void>((ok, fail) => { server.once('listening', ok); server.once('error', fail); });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : settings.port;
  logger.info({ host: settings.host, port, data_dir: dataDir, fsync: settings.fsync }, 'bridge listening');
  // One line for scripts and tests that start the bridge on port 0.
  if (process.env.BRIDGE_ANNOUNCE_PORT === '1') console.log(`BRIDGE_PORT=${port}`);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    await closeSocket();
    await new Promise<void>((ok) => server.close(() => ok()));
    await store.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((e) => {
  console.error(`logistics-bridge: fatal: ${e?.stack ?? e}`);
  process.exit(1);
});
