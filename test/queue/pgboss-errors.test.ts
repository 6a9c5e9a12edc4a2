/** The pg-boss queue's refusals say what to fix. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { QueueError } from '../../bridge/src/core/queue.ts';
import { openPgBossQueue } from '../../bridge/src/queue/pgboss.ts';
import { postgresForTests } from '../helpers/postgres.ts';

test('a schema or partner id pg-boss cannot use is refused with what to change', async () => {
  const pgt = await postgresForTests('the pg-boss queue refusals');
  if (!pgt) return;
  try {
    await openPgBossQueue({ connectionString: pgt.url, schema: 'Bad-Schema' });
    assert.unreachable('a bad schema name was accepted');
  } catch (e) {
    assert.instance(e, QueueError);
    assert.match((e as Error).message, /plain lower-case identifier/);
  }
  const q = await openPgBossQueue({ connectionString: pgt.url, schema: pgt.freshSchema(), poolSize: 2 });
  try {
    await q.enqueue([{ id: 'x', partner: 'wms east', key: 'A', payload: {} }]);
    assert.unreachable('a partner id with a space was accepted');
  } catch (e) {
    assert.instance(e, QueueError);
    assert.match((e as Error).message, /partner id "wms east" cannot name a pg-boss queue/);
  } finally {
    await q.close();
    await pgt.dropSchemas();
  }
});

test.run();
