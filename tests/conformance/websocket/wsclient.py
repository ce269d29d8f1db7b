"""Raw fuzzing WebSocket client: handshake, frame building, a reader thread
recording what the server does, and verdicts (OK / NON-STRICT / FAILED).

Written for squall; follows RFC 6455 and the Autobahn testsuite's
conventions for outcomes, but shares no code with it."""
import base64
import hashlib
import os
import socket
import struct
import threading
import time
import zlib

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

OK, NON_STRICT, FAILED = "OK", "NON-STRICT", "FAILED"


def frame(opcode, payload=b"", fin=True, rsv=0, mask=True, length=None):
    """Encode one client frame. rsv is the 3-bit RSV field (4=RSV1)."""
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    b0 = (0x80 if fin else 0) | ((rsv & 7) << 4) | (opcode & 0xF)
    n = len(payload) if length is None else length
    mbit = 0x80 if mask else 0
    if n < 126:
        head = struct.pack("!BB", b0, mbit | n)
    elif n < 65536:
        head = struct.pack("!BBH", b0, mbit | 126, n)
    else:
        head = struct.pack("!BBQ", b0, mbit | 127, n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + xor_mask(payload, key)


def xor_mask(data, key):
    if not data:
        return b""
    n = len(data)
    k = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "little") ^ int.from_bytes(k, "little")).to_bytes(n, "little")


def close_payload(code=None, reason=b""):
    if code is None:
        return b""
    if isinstance(reason, str):
        reason = reason.encode("utf-8")
    return struct.pack("!H", code) + reason


class Deflater:
    """Client side of permessage-deflate (RFC 7692)."""

    def __init__(self, no_context=False, wbits=15):
        self.no_context = no_context
        self.wbits = wbits
        self.c = None

    def compress(self, data):
        if self.c is None or self.no_context:
            self.c = zlib.compressobj(6, zlib.DEFLATED, -self.wbits)
        out = self.c.compress(data) + self.c.flush(zlib.Z_SYNC_FLUSH)
        assert out.endswith(b"\x00\x00\xff\xff")
        return out[:-4]


