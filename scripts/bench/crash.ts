/**
 * `npm run bench -- crash [--kills N]`: the crash figure. Each carrier and warehouse adapter
 * against its simulator (answering in 100–400 ms, as its public docs say: no undocumented key),
 * the bridge SIGKILLed during partner calls N times (default 30) and restarted, on the embedded
 * store and on PostgreSQL. Prints kills, events, and references with other than one effect.
 */
import { crashStorm, stormLine } from '../../test/helpers/crash-storm.ts';
import { EMBEDDED, PARTNERS, postgresBacking } from '../../test/helpers/storm-partners.ts';
import { postgresForTests } from '../../test/helpers/postgres.ts';

const args = process.argv.slice(2);
const kills = Number(args[args.indexOf('--kills') + 1]) || 30;
console.log(`\ncrash figure: ${kills} SIGKILLs mid-call per run, partner answering in 100-400 ms`);
const pg = await postgresForTests('crash bench');
let bad = 0;
for (const [name, make] of Object.entries(PARTNERS)) {
  for (const b of [EMBEDDED, ...(pg ? [postgresBacking(pg)] : [])]) {
    const r = await crashStorm(make(), b, { kills });
    bad += r.wrong.length + r.unfinished.length;
    console.log(stormLine(name, b.name, r));
  }
}
await pg?.dropSchemas();
console.log(bad ? `crash figure: ${bad} references or events not exactly once` : 'crash figure: every reference exactly once, nothing lost');
