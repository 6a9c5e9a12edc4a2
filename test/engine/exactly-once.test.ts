/**
 * Exactly once in effect against partners that behave as their public documentation says (no
 * undocumented idempotency header; lookups and duplicate refusals only where documented), per
 * carrier and warehouse adapter, on the embedded store and on PostgreSQL: the partner answers in
 * 100–400 ms, the bridge is SIGKILLed at least 30 times during partner calls and restarted, and
 * every start ingests the events again. Ends with every event delivered, one effect per reference
 * (one label per parcel, one order per picking), every milestone once in Odoo, and every call the
 * bridge started on record in the audit, interrupted ones included.
 *
 * STORM_KILLS overrides the kill count (default 30).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { crashStorm, stormLine } from '../helpers/crash-storm.ts';
import { EMBEDDED, PARTNERS, postgresBacking } from '../helpers/storm-partners.ts';
import { postgresForTests } from '../helpers/postgres.ts';

const KILLS = Number(process.env.STORM_KILLS ?? 30);

function assertExactlyOnce(name: string, r: Awaited<ReturnType<typeof crashStorm>>) {
  console.log(`  ${stormLine(name, '', r)}`);
  assert.ok(r.kills >= KILLS, `${name}: killed ${r.kills} times mid-call (wanted ${KILLS})`);
  assert.equal(r.unfinished, [], `${name}: every event delivered`);
  assert.equal(r.wrong, [], `${name}: exactly one effect per reference`);
  assert.is(r.milestonesTwice, 0, `${name}: every milestone once in Odoo`);
  assert.equal(r.audit.unaccounted, [], `${name}: every call started is finished or recorded as interrupted`);
  assert.ok(r.audit.interrupted >= r.inFlightAtKills, `${name}: ${r.audit.interrupted} interrupted calls audited, ${r.inFlightAtKills} partner requests were in flight at the kills`);
  assert.ok(r.audit.interrupted >= 1);
}

for (const [name, make] of Object.entries(PARTNERS)) {
  test(`${name}, embedded store: ${KILLS} SIGKILLs mid-call against a partner as documented: nothing lost, one effect per reference, interrupted calls audited`, async () => {
    assertExactlyOnce(`${name}/embedded`, await crashStorm(make(), EMBEDDED, { kills: KILLS }));
  });
  test(`${name}, PostgreSQL: the same storm with events and engine state in PostgreSQL`, async () => {
    const pg = await postgresForTests(`exactly-once storm (${name})`);
    if (!pg) return;
    try {
      assertExactlyOnce(`${name}/postgres`, await crashStorm(make(), postgresBacking(pg), { kills: KILLS }));
    } finally {
      await pg.dropSchemas();
    }
  });
}

test.run();
