/**
 * One bridge process per embedded data dir. The lock is a unix-domain socket that the holder keeps
 * bound for as long as it lives: the kernel frees it when the process dies, also by SIGKILL, so a
 * restart after a crash takes it at once, and `bind` is atomic, so of two racing starters exactly one
 * gets it. A second starter connects to it and the holder answers with its pid, for the message.
 *
 * On Linux the socket lives in the abstract namespace (no file is left behind), named after the data
 * dir's device and inode, so two paths to one directory meet. Elsewhere it is a socket file in the data
 * dir; a dead holder's file is detected (nobody answers) and replaced, but two starters racing for a
 * dead holder's file are not told apart there. Abstract sockets belong to a network namespace: two
 * containers sharing one data dir volume must not run a bridge each.
 * The PostgreSQL store does not use this: several replicas share one database on purpose.
 */
import * as nodeNet from 'node:net';
import * as nodeFs from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';

/** The data dir is held by another live process (exit code 2 at start). */
export class DataDirBusyError extends Error {
  readonly exitCode = 2;
  constructor(readonly dir: string, readonly pid: number | undefined) {
    super(`data dir ${dir} is in use by another bridge process (${pid === undefined ? 'pid unknown: it did not answer' : `pid ${pid}`}); `
      + 'stop that process first, or give this one its own BRIDGE_DATA_DIR (one embedded store serves one process)');
    this.name = 'DataDirBusyError';
  }
}

/** A held lock; `release` frees it for the next process (dying frees it too). */
export interface DataDirLock { readonly address: string; release(): Promise<void> }

export interface DataDirLockOptions {
  /** The embedded store's directory (created when missing). */
  dir: string;
  /** Written to a second starter, so its message can name us. */
  pid?: number;
  platform?: NodeJS.Platform;
  /** How long a second starter waits for the holder's answer before saying "pid unknown". */
  answerTimeoutMs?: number;
  net?: Pick<typeof nodeNet, 'createServer' | 'connect'>;
  fs?: Pick<typeof nodeFs, 'mkdirSync' | 'statSync' | 'rmSync'>;
}

/** Takes the data dir's lock or rejects with `DataDirBusyError` naming the holder's pid. */
export async function acquireDataDirLock({
  dir, pid = process.pid, platform = process.platform, answerTimeoutMs = 2000, net = nodeNet, fs = nodeFs,
}: DataDirLockOptions): Promise<DataDirLock> {
  fs.mkdirSync(dir, { recursive: true });
  const abstract = platform === 'linux';
  const address = abstract ? abstractAddress(fs.statSync(dir)) : join(dir, '.bridge.lock.sock');
  const answer = JSON.stringify({ pid, dir }) + '\n';

  const bind = () => new Promise<nodeNet.Server>((ok, fail) => {
    const server = net.createServer((socket) => socket.end(answer));
    server.once('error', fail);
    server.listen(address, () => {
      server.off('error', fail);
      server.on('error', () => {}); // a failed answer to one asker is not our problem
      server.unref(); // the lock never keeps the process alive by itself
      ok(server);
    });
  });

  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const server = await bind();
      return { address, release: () => new Promise<void>((ok) => server.close(() => ok())) };
    } catch (e: any) {
      if (e?.code !== 'EADDRINUSE') throw e;
    }
    const holder = await ask(net, address, answerTimeoutMs);
    if (holder.alive) throw new DataDirBusyError(dir, holder.pid);
    // Nobody answers: a socket file left by a dead holder (removed here), or an abstract socket whose
    // holder died between our bind and our question. Either way the next bind may take it.
    if (!abstract) fs.rmSync(address, { force: true });
  }
  throw new DataDirBusyError(dir, undefined);
}

/** The abstract-namespace name for one directory (the leading NUL makes it abstract). */
function abstractAddress(st: { dev: number | bigint; ino: number | bigint }): string {
  return `\0olb-data-dir-lock/${createHash('sha256').update(`${st.dev}:${st.ino}`).digest('hex').slice(0, 40)}`;
}

/** Asks the holder at `address` who it is; `alive` is false when nobody listens there. */
function ask(net: Pick<typeof nodeNet, 'connect'>, address: string, timeoutMs: number): Promise<{ alive: boolean; pid?: number }> {
  return new Promise((ok) => {
    let text = '';
    let connected = false;
    const socket = net.connect(address);
    const done = (r: { alive: boolean; pid?: number }) => { clearTimeout(timer); socket.destroy(); ok(r); };
    const timer = setTimeout(() => done({ alive: true }), timeoutMs);
    socket.on('connect', () => { connected = true; });
    socket.on('data', (d) => { text += d; });
    socket.on('end', () => {
      let pid: number | undefined;
      try { pid = JSON.parse(text).pid; } catch { /* an answer we do not understand still means alive */ }
      done({ alive: true, pid: Number.isSafeInteger(pid) ? pid : undefined });
    });
    socket.on('error', (e: any) => done({ alive: connected || !(e?.code === 'ECONNREFUSED' || e?.code === 'ENOENT') }));
  });
}
