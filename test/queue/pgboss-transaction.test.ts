/** The pg-boss queue enqueues inside the caller's transaction: the jobs commit or roll back with its own rows. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import pg from 'pg';
import { openPgBossQueue } from '../../bridge/src/queue/pgboss.ts';
import { postgresForTests } from '../helpers/postgres.ts';

test('jobs enqueued in a transaction appear with its commit and not at all after its rollback', async () => {
  const pgt = await postgresForTests('the pg-boss queue in a caller\'s transaction');
  if (!pgt) return;
  const schema = pgt.freshSchema();
  const q = await openPgBossQueue<{ n: number }>({ connectionString: pgt.url, schema, poolSize: 2 });
  const client = new pg.Client({ connectionString: pgt.url });
  await client.connect();
  const db = { executeSql: (text: string, values?: unknown[]) => client.query(text, values as any[]) };
  try {
    await client.query(`CREATE TABLE ${schema}.events (id text PRIMARY KEY)`);
    await client.query('BEGIN');
    await client.query(`INSERT INTO ${schema}.events VALUES ('e1')`);
    await q.enqueueIn(db, [{ id: 'e1/wms', partner: 'wms', key: 'A', payload: { n: 1 } }]);
    assert.equal(await q.take('wms'), [], 'not visible before the commit');
    await client.query('ROLLBACK');
    assert.equal(await q.take('wms'), [], 'gone with the rollback');
    await client.query('BEGIN');
    await client.query(`INSERT INTO ${schema}.events VALUES ('e1')`);
    await q.enqueueIn(db, [{ id: 'e1/wms', partner: 'wms', key: 'A', payload: { n: 1 } }, { id: 'e1/carrier', partner: 'carrier', key: 'A', payload: { n: 2 } }]);
    await client.query('COMMIT');
    const [w] = await q.take('wms');
    const [c] = await q.take('carrier');
    assert.equal([w?.id, c?.id], ['e1/wms', 'e1/carrier']);
  } finally {
    await client.end();
    await q.close();
    await pgt.dropSchemas();
  }
});

test.run();
