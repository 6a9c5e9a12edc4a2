/** Runs the real bridge process (bridge/src/server.ts) as a child, for crash and fault tests. */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { TOKEN, ADMIN } from './bridge.ts';

const ROOT = join(import.meta.dirname, '..', '..');

export interface ChildBridge { proc: ChildProcess; port: number; url: string; wsUrl: string; exited: Promise<number | null> }

/** Starts a bridge on a free port over `dataDir`; resolves once it listens. */
export async function startChildBridge(dataDir: string, env: Record<string, string> = {}): Promise<ChildBridge> {
  const proc = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bridge/src/server.ts')], {
    cwd: ROOT,
    env: { ...process.env, PORT: '0', BRIDGE_ANNOUNCE_PORT: '1', BRIDGE_DATA_DIR: dataDir, BRIDGE_TOKEN: TOKEN, BRIDGE_ADMIN_TOKEN: ADMIN, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((ok) => proc.once('exit', (code) => ok(code)));
  let err = '';
  proc.stderr!.on('data', (d) => (err += d));
  const port = await new Promise<number>((ok, fail) => {
    let out = '';
    proc.stdout!.on('data', (d) => {
      out += d;
      const m = /BRIDGE_PORT=(\d+)/.exec(out);
      if (m) ok(Number(m[1]));
    });
    // 'close' comes after stderr is drained ('exit' may come first and cut the message short).
    proc.once('close', (code) => fail(new Error(`bridge exited (${code}) before listening: ${err}`)));
  });
  return { proc, port, url: `http://127.0.0.1:${port}`, wsUrl: `ws://127.0.0.1:${port}/v1/odoo`, exited };
}

/** Starts a bridge that must refuse to start; resolves with why it stopped (a started one is killed and fails the test). */
export async function refusedStartMessage(dataDir: string, env: Record<string, string>): Promise<string> {
  let child: ChildBridge;
  try {
    child = await startChildBridge(dataDir, env);
  } catch (e: any) {
    return String(e.message);
  }
  child.proc.kill('SIGKILL');
  await child.exited;
  throw new Error(`the bridge started with ${JSON.stringify(env)}; it should have refused`);
}
