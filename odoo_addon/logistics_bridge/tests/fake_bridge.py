"""A tiny websocket server standing in for the bridge in tests (stdlib only, RFC 6455 subset).

``FakeBridge(handler)``: ``handler(request, bridge)`` gets each JSON-RPC request and returns the
answer dict, or ``None`` to drop the connection without answering (a bridge dying mid-batch).
"""
import base64
import hashlib
import json
import socket
import struct
import threading

GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11'


def ack_all(request, bridge):
    """Default handler: every event accepted."""
    return {'jsonrpc': '2.0', 'id': request['id'],
            'result': {'accepted': [e['id'] for e in request['params']['events']], 'duplicates': [], 'rejected': []}}


class FakeBridge:
    def __init__(self, handler=ack_all, token=None):
        self.handler = handler
        self.token = token
        self.requests = []
        self.headers = []
        self.connections = 0
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(('127.0.0.1', 0))
        self._sock.listen(8)
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self.url = f'ws://127.0.0.1:{self.port}/v1/odoo'
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(5)
        self._sock.close()

    @property
    def events(self):
        return [e for r in self.requests for e in r['params']['events']]

    # -- server -------------------------------------------------------------------------------

    def _serve(self):
        while not self._stop.is_set():
            try:
                conn, _addr = self._sock.accept()
            except (socket.timeout, OSError):
                continue
            conn.settimeout(5)
            try:
                self._session(conn)
            except (OSError, ValueError):
                pass
            finally:
                conn.close()

    def _session(self, conn):
        data = b''
        while b'\r\n\r\n' not in data:
            chunk = conn.recv(4096)
            if not chunk:
                return
            data += chunk
        head = data.split(b'\r\n\r\n', 1)[0].decode('latin-1').split('\r\n')
        headers = {k.strip().lower(): v.strip() for k, v in (line.split(':', 1) for line in head[1:] if ':' in line)}
        self.headers.append(headers)
        self.connections += 1
        if self.token is not None and headers.get('authorization') != f'Bearer {self.token}':
            conn.sendall(b'HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n')
            return
        accept = base64.b64encode(hashlib.sha1((headers['sec-websocket-key'] + GUID).encode()).digest()).decode()
        conn.sendall(('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
                      f'Sec-WebSocket-Accept: {accept}\r\n\r\n').encode())
        while not self._stop.is_set():
            opcode, payload = self._read_frame(conn)
            if opcode is None or opcode == 8:
                return
            if opcode == 9:
                self._send(conn, payload, opcode=10)
                continue
            if opcode != 1:
                continue
            request = json.loads(payload.decode())
            self.requests.append(request)
            answer = self.handler(request, self)
            if answer is None:
                return  # drop the connection without answering
            self._send(conn, json.dumps(answer).encode())

    @staticmethod
    def _recv_exact(conn, n):
        buf = b''
        while len(buf) < n:
            chunk = conn.recv(n - len(buf))
            if not chunk:
                raise OSError('closed')
            buf += chunk
        return buf

    def _read_frame(self, conn):
        try:
            b1, b2 = self._recv_exact(conn, 2)
        except OSError:
            return None, b''
        opcode = b1 & 0x0F
        length = b2 & 0x7F
        if length == 126:
            length = struct.unpack('!H', self._recv_exact(conn, 2))[0]
        elif length == 127:
            length = struct.unpack('!Q', self._recv_exact(conn, 8))[0]
        mask = self._recv_exact(conn, 4) if b2 & 0x80 else b'\0\0\0\0'
        payload = bytearray(self._recv_exact(conn, length))
        for i in range(length):
            payload[i] ^= mask[i % 4]
        return opcode, bytes(payload)

    @staticmethod
    def _send(conn, payload, opcode=1):
        header = bytes([0x80 | opcode])
        n = len(payload)
        if n < 126:
            header += bytes([n])
        elif n < 65536:
            header += bytes([126]) + struct.pack('!H', n)
        else:
            header += bytes([127]) + struct.pack('!Q', n)
        conn.sendall(header + payload)
