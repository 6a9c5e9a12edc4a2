/** The local queue's own failure paths (the shared behaviour is in test/contract/queue.test.ts). */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { openLocalQueue, queueRowKey, type QueueRow } from '../../bridge/src/queue/local.ts';
import { openKeyedLog } from '../../bridge/src/store/keyed-log.ts';

test('a take whose write fails leaves the job queued for the next take, and frees the slot', async () => {
  const log = await openKeyedLog<QueueRow<{ n: number }>>({ name: 'queue', key: queueRowKey });
  const q = await openLocalQueue({ log, concurrency: () => 1 });
  await q.enqueue([{ id: 'a1', partner: 'wms', key: 'A', payload: { n: 1 } }]);
  const put = log.put.bind(log);
  log.put = async () => { throw new Error('disk full'); };
  try {
    await q.take('wms');
    assert.unreachable('the failed write was not reported');
  } catch (e) {
    assert.match((e as Error).message, /disk full/);
  }
  log.put = put;
  const [a1] = await q.take('wms');
  assert.is(a1?.id, 'a1');
  assert.is(a1.inDoubt, false, 'it never left');
  assert.ok(await q.complete(a1));
  await q.close();
});

test.run();
