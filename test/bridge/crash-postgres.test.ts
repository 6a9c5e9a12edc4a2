/**
 * The crash test against the PostgreSQL store: SIGKILL right after acks loses nothing acknowledged.
 * (Kills mid-delivery with the engine's state in PostgreSQL: test/engine/fault.test.ts.)
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPostgresStore } from '../../bridge/src/store/postgres.ts';
import { refusedStartMessage } from '../helpers/child-bridge.ts';
import { assertNothingLost, killAfterAcks } from '../helpers/crash.ts';
import { postgresForTests } from '../helpers/postgres.ts';

test('PostgreSQL store: SIGKILL right after acknowledgements loses no acknowledged event and stores none twice', async () => {
  const pg = await postgresForTests('crash test');
  if (!pg) return;
  const schema = pg.freshSchema();
  const dir = mkdtempSync(join(tmpdir(), 'olb-crash-pg-'));
  const env = { BRIDGE_DATABASE_URL: pg.url, BRIDGE_DATABASE_SCHEMA: schema, BRIDGE_DELIVERY: 'paused' };
  try {
    const acknowledged = await killAfterAcks(dir, env);
    await assertNothingLost(createPostgresStore({ url: pg.url, schema, pruneEveryMs: 0 }), acknowledged);
    // The runtime opened its state logs (shipment references) through the store: tables, no folder.
    assert.not.ok(existsSync(join(dir, 'state')), 'no state folder in BRIDGE_DATA_DIR with PostgreSQL');
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await pg.dropSchemas();
  }
});

test('an unreachable PostgreSQL stops the start with a message naming the database, without its password', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'olb-pg-env-'));
  try {
    const message = await refusedStartMessage(dir, { BRIDGE_DATABASE_URL: 'postgres://bridge:s3cret@127.0.0.1:1/nothing' });
    assert.match(message, /cannot open postgres:\/\/bridge:\*\*\*@127\.0\.0\.1:1\/nothing/);
    assert.not.match(message, /s3cret/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a malformed BRIDGE_DATABASE_URL is refused by name', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'olb-pg-env-'));
  try {
    assert.match(await refusedStartMessage(dir, { BRIDGE_DATABASE_URL: 'mysql://x' }), /BRIDGE_DATABASE_URL must be a postgres:\/\/ URL/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
