import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readSettings } from '../../bridge/src/env.ts';

test('defaults: loopback, port 8787, ./data, delivery on, fsync off', () => {
  const s = readSettings({});
  assert.equal([s.host, s.port, s.dataDir, s.deliver, s.fsync, s.retentionDays, s.maxFrameBytes], ['127.0.0.1', 8787, './data', true, false, 30, 1048576]);
});

test('variables override the defaults', () => {
  const s = readSettings({ PORT: '9000', BRIDGE_DELIVERY: 'paused', BRIDGE_FSYNC: '1', BRIDGE_RETENTION_DAYS: '7' });
  assert.equal([s.port, s.deliver, s.fsync, s.retentionDays], [9000, false, true, 7]);
});

test('each bad value names its variable', () => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ PORT: '70000' }, /PORT must be <= 65535/],
    [{ BRIDGE_FSYNC: 'yes' }, /BRIDGE_FSYNC must be "0" or "1"/],
    [{ BRIDGE_RETENTION_DAYS: '0' }, /BRIDGE_RETENTION_DAYS must be >= 1/],
    [{ BRIDGE_TOKEN: 'x'.repeat(30), BRIDGE_ADMIN_TOKEN: 'x'.repeat(30) }, /BRIDGE_ADMIN_TOKEN must differ from BRIDGE_TOKEN/],
    [{ BRIDGE_ADMIN_TOKEN: 'short' }, /BRIDGE_ADMIN_TOKEN must be at least 24/],
  ];
  for (const [env, message] of cases) assert.throws(() => readSettings(env), message);
});

test.run();
