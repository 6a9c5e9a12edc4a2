/** The websocket Odoo publishes events on: bearer auth before the upgrade, JSON-RPC on frames. */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { JSONRPCServer } from 'json-rpc-2.0';
import { answerFrame } from '../rpc/router.ts';
import { sameSecret } from '../secrets.ts';
import type { Logger } from '../log.ts';

export const ODOO_SOCKET_PATH = '/v1/odoo';

export interface OdooSocketOptions {
  token: string;
  rpc: JSONRPCServer;
  logger: Logger;
  /** Frames larger than this close the socket with 1009. Default 1 MiB. */
  maxFrameBytes?: number;
  /** Ping interval; a peer that misses one is dropped. Default 30 s. */
  heartbeatMs?: number;
}

/** Takes over HTTP upgrades on `server` for the Odoo socket; returns a function that closes it. */
export function attachOdooSocket(server: Server, options: OdooSocketOptions): () => Promise<void> {
  const { token, rpc, logger, maxFrameBytes = 1 << 20, heartbeatMs = 30_000 } = options;
  const wss = new WebSocketServer({ noServer: true, maxPayload: maxFrameBytes });
  const alive = new WeakMap<WebSocket, boolean>();

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://bridge');
    if (url.pathname !== ODOO_SOCKET_PATH) return refuse(socket, 404, 'Not Found', 'no websocket at this path; use /v1/odoo');
    const auth = req.headers.authorization ?? '';
    const given = /^Bearer (.+)$/i.exec(auth)?.[1];
    if (!given || !sameSecret(given, token)) {
      logger.warn({ remote: req.socket.remoteAddress, reason: given ? 'wrong token' : 'no bearer token' }, 'odoo socket refused');
      return refuse(socket, 401, 'Unauthorized', 'send Authorization: Bearer <BRIDGE_TOKEN>');
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });

  wss.on('connection', (ws: WebSocket, req: IncomingMessage) => {
    const peer = `${req.socket.remoteAddress}:${req.socket.remotePort}`;
    logger.info({ peer }, 'odoo connected');
    alive.set(ws, true);
    ws.on('pong', () => alive.set(ws, true));
    ws.on('message', (data, isBinary) => {
      if (isBinary) return ws.close(1003, 'send JSON-RPC as text frames');
      // The bytes, not a string: the ingest stores each event as the bytes it came in.
      answerFrame(rpc, frameBytes(data), undefined)
        .then((reply) => { if (reply !== undefined && ws.readyState === ws.OPEN) ws.send(reply); })
        .catch((e) => logger.error({ err: e, peer }, 'frame handling failed'));
    });
    ws.on('error', (e) => logger.warn({ err: e.message, peer }, 'odoo socket error'));
    ws.on('close', (code) => logger.info({ peer, code }, 'odoo disconnected'));
  });

  const beat = setInterval(() => {
    for (const ws of wss.clients) {
      if (!alive.get(ws)) { ws.terminate(); continue; }
      alive.set(ws, false);
      ws.ping();
    }
  }, heartbeatMs);
  beat.unref();

  return () => new Promise<void>((resolve) => {
    clearInterval(beat);
    for (const ws of wss.clients) ws.close(1001, 'bridge shutting down');
    wss.close(() => resolve());
  });
}

/** A text message's bytes: ws hands a Buffer (its default binaryType), or fragments to join. */
function frameBytes(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  return Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
}

function refuse(socket: Duplex, status: number, reason: string, message: string) {
  const body = JSON.stringify({ error: { code: reason.toLowerCase().replace(/ /g, '_'), message } });
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}
