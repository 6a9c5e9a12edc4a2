// `npm test`: type-check, then every uvu suite under test/, then one plain summary line.
// uvu does not exit by itself while a handle is open; a run that printed its totals is ended
// after a grace period so a stray timer cannot hang CI, and that is reported.
import { spawn, spawnSync } from 'node:child_process';

const tsc = spawnSync('npx', ['tsc', '--noEmit'], { stdio: 'inherit' });
if (tsc.status !== 0) {
  console.log('type check failed: 0 passed, 1 failed');
  process.exit(1);
}
const pattern = process.argv[2] ?? '\\.test\\.ts$';
const child = spawn('npx', ['uvu', '-r', 'tsx', 'test', pattern, '--color=false'], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, FORCE_COLOR: '0' } });
let out = '';
let graceTimer;
child.stdout.on('data', (d) => {
  process.stdout.write(d);
  out += d;
  if (/Duration:/.test(out) && !graceTimer) {
    graceTimer = setTimeout(() => { console.log('\n(test process still had open handles 5 s after its totals; ended it)'); child.kill('SIGKILL'); }, 5000);
  }
});
child.on('exit', (code) => {
  clearTimeout(graceTimer);
  const num = (label) => Number(new RegExp(`${label}:\\s+(\\d+)`).exec(out)?.[1] ?? NaN);
  const total = num('Total'), passed = num('Passed'), skipped = num('Skipped');
  if (Number.isNaN(total)) {
    console.log(`test run ended without totals (exit ${code}): 0 passed, 1 failed`);
    process.exit(1);
  }
  const failed = total - passed; // uvu counts skipped tests outside Total
  console.log(`\n${passed} passed, ${failed} failed, ${skipped} skipped`);
  process.exit(failed > 0 || (code !== 0 && code !== null) ? 1 : 0);
});