class Conn:
    """One connection to the server under test, driven by a case."""

    def __init__(self, host, port, path="/ws", extensions=None, timeout=5.0, early=b""):
        self.host, self.port, self.path = host, port, path
        self.events = []          # ("text"|"binary", bytes) / ("pong", bytes) / ("ping", bytes)
        self.close_code = None    # code of the server's close frame (0 = empty payload)
        self.close_reason = b""
        self.close_frame_at = None
        self.tcp_closed_at = None
        self.sent_close = False
        self.reply_to_close = True  # echo the server's close frame (a case may play deaf)
        self.protocol_errors = []  # what the server did wrong (unmasked ok, bad frames ...)
        self.lock = threading.Lock()
        self.send_lock = threading.Lock()
        self.cv = threading.Condition(self.lock)
        self.extensions_offer = extensions
        self.early = early        # bytes written together with the handshake request
        self.extensions = None   # the server's Sec-WebSocket-Extensions answer
        self.inflater = None
        self.compressed_msgs = 0  # messages the server sent with RSV1 (compressed)
        self.server_no_context = False
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.handshake()
        self.sock.settimeout(None)
        self.reader = threading.Thread(target=self.read_loop, daemon=True)
        self.reader.start()

    # -- handshake ---------------------------------------------------------
    def handshake(self):
        key = base64.b64encode(os.urandom(16))
        req = (b"GET " + self.path.encode() + b" HTTP/1.1\r\n"
               b"Host: " + ("%s:%d" % (self.host, self.port)).encode() + b"\r\n"
               b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
               b"Sec-WebSocket-Key: " + key + b"\r\nSec-WebSocket-Version: 13\r\n")
        if self.extensions_offer:
            req += b"Sec-WebSocket-Extensions: " + self.extensions_offer.encode() + b"\r\n"
        req += b"\r\n"
        self.sock.sendall(req + self.early)
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise IOError("connection closed during handshake")
            buf += chunk
        head, self.rbuf = buf.split(b"\r\n\r\n", 1)
        lines = head.split(b"\r\n")
        if b" 101 " not in lines[0] + b" ":
            raise IOError("handshake refused: %r" % lines[0])
        hdrs = {}
        for line in lines[1:]:
            k, _, v = line.partition(b":")
            hdrs[k.strip().lower()] = v.strip()
        want = base64.b64encode(hashlib.sha1(key + GUID).digest())
        if hdrs.get(b"sec-websocket-accept") != want:
            raise IOError("bad Sec-WebSocket-Accept")
        ext = hdrs.get(b"sec-websocket-extensions")
        if ext:
            self.extensions = ext.decode()
            params = [p.strip() for p in self.extensions.split(";")]
            if params[0] != "permessage-deflate":
                raise IOError("unexpected extension %s" % self.extensions)
            wbits = 15
            for p in params[1:]:
                if p == "server_no_context_takeover":
                    self.server_no_context = True
                elif p.startswith("server_max_window_bits"):
                    wbits = int(p.split("=")[1].strip('"'))
            self.wbits = wbits
            self.inflater = zlib.decompressobj(-max(wbits, 9))

    # -- reading -----------------------------------------------------------
    def _recv_exact(self, n):
        while len(self.rbuf) < n:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise EOFError()
            self.rbuf += chunk
        out, self.rbuf = self.rbuf[:n], self.rbuf[n:]
        return out

    def _event(self, ev):
        with self.cv:
            self.events.append(ev)
            self.cv.notify_all()

    def read_loop(self):
        frag_op, frag, frag_comp = None, [], False
        try:
            while True:
                b0, b1 = self._recv_exact(2)
                fin, rsv, op = b0 & 0x80, (b0 >> 4) & 7, b0 & 0xF
                n = b1 & 0x7F
                if b1 & 0x80:
                    self.protocol_errors.append("server frame masked")
                if n == 126:
                    n = struct.unpack("!H", self._recv_exact(2))[0]
                elif n == 127:
                    n = struct.unpack("!Q", self._recv_exact(8))[0]
                key = self._recv_exact(4) if b1 & 0x80 else None
                data = self._recv_exact(n)
                if key:
                    data = xor_mask(data, key)
                if rsv & 3 or (rsv & 4 and (self.inflater is None or op in (0, 8, 9, 10))):
                    self.protocol_errors.append("server frame with rsv %d" % rsv)
                if op >= 8:
                    if op == 8:
                        with self.cv:
                            self.close_frame_at = time.monotonic()
                            if len(data) >= 2:
                                self.close_code = struct.unpack("!H", data[:2])[0]
                                self.close_reason = data[2:]
                            else:
                                self.close_code = 0
                            self.cv.notify_all()
                        if not self.sent_close and self.reply_to_close:
                            self.send_raw(frame(8, data[:2]), ignore_errors=True)
                            self.sent_close = True
                    elif op == 9:
                        self._event(("ping", data))
                    elif op == 10:
                        self._event(("pong", data))
                    else:
                        self.protocol_errors.append("server sent opcode %d" % op)
                    continue
                if op in (1, 2):
                    frag_op, frag, frag_comp = op, [data], bool(rsv & 4)
                elif op == 0 and frag_op is not None:
                    frag.append(data)
                else:
                    self.protocol_errors.append("server sent opcode %d" % op)
                    continue
                if fin:
                    msg = b"".join(frag)
                    if frag_comp:
                        self.compressed_msgs += 1
                        msg = self.inflater.decompress(msg + b"\x00\x00\xff\xff")
                        if self.server_no_context:
                            self.inflater = zlib.decompressobj(-max(self.wbits, 9))
                    self._event(("text" if frag_op == 1 else "binary", msg))
                    frag_op, frag = None, []
        except (EOFError, OSError):
            pass
        except Exception as e:  # decompression error and the like
            self.protocol_errors.append("client error: %r" % e)
        with self.cv:
            self.tcp_closed_at = time.monotonic()
            self.cv.notify_all()
        try:
            self.sock.close()
        except OSError:
            pass

    # -- writing -----------------------------------------------------------
    def send_raw(self, data, chop=None, delay=0.0, ignore_errors=True):
        with self.send_lock:
            try:
                if not chop:
                    self.sock.sendall(data)
                else:
                    for i in range(0, len(data), chop):
                        self.sock.sendall(data[i:i + chop])
                        if delay:
                            time.sleep(delay)
                return True
            except OSError:
                if not ignore_errors:
                    raise
                return False

    def send(self, opcode, payload=b"", chop=None, delay=0.0, **kw):
        return self.send_raw(frame(opcode, payload, **kw), chop=chop, delay=delay)

    def send_close(self, code=1000, reason=b""):
        self.sent_close = True
        return self.send(8, close_payload(code, reason))

    def closed(self):
        return self.close_frame_at is not None or self.tcp_closed_at is not None

    def wait(self, pred, timeout):
        end = time.monotonic() + timeout
        with self.cv:
            while not pred():
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self.cv.wait(left)
            return True

    def wait_events(self, n, timeout=5.0):
        return self.wait(lambda: len(self.events) >= n or self.tcp_closed_at is not None, timeout)

    def wait_tcp_close(self, timeout=3.0):
        return self.wait(lambda: self.tcp_closed_at is not None, timeout)

    def abort(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            self.sock.close()
        except OSError:
            pass
