/**
 * The deployment kit, checked by the tools this machine has: `systemd-analyze verify` for the unit,
 * `docker compose config` (or Debian's docker-compose) for the compose file, a static reading of the
 * Dockerfile (no image registry is reachable here, so it is not built), and the bundle the image
 * ships started alone, with no node_modules beside it, as the image's runtime stage runs it.
 * A check whose tool is absent is skipped (uvu counts it as skipped) with the reason printed.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');
const has = (cmd: string, args: string[]) => spawnSync(cmd, args, { encoding: 'utf8' }).status === 0;

function either(available: boolean, name: string, reason: string, fn: () => void | Promise<void>) {
  if (available) test(name, fn);
  else {
    console.log(`SKIPPED: ${name}: ${reason}`);
    test.skip(name, fn);
  }
}

const SYSTEMD = has('systemd-analyze', ['--version']);
either(SYSTEMD, 'the systemd unit passes systemd-analyze verify with no warning', 'systemd-analyze is not installed', () => {
  const unit = join(ROOT, 'deploy/systemd/logistics-bridge.service');
  const r = spawnSync('systemd-analyze', ['verify', unit], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  // verify exits 0 on values it ignores ("Failed to parse ..., ignoring"): those count as failures here.
  assert.is(r.stderr.trim(), '', `systemd-analyze verify printed: ${r.stderr}`);
  const text = readFileSync(unit, 'utf8');
  for (const hardening of ['NoNewPrivileges=yes', 'ProtectSystem=strict', 'DynamicUser=yes', 'RestartPreventExitStatus=2', 'UMask=0077']) {
    assert.ok(text.includes(hardening), `the unit sets ${hardening}`);
  }
});

// Compose v2 (`docker compose`) where installed, else Debian's docker-compose 1.29.
const COMPOSE: string[] | undefined = has('docker', ['compose', 'version']) ? ['docker', 'compose'] : has('docker-compose', ['version']) ? ['docker-compose'] : undefined;
const composeEnv = { ...process.env, BRIDGE_TOKEN: 'a'.repeat(24), BRIDGE_ADMIN_TOKEN: 'b'.repeat(24), POSTGRES_PASSWORD: 'pw', BRIDGE_DB_PASSWORD: 'bpw', ODOO_API_KEY: '' };
const compose = (args: string[], env: NodeJS.ProcessEnv = composeEnv) =>
  spawnSync(COMPOSE![0], [...COMPOSE!.slice(1), '-f', join(ROOT, 'deploy/compose.yaml'), ...args], { encoding: 'utf8', env, cwd: join(ROOT, 'deploy') });

either(!!COMPOSE, 'the compose file is valid for both profiles and names a missing secret', 'neither `docker compose` nor docker-compose is installed (apt-get install docker-compose)', () => {
  for (const profile of ['embedded', 'pg']) {
    const r = compose(['--profile', profile, 'config']);
    assert.is(r.status, 0, `profile ${profile}: ${r.stderr}`);
    // One bridge per profile: each bridge service is in exactly its own profile; Odoo and PostgreSQL in none.
    const bridgeService = profile === 'pg' ? 'bridge-pg' : 'bridge';
    assert.match(r.stdout, new RegExp(`\\n  ${bridgeService}:\\n(?:    .*\\n|    - .*\\n|      .*\\n)*?    profiles:\\n    - ${profile}\\n`), `${bridgeService} runs in profile ${profile} only`);
    assert.match(r.stdout, /\/readyz/, 'the bridge has a health check');
    assert.match(r.stdout, /logistics_bridge:\/mnt\/extra-addons\/logistics_bridge/, 'the addon is mounted into Odoo');
  }
  const { BRIDGE_TOKEN: _, ...noToken } = composeEnv;
  const missing = compose(['--profile', 'embedded', 'config'], noToken);
  assert.is.not(missing.status, 0);
  assert.match(missing.stderr, /set BRIDGE_TOKEN/);
});

test('the Dockerfile: two stages on Node 24 slim, a non-root runtime with a health check, running the one-file bundle', () => {
  const text = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  const froms = [...text.matchAll(/^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/gim)].map((m) => m[1]);
  assert.equal(froms.length, 2, 'a build stage and a runtime stage');
  for (const f of froms) assert.match(f, /^node:24[-.\w]*slim$/, `${f} is Node 24 slim`);
  const runtime = text.slice(text.lastIndexOf('\nFROM '));
  const users = [...runtime.matchAll(/^USER\s+(\S+)/gm)].map((m) => m[1]);
  assert.ok(users.length && users.at(-1) !== 'root' && users.at(-1) !== '0', 'the runtime stage runs as a non-root user');
  assert.match(runtime, /^HEALTHCHECK .*\/readyz/ms);
  assert.match(runtime, /COPY --from=build \/src\/dist\/bridge\.mjs/);
  assert.match(runtime, /^CMD \[.*"dist\/bridge\.mjs"\]/m);
  assert.match(text, /RUN npm ci/, 'the build installs exactly the lock file');
  const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n');
  for (const p of ['node_modules', 'dist', '.git', 'data']) assert.ok(ignored.includes(p), `.dockerignore leaves out ${p}`);
});

test('the bundle the image ships runs alone (no node_modules beside it): ready, then a clean stop on SIGTERM', async () => {
  const bundle = join(ROOT, 'dist/bridge.mjs');
  if (!existsSync(bundle)) assert.is(spawnSync(process.execPath, [join(ROOT, 'scripts/build.mjs')], { cwd: ROOT }).status, 0, 'npm run build');
  const dir = mkdtempSync(join(tmpdir(), 'olb-image-'));
  try {
    copyFileSync(bundle, join(dir, 'bridge.mjs'));
    const proc = spawn(process.execPath, [join(dir, 'bridge.mjs')], {
      cwd: dir, stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH, HOST: '127.0.0.1', PORT: '0', BRIDGE_ANNOUNCE_PORT: '1', BRIDGE_DATA_DIR: join(dir, 'data'), LOG_LEVEL: 'warn' },
    });
    let err = '';
    proc.stderr.on('data', (d) => (err += d));
    const exited = new Promise<number | null>((ok) => proc.once('close', (code) => ok(code)));
    const port = await new Promise<number>((ok, fail) => {
      let out = '';
      proc.stdout.on('data', (d) => {
        out += d;
        const m = /BRIDGE_PORT=(\d+)/.exec(out);
        if (m) ok(Number(m[1]));
      });
      void exited.then((code) => fail(new Error(`the bundle exited (${code}) before listening: ${err}`)));
    });
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
    assert.is(ready.status, 200);
    proc.kill('SIGTERM');
    assert.is(await exited, 0, `a clean stop on SIGTERM: ${err}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
