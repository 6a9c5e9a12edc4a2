/**
 * A bridge process for the fault suite (test/engine/fault.test.ts): embedded store on disk (or
 * PostgreSQL, events and engine state, when FAULT_PG_URL and FAULT_PG_SCHEMA are set), the real adapter registry, the engine, and write-back to Odoo. On every start it ingests the events
 * file twice at once (Odoo resending after an outage, concurrently), then runs until every event is
 * finished and the write-back queue is empty, prints DONE and exits. The suite SIGKILLs it at will.
 *
 * usage: node --import tsx test/engine/fault-child.ts <data dir> <config.json> <events.json>
 * (the suite runs it bundled with esbuild so each restart is a plain, fast node start)
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { adapterRegistry } from '../../bridge/src/adapters/registry.ts';
import { loadConfig } from '../../bridge/src/config/load.ts';
import { createEngine } from '../../bridge/src/core/engine.ts';
import { createLogger } from '../../bridge/src/log.ts';
import { createEmbeddedStore } from '../../bridge/src/store/embedded.ts';
import { createPostgresStore } from '../../bridge/src/store/postgres.ts';
import { acquireDataDirLock } from '../../bridge/src/store/data-dir-lock.ts';

const [dir, configPath, eventsPath] = process.argv.slice(2);
const { FAULT_PG_URL, FAULT_PG_SCHEMA } = process.env;
// As the server does: one process per embedded data dir; a restart after SIGKILL takes it at once.
const dirLock = FAULT_PG_URL ? undefined : await acquireDataDirLock({ dir });
const store = FAULT_PG_URL ? createPostgresStore({ url: FAULT_PG_URL, schema: FAULT_PG_SCHEMA, pruneEveryMs: 0 }) : createEmbeddedStore({ dir, pruneEveryMs: 0 });
await store.open();
const config = loadConfig(configPath, process.env, { adapters: Object.keys(adapterRegistry) });
const logger = createLogger({ level: process.env.FAULT_LOG ?? 'silent', destination: process.stderr as any });
const engine = createEngine({ store, config, registry: adapterRegistry, logger, io: { dataDir: dir }, stateDir: join(dir, 'state') });
await engine.start();
const events = JSON.parse(readFileSync(eventsPath, 'utf8'));
await Promise.all([store.ingest(events), store.ingest(events)]);
process.stdout.write('STARTED\n');

const timer = setInterval(async () => {
  const open = (await store.unfinished()).filter((s) => s.state !== 'dead' && s.state !== 'manual');
  const wb = engine.writeback.status();
  if (open.length || wb.pending) return;
  clearInterval(timer);
  await engine.stop();
  await store.close();
  await dirLock?.release();
  process.stdout.write('DONE\n');
  process.exit(0);
}, 25);
