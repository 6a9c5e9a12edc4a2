/** Process entry: settings, store, one HTTP + websocket port, graceful shutdown. */
import { resolve } from 'node:path';
import { readSettings } from './env.ts';
import { createLogger } from './log.ts';
import { resolveTokens } from './secrets.ts';
import { createEmbeddedStore } from './store/embedded.ts';
import { createPostgresStore, redactUrl } from './store/postgres.ts';
import { acquireDataDirLock, type DataDirLock } from './store/data-dir-lock.ts';
import { startBridge } from './bridge.ts';
import { ConfigError } from './config/load.ts';
import { extendWith } from './runtime.ts';

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
  // The embedded store serves one process: take the data dir before anything in it is touched.
  let dirLock: DataDirLock | undefined;
  if (!settings.databaseUrl) {
    try {
      dirLock = await acquireDataDirLock({ dir: dataDir });
    } catch (e) {
      console.error(`logistics-bridge: cannot start: ${(e as Error).message}`);
      process.exit(2);
    }
  }
  const tokens = resolveTokens(dataDir, settings);
  if (tokens.generatedFile) logger.info({ file: tokens.generatedFile }, 'tokens not set in the environment: using the generated ones in this file (mode 0600)');

  const retentionMs = settings.retentionDays * 86_400_000;
  const store = settings.databaseUrl
    ? createPostgresStore({ url: settings.databaseUrl, schema: settings.databaseSchema, retentionMs })
    : createEmbeddedStore({ dir: dataDir, fsync: settings.fsync, retentionMs });
  try {
    await store.open();
  } catch (e) {
    console.error(`logistics-bridge: cannot start: ${(e as Error).message}`);
    process.exit(2);
  }
  const storeInfo = settings.databaseUrl ? { store: 'postgres', database: redactUrl(settings.databaseUrl), schema: settings.databaseSchema } : { store: 'embedded', data_dir: dataDir, fsync: settings.fsync };
  const { extend } = extendWith({ store, logger, adminToken: tokens.adminToken, dataDir, configPath: settings.configPath, metricsToken: process.env.METRICS_TOKEN, deliver: settings.deliver });
  const bridge = await startBridge({ store, token: tokens.token, adminToken: tokens.adminToken, logger, host: settings.host, port: settings.port, maxFrameBytes: settings.maxFrameBytes, extend });
  logger.info({ url: bridge.url, websocket: `${bridge.url.replace('http', 'ws')}/v1/odoo`, ...storeInfo }, 'bridge listening');

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    await bridge.close();
    await store.close();
    await dirLock?.release();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  // One line for scripts and tests that start the bridge on port 0; printed after the signal handlers
  // are in place, so that a SIGTERM sent the moment it is read stops the bridge gracefully.
  if (process.env.BRIDGE_ANNOUNCE_PORT === '1') console.log(`BRIDGE_PORT=${bridge.port}`);
}

main().catch((e) => {
  // A configuration problem is the operator's to fix: say what, without a stack, exit 2 like a bad variable.
  if (e instanceof ConfigError) {
    console.error(`logistics-bridge: cannot start: ${e.message}\n(set the variables named above, e.g. from deploy/bridge.env.example, or fix the file; nothing was delivered)`);
    process.exit(2);
  }
  console.error(`logistics-bridge: fatal: ${e?.stack ?? e}`);
  process.exit(1);
});
