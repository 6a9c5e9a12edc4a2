// The ceiling: a bare `ws` server that answers each frame with a small ack and does nothing else.
import { WebSocketServer } from 'ws';
const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: 4 << 20 });
wss.on('listening', () => console.log(`RAW_PORT=${wss.address().port}`));
wss.on('connection', (ws) => ws.on('message', (d) => ws.send('{"jsonrpc":"2.0","id":0,"result":{"ok":true}}')));
