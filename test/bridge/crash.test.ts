import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEmbeddedStore } from '../../bridge/src/store/embedded.ts';
import { refusedStartMessage } from '../helpers/child-bridge.ts';
import { assertNothingLost, killAfterAcks } from '../helpers/crash.ts';

test('SIGKILL right after acknowledgements loses no acknowledged event and stores none twice', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'olb-crash-'));
  try {
    const acknowledged = await killAfterAcks(dir);
    await assertNothingLost(createEmbeddedStore({ dir, pruneEveryMs: 0 }), acknowledged);
    assert.ok(existsSync(join(dir, 'state')), 'the embedded store leaves the state logs in BRIDGE_DATA_DIR/state');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a bad environment value stops the start with a message naming the variable', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'olb-env-'));
  assert.match(await refusedStartMessage(dir, { PORT: 'eighty' }), /PORT must be a whole number/);
  assert.match(await refusedStartMessage(dir, { BRIDGE_TOKEN: 'short' }), /BRIDGE_TOKEN must be at least 24 characters/);
  assert.match(await refusedStartMessage(dir, { BRIDGE_DELIVERY: 'maybe' }), /BRIDGE_DELIVERY must be "on" or "paused"/);
  // The example configuration without its partners' variables: every missing one named, exit 2, no stack.
  const config = await refusedStartMessage(dir, { BRIDGE_CONFIG: join(import.meta.dirname, '../../bridge/src/config/example.bridge.json') });
  for (const name of ['EASYPOST_API_KEY', 'SHIPPO_TOKEN', 'WMS_BE_TOKEN', 'ODOO_API_KEY']) assert.match(config, new RegExp(`environment variable ${name} is not set`));
  assert.match(config, /exited \(2\)/);
  assert.not.match(config, /\n\s+at /, 'no stack trace');
  rmSync(dir, { recursive: true, force: true });
});

test.run();
