/** `npm run bench [-- name ...]`: runs the benchmarks and prints their figures. Not a test. */
import { execSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');
const only = process.argv.slice(2).filter((a) => !a.startsWith('--') && !/^\d+$/.test(a));
const want = (name: string) => only.length === 0 || only.includes(name);

execSync('node scripts/build.mjs', { cwd: ROOT, stdio: 'inherit' });
if (want('ingest')) await (await import('./ingest.ts')).benchIngest();
for (const name of ['engine']) {
  if (!want(name)) continue;
  const file = join(import.meta.dirname, `${name}.ts`);
  if (!existsSync(file)) { console.log(`${name} benchmark: SKIPPED (scripts/bench/${name}.ts not present)`); continue; }
  execSync(`npx tsx ${file}`, { cwd: ROOT, stdio: 'inherit' });
}
