/** Wires a whole bridge (store, app, socket) on one port; used by server.ts, tests and the benchmark. */
import { serve } from '@hono/node-server';
import type { Server } from 'node:http';
import type { Hono } from 'hono';
import { createApp } from './app.ts';
import { createOdooRpcServer, type PublishObserver } from './ingest/publish.ts';
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
  /**
   * Builds what needs the bridge's own origin (demo simulators, webhook URLs): called once the
   * port is bound, before any request is served (until then requests get 503).
   */
  extend?: (origin: string) => Promise<Extension> | Extension;
}

/** Routes and a shutdown hook contributed by `extend`. */
export interface Extension {
  publicRoutes?: { path: string; app: Hono }[];
  adminRoutes?: Hono[];
  /** Named operators with roles (the configuration's `operators`). */
  operators?: { name: string; role: 'viewer' | 'operator' | 'admin'; token: string }[];
  /** Runs on close, before the HTTP server stops (engine, simulators). */
  close?: () => Promise<void>;
  /** Hears every answered events.publish batch (metrics). */
  observePublish?: PublishObserver;
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
  const host = o.host ?? '127.0.0.1';
  let handle: (req: Request) => Response | Promise<Response> = () =>
    new Response(JSON.stringify({ error: { code: 'starting', message: 'the bridge is starting; retry in a moment' } }), { status: 503, headers: { 'content-type': 'application/json' } });
  const server = serve({ fetch: (req) => handle(req), hostname: host, port: o.port ?? 8787 }) as Server;
  await new Promise<void>((ok, fail) => {
    if (server.listening) return ok();
    server.once('listening', ok);
    server.once('error', fail);
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : (o.port ?? 8787);
  const url = `http://${host}:${port}`;
  const ext = o.extend ? await o.extend(url) : {};
  const app = createApp({
    store: o.store, adminToken: o.adminToken, logger: o.logger, version: VERSION,
    publicRoutes: [...(o.publicRoutes ?? []), ...(ext.publicRoutes ?? [])],
    adminRoutes: [...(o.adminRoutes ?? []), ...(ext.adminRoutes ?? [])],
    operators: ext.operators,
  });
  handle = app.fetch;
  const closeSocket = attachOdooSocket(server, { token: o.token, rpc: createOdooRpcServer(o.store, ext.observePublish), logger: o.logger, maxFrameBytes: o.maxFrameBytes });
  return {
    port,
    url,
    server,
    async close() {
      await closeSocket();
      await ext.close?.();
      server.closeAllConnections?.();
      await new Promise<void>((ok) => server.close(() => ok()));
    },
  };
}
