/**
 * A worker process for the pg-boss queue tests: opens the queue on the schema it is given, takes
 * jobs of one partner, prints `took <id>` for each and never settles them (it holds them,
 * heartbeating, until it is killed). Args: <connection string> <schema> <partner>.
 */
import { openPgBossQueue } from '../../bridge/src/queue/pgboss.ts';

const [url, schema, partner] = process.argv.slice(2);
const q = await openPgBossQueue<unknown>({ connectionString: url, schema, superviseIntervalSeconds: 1, poolSize: 2 });
for (;;) {
  for (const j of await q.take(partner, 1)) console.log(`took ${j.id}`);
  await new Promise((r) => setTimeout(r, 100));
}
