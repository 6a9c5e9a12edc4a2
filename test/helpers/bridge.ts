/** Starts an in-process bridge on a free port, and a tiny JSON-RPC websocket client for tests. */
import { WebSocket } from 'ws';
import { Writable } from 'node:stream';
import { startBridge, type RunningBridge } from '../../bridge/src/bridge.ts';
import { createLogger } from '../../bridge/src/log.ts';
import { createMemoryStore } from '../../bridge/src/store/memory.ts';
import type { Store } from '../../bridge/src/store/types.ts';

export const TOKEN = 'test-socket-token-0123456789abcdef';
export const ADMIN = 'test-admin-token-0123456789abcdef';

/** Everything the logger wrote, for assertions about what is (not) logged. */
export function captureLogs() {
  const lines: string[] = [];
  const destination = new Writable({ write(chunk, _e, cb) { lines.push(...String(chunk).split('\n').filter(Boolean)); cb(); } });
  return { logger: createLogger({ level: 'debug', destination: destination as any }), lines };
}

export async function testBridge(o: { store?: Store; maxFrameBytes?: number } = {}) {
  const store = o.store ?? createMemoryStore();
  const logs = captureLogs();
  const bridge: RunningBridge = await startBridge({ store, token: TOKEN, adminToken: ADMIN, logger: logs.logger, port: 0, maxFrameBytes: o.maxFrameBytes });
  return {
    store, bridge, logs,
    wsUrl: `ws://127.0.0.1:${bridge.port}/v1/odoo`,
    admin: (path: string, init: RequestInit = {}) => fetch(`${bridge.url}${path}`, { ...init, headers: { authorization: `Bearer ${ADMIN}`, ...init.headers } }),
    async close() { await bridge.close(); await store.close(); },
  };
}

/** Connects with the token; `call` sends a frame and resolves with the next reply frame. */
export async function connect(url: string, token = TOKEN) {
  const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` } });
  await new Promise<void>((ok, fail) => { ws.once('open', () => ok()); ws.once('error', fail); });
  const replies: string[] = [];
  const waiters: ((s: string) => void)[] = [];
  ws.on('message', (d) => { const s = d.toString(); const w = waiters.shift(); w ? w(s) : replies.push(s); });
  let id = 0;
  const next = () => new Promise<string>((ok) => { const r = replies.shift(); r !== undefined ? ok(r) : waiters.push(ok); });
  return {
    ws,
    async raw(frame: string): Promise<any> { ws.send(frame); return JSON.parse(await next()); },
    async publish(events: unknown[]): Promise<any> {
      const reply = await this.raw(JSON.stringify({ jsonrpc: '2.0', id: ++id, method: 'events.publish', params: { events } }));
      if (reply.error) throw Object.assign(new Error(reply.error.message), { rpc: reply.error });
      return reply.result;
    },
    close: () => new Promise<void>((ok) => { ws.once('close', () => ok()); ws.close(); }),
  };
}

/** Resolves with the HTTP status the server answered an upgrade with (e.g. 401). */
export function upgradeStatus(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((ok) => {
    const ws = new WebSocket(url, { headers });
    ws.once('unexpected-response', (_req, res) => { ok(res.statusCode ?? 0); res.resume(); });
    ws.once('open', () => { ws.close(); ok(101); });
    ws.once('error', () => {});
  });
}
