/** A PostgreSQL for tests: OLB_TEST_PG_URL or the machine's own at 127.0.0.1:5432 (trust auth, database `test`). */
import pg from 'pg';

export const TEST_PG_URL = process.env.OLB_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const PREFIX = 'olb_test_';

export interface TestPostgres {
  url: string;
  /** A schema name no other test uses; dropped by dropSchemas(). */
  freshSchema(): string;
  dropSchemas(): Promise<void>;
}

/** Resolves undefined, printing why, when no PostgreSQL answers (the suite is then skipped, loudly). */
export async function postgresForTests(what: string): Promise<TestPostgres | undefined> {
  const client = new pg.Client({ connectionString: TEST_PG_URL, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
  } catch (e) {
    const why = `SKIPPED ${what} on PostgreSQL: nothing answers at ${TEST_PG_URL} (${(e as Error).message}); start PostgreSQL or set OLB_TEST_PG_URL`;
    if (process.env.CI) throw new Error(why.replace('SKIPPED', 'CI needs PostgreSQL for'));
    console.log(why);
    return undefined;
  }
  await client.end();
  const made: string[] = [];
  return {
    url: TEST_PG_URL,
    freshSchema() {
      const name = `${PREFIX}${process.pid}_${made.length}_${Math.random().toString(36).slice(2, 8)}`;
      made.push(name);
      return name;
    },
    async dropSchemas() {
      const c = new pg.Client({ connectionString: TEST_PG_URL });
      await c.connect();
      for (const s of made) await c.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
      await c.end();
    },
  };
}
