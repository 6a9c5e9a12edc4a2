/** Wires a whole bridge (store, app, socket) on one port; used by server.ts, tests and the benchmark. */
import { serve } from '@hono/node-server';
import type { Server } from 'node:http';
import type { Hono } from 'hono';
import { createApp } from './app.ts';
import { createOdooRpcServer } from './ingest/publish.ts';
import { attachOdooSocket } from './routes/odoo-socket.ts';
import type { Logger } from './log.ts';
import type { Store } from './store/types.ts';

export const VERSION = '0.1.0';

export interface BridgeOptions {
  store: Store;
  token: string;
  adminToken: string;
  logger: Logger;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  maxFrameBytes?: number;
  publicRoutes?: { path: string; app: Hono }[];
  adminRoutes?: Hono[];
}

export interface RunningBridge {
  port: number;
  url: string;
  server: Server;
  /** Stops accepting, closes sockets and the HTTP server (the store is the caller's). */
  close(): Promise<void>;
}

/** Opens the store if needed and listens; resolves once the port is bound. */
export async function startBridge(o: BridgeOptions): Promise<RunningBridge> {
  if (!o.store.isOpen) await o.store.open();
  const app = createApp({ store: o.store, adminToken: o.adminToken, logger: o.logger, version: VERSION, publicRoutes: o.publicRoutes, adminRoutes: o.adminRoutes });
  const host = o.host ?? '127.0.0.1';
  const server = serve({ fetch: app.fetch, hostname: host, port: o.port ?? 8787 }) as Server;
  const closeSocket = attachOdooSocket(server, { token: o.token, rpc: createOdooRpcServer(o.store), logger: o.logger, maxFrameBytes: o.maxFrameBytes });
  await new Promise<void>((ok, fail) => {
    if (server.listening) return ok();
    server.once('listening', ok);
    server.once('error', fail);
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : (o.port ?? 8787);
  return {
    port,
    url: `http://${host}:${port}`,
    server,
    async close() {
      await closeSocket();
      server.closeAllConnections?.();
      await new Promise<void>((ok) => server.close(() => ok()));
    },
  };
}
