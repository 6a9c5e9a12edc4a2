/** `npm run bench [-- name ...]`: runs the benchmarks and prints their figures. Not a test. */
import { execSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');
const only = process.argv.slice(2).filter((a) => !a.startsWith('--') && !/^\d+$/.test(a));
const want = (name: string) => only.length === 0 || only.includes(name);
// Flags after the names go to the benchmark that was asked for (e.g. `engine-volume --max 100000`).
const flags = process.argv.slice(2).filter((a, i, all) => a.startsWith('--') || /^\d+$/.test(a) || all[i - 1]?.startsWith('--'));

execSync('node scripts/build.mjs', { cwd: ROOT, stdio: 'inherit' });
if (want('ingest')) await (await import('./ingest.ts')).benchIngest();
for (const name of ['crash', 'engine', 'peer', 'engine-volume', 'queue']) {
  if (!want(name)) continue;
  const file = join(import.meta.dirname, `${name}.ts`);
  if (!existsSync(file)) { console.log(`${name} benchmark: SKIPPED (scripts/bench/${name}.ts not present)`); continue; }
  // The volume run is long (minutes at 1M); a run of every benchmark takes it to 100k.
  const extra = name === 'engine-volume' && only.length === 0 ? ['--max', '100000'] : [];
  execSync(`npx tsx ${file} ${[...(only.length ? flags : []), ...extra].join(' ')}`, { cwd: ROOT, stdio: 'inherit' });
  // A full run measures the volume on PostgreSQL too (its target differs: issue 13).
  if (name === 'engine-volume' && only.length === 0) execSync(`npx tsx ${file} ${[...extra, '--postgres'].join(' ')}`, { cwd: ROOT, stdio: 'inherit' });
}
