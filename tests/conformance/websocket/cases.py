"""The case list: categories 1-7, 9, 10 (and 12/13 permessage-deflate) of the
Autobahn testsuite, re-implemented for squall.  Each case is a Case with a
`steps(conn)` function sending bytes, the messages/pongs the server must
produce, and how the server must end the connection."""
import os
import time

from wsclient import frame, close_payload, Deflater

TEXT, BINARY, CLOSE, PING, PONG, CONT = 1, 2, 8, 9, 10, 0

CASES = []


class Case:
    def __init__(self, cid, desc, steps, expect=(), fail=False, codes=(1000,),
                 closes=False, fail_fast=False, timeout=5.0, extensions=None, early=b"", tolerated=None,
                 deaf=False, abrupt=False):
        self.id, self.desc, self.steps = cid, desc, steps
        self.expect = list(expect)
        self.fail = fail                    # a protocol violation: the server must close
        self.codes = tuple(codes)           # acceptable close codes from the server
        self.closes = closes                # steps send the client's close frame themselves
        self.fail_fast = fail_fast          # close must arrive before conn.last_part_at
        self.timeout = timeout
        self.extensions = extensions        # Sec-WebSocket-Extensions offer
        self.early = early                  # frames sent in the same write as the handshake
        self.tolerated = tolerated          # events of a lax but acceptable server (NON-STRICT)
        self.deaf = deaf                    # never answer the server's close: it must time out
        self.abrupt = abrupt                # the client vanishes; the server must stay healthy
        self.category = int(cid.split(".")[0])

    def key(self):
        return tuple(int(x) for x in self.id.split("."))


def add(*a, **kw):
    CASES.append(Case(*a, **kw))


def seq(*actions):
    """Steps from a list of (opcode, payload, kwargs) / ('sleep', s) items."""
    def steps(c):
        for a in actions:
            if a[0] == "sleep":
                time.sleep(a[1])
            elif a[0] == "raw":
                c.send_raw(a[1], **(a[2] if len(a) > 2 else {}))
            else:
                op, payload = a[0], a[1]
                kw = a[2] if len(a) > 2 else {}
                c.send(op, payload, **kw)
    return steps


def T(s):
    return ("text", s.encode() if isinstance(s, str) else s)


def B(b):
    return ("binary", b)


def P(b):
    return ("pong", b)


def payload(n, seed=b"*"):
    return (seed * (n // len(seed) + 1))[:n]


# ---------------------------------------------------------------- 1 framing
def cat1():
    sizes = [0, 125, 126, 127, 128, 65535, 65536]
    for sub, (op, mk) in enumerate([(TEXT, T), (BINARY, B)], 1):
        data = b"*" if op == TEXT else b"\xfe"
        for i, n in enumerate(sizes, 1):
            p = payload(n, data)
            add("1.%d.%d" % (sub, i), "%s message, %d bytes" % ("text" if op == TEXT else "binary", n),
                seq((op, p)), [mk(p)])
        p = payload(65536, data)
        add("1.%d.8" % sub, "%s message, 65536 bytes, sent in 997-byte chops" % ("text" if op == TEXT else "binary"),
            seq((op, p, {"chop": 997})), [mk(p)])
    # 1.3: squall's own framing cases (not in Autobahn)
    hi = b"Hello, world!"
    add("1.3.1", "unmasked text frame from the client", seq((TEXT, hi, {"mask": False})), fail=True, codes=(1002,))
    add("1.3.2", "64-bit length with the most significant bit set",
        seq(("raw", bytes([0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 1]) + os.urandom(4))), fail=True, codes=(1002, 1009))
    for i, n in enumerate((125, 126, 65535, 65536), 3):
        p = payload(n, b"\xfe")
        f = frame(BINARY, p)
        hl = len(f) - n
        add("1.3.%d" % i, "binary of %d bytes, its %d-byte header written byte by byte" % (n, hl),
            seq(("raw", f[:hl], {"chop": 1, "delay": 0.002}), ("raw", f[hl:])), [B(p)])
    add("1.3.7", "text frame in the same TCP write as the handshake request", seq(), [T(hi)],
        early=frame(TEXT, hi))
    add("1.3.8", "three frames in the same TCP write as the handshake request", seq(), [T(hi), B(b"\x00\x01"), T(b"3")],
        early=frame(TEXT, hi) + frame(BINARY, b"\x00\x01") + frame(TEXT, b"3"))
    add("1.3.9", "100 small messages in one TCP write", seq(("raw", b"".join(frame(TEXT, b"m%d" % k) for k in range(100)))),
        [T(b"m%d" % k) for k in range(100)])


# ---------------------------------------------------------------- 2 ping/pong
def cat2():
    add("2.1", "ping, empty payload", seq((PING, b"")), [P(b"")])
    add("2.2", "ping, small text payload", seq((PING, b"Hello, world!")), [P(b"Hello, world!")])
    bp = bytes([0x00, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0x00, 0xff])
    add("2.3", "ping, small binary payload", seq((PING, bp)), [P(bp)])
    add("2.4", "ping, 125-byte binary payload", seq((PING, payload(125, b"\xfe"))), [P(payload(125, b"\xfe"))])
    add("2.5", "ping, 126-byte payload (over the control-frame limit)", seq((PING, payload(126, b"\xfe"))),
        fail=True, codes=(1002,))
    add("2.6", "ping, 125-byte payload, sent in 1-byte chops", seq((PING, payload(125, b"\xfe"), {"chop": 1, "delay": 0.001})),
        [P(payload(125, b"\xfe"))])
    add("2.12", "close frame without FIN (fragmented close)", seq((CLOSE, close_payload(1000), {"fin": False})),
        fail=True, codes=(1002,), closes=True)
    add("2.13", "ping with a 127-style 64-bit length of 5 bytes",
        seq(("raw", bytes([0x89, 0xFF, 0, 0, 0, 0, 0, 0, 0, 5]) + bytes(4) + b"hello")), fail=True, codes=(1002,),
        tolerated=[P(b"hello")])
    add("2.7", "unsolicited pong, empty payload", seq((PONG, b"")), [])
    add("2.8", "unsolicited pong, payload", seq((PONG, b"unsolicited pong payload")), [])
    add("2.9", "unsolicited pong, then ping", seq((PONG, b"unsolicited pong payload"), (PING, b"ping payload")),
        [P(b"ping payload")])
    pings = [(PING, b"payload-%d" % i) for i in range(10)]
    add("2.10", "10 pings", seq(*pings), [P(b"payload-%d" % i) for i in range(10)])
    add("2.11", "10 pings, each in 1-byte chops", seq(*[(o, p, {"chop": 1, "delay": 0.0005}) for o, p in pings]),
        [P(b"payload-%d" % i) for i in range(10)])


# ---------------------------------------------------------------- 3 reserved bits
def cat3():
    hi = b"Hello, world!"
    add("3.1", "text with RSV1 (no extension)", seq((TEXT, hi, {"rsv": 4})), fail=True, codes=(1002,))
    add("3.2", "text, text with RSV2, ping", seq((TEXT, hi), (TEXT, hi, {"rsv": 2}), (PING, b"")), [T(hi)],
        fail=True, codes=(1002,))
    add("3.3", "text, text with RSV1+RSV2, ping, chopped", seq((TEXT, hi, {"chop": 1}), (TEXT, hi, {"rsv": 6, "chop": 1}),
        (PING, b"", {"chop": 1})), [T(hi)], fail=True, codes=(1002,))
    add("3.4", "text, text with RSV3, ping, 1-byte chops with delays", seq((TEXT, hi, {"chop": 1, "delay": 0.001}),
        (TEXT, hi, {"rsv": 1, "chop": 1, "delay": 0.001}), (PING, b"", {"chop": 1, "delay": 0.001})), [T(hi)],
        fail=True, codes=(1002,))
    add("3.5", "binary with RSV1+RSV3", seq((BINARY, b"\x00\xff\xfe\xfd", {"rsv": 5})), fail=True, codes=(1002,))
    add("3.6", "ping with RSV2+RSV3", seq((PING, hi, {"rsv": 3})), fail=True, codes=(1002,))
    add("3.7", "close with RSV1+RSV2+RSV3", seq((CLOSE, close_payload(1000), {"rsv": 7})), fail=True, codes=(1002,))


# ---------------------------------------------------------------- 4 opcodes
def cat4():
    hi = b"Hello, world!"
    for sub, ops in ((1, (3, 4, 5, 6, 7)), (2, (11, 12, 13, 14, 15))):
        kind = "data" if sub == 1 else "control"
        add("4.%d.1" % sub, "reserved %s opcode %d, empty" % (kind, ops[0]), seq((ops[0], b"")), fail=True, codes=(1002,))
        add("4.%d.2" % sub, "reserved %s opcode %d, payload" % (kind, ops[1]), seq((ops[1], b"reserved opcode payload")),
            fail=True, codes=(1002,))
        add("4.%d.3" % sub, "text, reserved opcode %d, ping" % ops[2], seq((TEXT, hi), (ops[2], b""), (PING, b"")),
            [T(hi)], fail=True, codes=(1002,))
        add("4.%d.4" % sub, "text, reserved opcode %d with payload, ping" % ops[3],
            seq((TEXT, hi), (ops[3], b"reserved opcode payload"), (PING, b"")), [T(hi)], fail=True, codes=(1002,))
        add("4.%d.5" % sub, "text, reserved opcode %d with payload, ping, 1-byte chops" % ops[4],
            seq((TEXT, hi, {"chop": 1}), (ops[4], b"reserved opcode payload", {"chop": 1}), (PING, b"", {"chop": 1})),
            [T(hi)], fail=True, codes=(1002,))


# ---------------------------------------------------------------- 5 fragmentation
def cat5():
    f1, f2 = b"fragment1", b"fragment2"
    add("5.1", "ping in 2 fragments", seq((PING, f1, {"fin": False}), (CONT, f2)), fail=True, codes=(1002,))
    add("5.2", "pong in 2 fragments", seq((PONG, f1, {"fin": False}), (CONT, f2)), fail=True, codes=(1002,))
    add("5.3", "text in 2 fragments", seq((TEXT, f1, {"fin": False}), (CONT, f2)), [T(f1 + f2)])
    add("5.4", "text in 2 fragments, with a pause", seq((TEXT, f1, {"fin": False}), ("sleep", 0.1), (CONT, f2)),
        [T(f1 + f2)])
    add("5.5", "text in 2 fragments, 1-byte chops", seq((TEXT, f1, {"fin": False, "chop": 1, "delay": 0.001}),
        (CONT, f2, {"chop": 1, "delay": 0.001})), [T(f1 + f2)])
    add("5.6", "text in 2 fragments, ping in between", seq((TEXT, f1, {"fin": False}), (PING, b"ping"), (CONT, f2)),
        [P(b"ping"), T(f1 + f2)])
    add("5.7", "text in 2 fragments, ping in between, with pauses", seq((TEXT, f1, {"fin": False}), ("sleep", 0.1),
        (PING, b"ping"), ("sleep", 0.1), (CONT, f2)), [P(b"ping"), T(f1 + f2)])
    add("5.8", "text in 2 fragments, ping in between, 1-byte chops", seq((TEXT, f1, {"fin": False, "chop": 1, "delay": 0.001}),
        (PING, b"ping", {"chop": 1, "delay": 0.001}), (CONT, f2, {"chop": 1, "delay": 0.001})), [P(b"ping"), T(f1 + f2)])
    # continuation without a message started
    n = 9
    for fin in (True, False):
        for mode in ("", "pause", "chop"):
            kw = {"fin": fin}
            if mode == "chop":
                kw.update(chop=1, delay=0.001)
            acts = [(CONT, b"non-continuation payload", kw)]
            if mode == "pause":
                acts.insert(0, ("sleep", 0.05))
            acts += [(TEXT, b"Hello, world!")]
            add("5.%d" % n, "continuation (fin=%d) without a message started%s" % (fin, ", " + mode if mode else ""),
                seq(*acts), fail=True, codes=(1002,))
            n += 1
    # n == 15
    add("5.15", "text fragments; a continuation after the final one; a new text",
        seq((TEXT, f1, {"fin": False}), (CONT, f2), (CONT, b"fragment3", {"fin": False}), (TEXT, b"fragment4")),
        [T(f1 + f2)], fail=True, codes=(1002,))
    acts = [(CONT, f1, {"fin": False}), (CONT, f2), (TEXT, b"fragment3", {"fin": False}), (CONT, b"fragment4")]
    add("5.16", "continuation, continuation(fin), text, continuation(fin), twice", seq(*(acts + acts)),
        fail=True, codes=(1002,))
    acts = [(CONT, f1), (CONT, f2), (TEXT, b"fragment3", {"fin": False}), (CONT, b"fragment4")]
    add("5.17", "continuation(fin), continuation(fin), text, continuation(fin), twice", seq(*(acts + acts)),
        fail=True, codes=(1002,))
    add("5.18", "text (no fin), then a new text instead of a continuation", seq((TEXT, f1, {"fin": False}), (TEXT, f2)),
        fail=True, codes=(1002,))
    acts = [(TEXT, b"fragment1", {"fin": False}), ("sleep", 0.05), (CONT, b"fragment2", {"fin": False}), ("sleep", 0.05),
            (PING, b"pongme 1!"), ("sleep", 0.05), (CONT, b"fragment3", {"fin": False}), ("sleep", 0.05),
            (CONT, b"fragment4", {"fin": False}), ("sleep", 0.05), (PING, b"pongme 2!"), ("sleep", 0.05),
            (CONT, b"fragment5")]
    add("5.19", "text in 5 fragments, 2 pings interleaved, pauses", seq(*acts),
        [P(b"pongme 1!"), P(b"pongme 2!"), T(b"fragment1fragment2fragment3fragment4fragment5")])
    acts2 = [a if a[0] == "sleep" else (a[0], a[1], dict(a[2] if len(a) > 2 else {}, chop=1, delay=0.0005)) for a in acts]
    add("5.20", "text in 5 fragments, 2 pings interleaved, 1-byte chops", seq(*acts2),
        [P(b"pongme 1!"), P(b"pongme 2!"), T(b"fragment1fragment2fragment3fragment4fragment5")])


# ---------------------------------------------------------------- 6 UTF-8
def valid_utf8(b):
    try:
        b.decode("utf-8", "strict")
        return True
    except UnicodeDecodeError:
        return False


def utf8_case(cid, desc, data, fragmented=False):
    ok = valid_utf8(data)
    if fragmented:
        acts = [(TEXT if i == 0 else CONT, data[i:i + 1], {"fin": i == len(data) - 1}) for i in range(len(data))]
        steps = seq(*acts) if data else seq((TEXT, b""))
    else:
        steps = seq((TEXT, data))
    if ok:
        add(cid, desc, steps, [T(data)])
    else:
        add(cid, desc, steps, fail=True, codes=(1007,))


def fail_fast_steps(parts, pause=0.5):
    """Send a fragmented text message whose second fragment is invalid; the
    server should close before the last fragment is sent."""
    def steps(c):
        for i, p in enumerate(parts):
            last = i == len(parts) - 1
            if last:
                c.last_part_at = time.monotonic()
            c.send(TEXT if i == 0 else CONT, p, fin=last)
            if not last:
                time.sleep(pause)
    return steps


def kuhn_sequences():
    """Markus Kuhn's UTF-8 decoder stress test, as (description, bytes)."""
    s = []
    s.append(("kosme", "κόσμε".encode()))
    # first/last possible sequence of each length; other boundaries
    for b in (b"\x00", b"\xc2\x80", b"\xe0\xa0\x80", b"\xf0\x90\x80\x80"):
        s.append(("first possible sequence of %d bytes" % len(b), b))
    s.append(("first 5-byte sequence", b"\xf8\x88\x80\x80\x80"))
    s.append(("first 6-byte sequence", b"\xfc\x84\x80\x80\x80\x80"))
    for b in (b"\x7f", b"\xdf\xbf", b"\xef\xbf\xbf", b"\xf7\xbf\xbf\xbf"):
        s.append(("last possible sequence of %d bytes" % len(b), b))
    s.append(("last 5-byte sequence", b"\xfb\xbf\xbf\xbf\xbf"))
    s.append(("last 6-byte sequence", b"\xfd\xbf\xbf\xbf\xbf\xbf"))
    for b in (b"\xed\x9f\xbf", b"\xee\x80\x80", b"\xef\xbf\xbd", b"\xf4\x8f\xbf\xbf", b"\xf4\x90\x80\x80"):
        s.append(("boundary %s" % b.hex(), b))
    # unexpected continuation bytes
    for b in (b"\x80", b"\xbf", b"\x80\xbf", b"\x80\xbf\x80", b"\x80\xbf\x80\xbf", b"\x80\xbf\x80\xbf\x80",
              b"\x80\xbf\x80\xbf\x80\xbf", b"\x80\xbf\x80\xbf\x80\xbf\x80", bytes(range(0x80, 0xc0))):
        s.append(("continuation bytes %s" % b[:8].hex(), b))
    # lonely start characters
    for lo, hi in ((0xc0, 0xe0), (0xe0, 0xf0), (0xf0, 0xf8), (0xf8, 0xfc), (0xfc, 0xfe)):
        s.append(("lonely start bytes %02x-%02x followed by spaces" % (lo, hi - 1),
                  b"".join(bytes([x]) + b"\x20" for x in range(lo, hi))))
    # sequences with the last continuation byte missing
    for b in (b"\xc0", b"\xe0\x80", b"\xf0\x80\x80", b"\xf8\x80\x80\x80", b"\xfc\x80\x80\x80\x80",
              b"\xdf", b"\xef\xbf", b"\xf7\xbf\xbf", b"\xfb\xbf\xbf\xbf", b"\xfd\xbf\xbf\xbf\xbf"):
        s.append(("incomplete sequence %s" % b.hex(), b))
    s.append(("all incomplete sequences concatenated", b"\xc0\xe0\x80\xf0\x80\x80\xf8\x80\x80\x80\xfc\x80\x80\x80\x80"
              b"\xdf\xef\xbf\xf7\xbf\xbf\xfb\xbf\xbf\xbf\xfd\xbf\xbf\xbf\xbf"))
    for b in (b"\xfe", b"\xff", b"\xfe\xfe\xff\xff"):
        s.append(("impossible bytes %s" % b.hex(), b))
    # overlong
    for b in (b"\xc0\xaf", b"\xe0\x80\xaf", b"\xf0\x80\x80\xaf", b"\xf8\x80\x80\x80\xaf", b"\xfc\x80\x80\x80\x80\xaf",
              b"\xc1\xbf", b"\xe0\x9f\xbf", b"\xf0\x8f\xbf\xbf", b"\xf8\x87\xbf\xbf\xbf", b"\xfc\x83\xbf\xbf\xbf\xbf",
              b"\xc0\x80", b"\xe0\x80\x80", b"\xf0\x80\x80\x80", b"\xf8\x80\x80\x80\x80", b"\xfc\x80\x80\x80\x80\x80"):
        s.append(("overlong %s" % b.hex(), b))
    # surrogates
    for b in (b"\xed\xa0\x80", b"\xed\xad\xbf", b"\xed\xae\x80", b"\xed\xaf\xbf", b"\xed\xb0\x80", b"\xed\xbe\x80",
              b"\xed\xbf\xbf", b"\xed\xa0\x80\xed\xb0\x80", b"\xed\xa0\x80\xed\xbf\xbf", b"\xed\xad\xbf\xed\xb0\x80",
              b"\xed\xad\xbf\xed\xbf\xbf", b"\xed\xae\x80\xed\xb0\x80", b"\xed\xae\x80\xed\xbf\xbf",
              b"\xed\xaf\xbf\xed\xb0\x80", b"\xed\xaf\xbf\xed\xbf\xbf"):
        s.append(("surrogate %s" % b.hex(), b))
    # noncharacters: valid UTF-8, must be accepted
    for b in (b"\xef\xbf\xbe", b"\xef\xbf\xbf", b"\xef\xb7\x90", b"\xef\xb7\xaf", b"\xf0\x9f\xbf\xbe",
              b"\xf0\x9f\xbf\xbf", b"\xf4\x8f\xbf\xbe", b"\xf4\x8f\xbf\xbf"):
        s.append(("noncharacter %s" % b.hex(), b))
    return s


def cat6():
    add("6.1.1", "empty text", seq((TEXT, b"")), [T(b"")])
    add("6.1.2", "empty text in 3 empty fragments", seq((TEXT, b"", {"fin": False}), (CONT, b"", {"fin": False}), (CONT, b"")),
        [T(b"")])
    add("6.1.3", "text: empty, non-empty, empty fragments", seq((TEXT, b"", {"fin": False}), (CONT, b"middle", {"fin": False}),
        (CONT, b"")), [T(b"middle")])
    hello = "Hello-µ@ßöäüàá-UTF-8!!".encode()
    utf8_case("6.2.1", "valid UTF-8 in one frame", hello)
    half = 12
    add("6.2.2", "valid UTF-8 in 2 fragments, split inside a code point",
        seq((TEXT, hello[:half], {"fin": False}), (CONT, hello[half:])), [T(hello)])
    utf8_case("6.2.3", "valid UTF-8, one byte per fragment", hello, fragmented=True)
    pile = "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5".encode("latin-1")
    utf8_case("6.2.4", "valid UTF-8 (kosme), one byte per fragment", pile, fragmented=True)
    bad = "κόσμε".encode() + b"\xed\xa0\x80" + b"edited"
    utf8_case("6.3.1", "invalid UTF-8 in one frame", bad)
    utf8_case("6.3.2", "invalid UTF-8, one byte per fragment", bad, fragmented=True)
    # fail fast
    k = "κόσμε".encode()
    add("6.4.1", "fail fast: invalid code point in the 2nd of 3 fragments",
        fail_fast_steps([k, b"\xf4\x90\x80\x80", b"edited"]), fail=True, codes=(1007,), fail_fast=True)
    add("6.4.2", "fail fast: invalid code point split across fragments",
        fail_fast_steps([k + b"\xf4", b"\x90\x80\x80", b"edited"]), fail=True, codes=(1007,), fail_fast=True)
    add("6.4.3", "fail fast: invalid byte in a first fragment, more fragments follow",
        fail_fast_steps([k + b"\xf4\x90\x80\x80", b"edited"]), fail=True, codes=(1007,), fail_fast=True)
    add("6.4.4", "fail fast: invalid continuation at the very end of the first fragment",
        fail_fast_steps([k + b"\xf4\x90", b"\x80\x80edited"]), fail=True, codes=(1007,), fail_fast=True)
    # valid text, and every prefix of kosme + an invalid tail, split at each position
    n = 1
    for i in range(1, len(k) + 1):
        utf8_case("6.6.%d" % n, "kosme prefix of %d bytes" % i, k[:i])
        n += 1
    # single frame vs. every split point for one valid and one invalid sequence
    n = 1
    for data in ("κόσμε".encode(), b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited"):
        for cut in range(1, len(data)):
            ok = valid_utf8(data)
            steps = seq((TEXT, data[:cut], {"fin": False}), (CONT, data[cut:]))
            if ok:
                add("6.5.%d" % n, "two fragments split at byte %d" % cut, steps, [T(data)])
            else:
                add("6.5.%d" % n, "invalid, two fragments split at byte %d" % cut, steps, fail=True, codes=(1007,))
            n += 1
    # Kuhn's test: each sequence in one frame, then in one-byte fragments
    sub = 7
    for desc, data in kuhn_sequences():
        utf8_case("6.%d.1" % sub, desc, data)
        utf8_case("6.%d.2" % sub, desc + ", one byte per fragment", data, fragmented=True)
        sub += 1


# ---------------------------------------------------------------- 7 close
def cat7():
    hi = b"Hello, world!"
    def closes_with(*acts):
        return seq(*acts)
    add("7.1.1", "text then close", seq((TEXT, hi), (CLOSE, close_payload(1000))), [T(hi)], closes=True)
    add("7.1.2", "close, then close again", seq((CLOSE, close_payload(1000)), (CLOSE, close_payload(1000))), closes=True)
    add("7.1.3", "close, then ping (must not be answered)", seq((CLOSE, close_payload(1000)), (PING, hi)), closes=True)
    add("7.1.4", "close, then text (must not be echoed)", seq((CLOSE, close_payload(1000)), (TEXT, hi)), closes=True)
    add("7.1.5", "text fragment, close, continuation", seq((TEXT, b"fragment1", {"fin": False}),
        (CLOSE, close_payload(1000)), (CONT, b"fragment2")), closes=True)
    big = payload(256 * 1024, b"BAsd7&jh23")
    add("7.1.6", "256 KiB text, close, ping (the ping must not be answered)",
        seq((TEXT, big), (CLOSE, close_payload(1000)), (PING, b"ping")), [T(big)], closes=True)
    add("7.3.1", "close with an empty payload", seq((CLOSE, b"")), codes=(0, 1000), closes=True)
    add("7.3.2", "close with a 1-byte payload", seq((CLOSE, b"\x03")), fail=True, codes=(1002,), closes=True)
    add("7.3.3", "close 1000, no reason", seq((CLOSE, close_payload(1000))), closes=True)
    add("7.3.4", "close 1000 with a reason", seq((CLOSE, close_payload(1000, "Hello World!"))), closes=True)
    add("7.3.5", "close 1000 with a 123-byte reason", seq((CLOSE, close_payload(1000, "*" * 123))), closes=True)
    add("7.3.7", "close 1000 with a 121-byte multi-byte UTF-8 reason", seq((CLOSE, close_payload(1000, "κόσμε" * 11))),
        closes=True)
    add("7.3.6", "close 1000 with a 124-byte reason (frame over 125)",
        seq((CLOSE, close_payload(1000, "*" * 124))), fail=True, codes=(1002,), closes=True)
    # squall's own: the close handshake's timeout and clients that vanish
    add("7.14.1", "protocol violation; the client never answers the server's close (TCP must close, RFC: 5 s)",
        seq((PING, payload(126))), fail=True, codes=(1002,), deaf=True, timeout=12.0)
    add("7.14.2", "client close, then the client keeps its TCP end open (server closes TCP first)",
        seq((CLOSE, close_payload(1000))), closes=True, deaf=True, timeout=12.0)
    for i, (what, data) in enumerate([
            ("in the middle of a frame header", frame(TEXT, payload(300))[:3]),
            ("in the middle of a payload", frame(BINARY, payload(70000))[:30000]),
            ("in the middle of a fragmented message", frame(TEXT, b"frag", fin=False) + frame(CONT, b"ment", fin=False)),
            ("right after a ping", frame(PING, b"x" * 125)),
            ("right after a large message", frame(BINARY, payload(1 << 20)))], 3):
        add("7.14.%d" % i, "the client's TCP connection vanishes %s" % what, seq(("raw", data)), abrupt=True)
    add("7.5.1", "close 1000 with an invalid UTF-8 reason",
        seq((CLOSE, close_payload(1000, b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited"))),
        fail=True, codes=(1007,), closes=True)
    valid = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999]
    for i, code in enumerate(valid, 1):
        add("7.7.%d" % i, "close with valid code %d" % code, seq((CLOSE, close_payload(code))),
            codes=(1000, code), closes=True)
    # 1012-1014 were registered after RFC 6455: echo or 1002 both accepted
    for i, code in enumerate([1012, 1013, 1014], len(valid) + 1):
        add("7.7.%d" % i, "close with code %d (registered after RFC 6455)" % code, seq((CLOSE, close_payload(code))),
            codes=(1000, 1002, code), closes=True)
    invalid = [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999]
    for i, code in enumerate(invalid, 1):
        add("7.9.%d" % i, "close with invalid code %d" % code, seq((CLOSE, close_payload(code))),
            fail=True, codes=(1002,), closes=True)
    add("7.13.1", "close with code 5000", seq((CLOSE, close_payload(5000))), fail=True, codes=(1002,), closes=True)
    add("7.13.2", "close with code 65535", seq((CLOSE, close_payload(65535))), fail=True, codes=(1002,), closes=True)


# ---------------------------------------------------------------- 9 limits and performance
def cat9():
    sizes = [64 * 1024, 256 * 1024, 1 << 20, 4 << 20, 8 << 20]
    for sub, (op, mk, seed) in ((1, (TEXT, T, b"BAsd7&jh23")), (2, (BINARY, B, b"\xfe\xed\x00\x01"))):
        for i, n in enumerate(sizes, 1):
            p = payload(n, seed)
            add("9.%d.%d" % (sub, i), "%s message of %d bytes" % ("text" if op == TEXT else "binary", n),
                seq((op, p)), [mk(p)], timeout=20.0)
    msg = 1 << 20
    for sub, (op, mk, seed) in ((3, (TEXT, T, b"*")), (4, (BINARY, B, b"\xfe"))):
        for i, fs in enumerate([64, 256, 1024, 4096, 16384, 65536, 262144, 1 << 20], 1):
            p = payload(msg, seed)
            acts = [(op if j == 0 else CONT, p[j:j + fs], {"fin": j + fs >= msg}) for j in range(0, msg, fs)]
            add("9.%d.%d" % (sub, i), "1 MiB %s message in %d-byte fragments" % ("text" if op == TEXT else "binary", fs),
                seq(*acts), [mk(p)], timeout=20.0)
    for sub, (op, mk, seed) in ((5, (TEXT, T, b"*")), (6, (BINARY, B, b"\xfe"))):
        for i, ch in enumerate([64, 128, 256, 512, 1024, 2048], 1):
            p = payload(256 * 1024, seed)
            add("9.%d.%d" % (sub, i), "256 KiB %s message written in %d-byte chops" % ("text" if op == TEXT else "binary", ch),
                seq((op, p, {"chop": ch})), [mk(p)], timeout=20.0)
    for sub, (op, mk, seed) in ((7, (TEXT, T, b"*")), (8, (BINARY, B, b"\xfe"))):
        for i, n in enumerate([0, 16, 64, 256, 1024, 4096], 1):
            p = payload(n, seed)
            add("9.%d.%d" % (sub, i), "1000 %s messages of %d bytes" % ("text" if op == TEXT else "binary", n),
                seq(*[(op, p)] * 1000), [mk(p)] * 1000, timeout=20.0)
    # beyond the configured 10 MiB maximum (not in Autobahn; the references are configured alike)
    big = payload((10 << 20) + 1, b"\xfe")
    add("9.9.1", "binary message of 10 MiB + 1 byte (over the maximum)", seq((BINARY, big)),
        fail=True, codes=(1009,), timeout=20.0)
    add("9.9.2", "binary message over the maximum in 1 MiB fragments",
        seq(*[(BINARY if j == 0 else CONT, big[j:j + (1 << 20)], {"fin": j + (1 << 20) >= len(big)})
              for j in range(0, len(big), 1 << 20)]), fail=True, codes=(1009,), timeout=20.0)


# ---------------------------------------------------------------- 10 auto-fragmentation
def cat10():
    p = payload(65536, b"*")
    add("10.1.1", "64 KiB text sent in 1300-byte frames; echo compared whole",
        seq(*[(TEXT if j == 0 else CONT, p[j:j + 1300], {"fin": j + 1300 >= len(p)}) for j in range(0, len(p), 1300)]),
        [T(p)])


# ---------------------------------------------------------------- 12/13 permessage-deflate
def deflate_steps(op, msgs, no_context=False, wbits=15, frag=None, nfrag=None):
    def steps(c):
        d = Deflater(no_context=no_context, wbits=wbits)
        for m in msgs:
            z = d.compress(m)
            size = max(1, -(-len(z) // nfrag)) if nfrag else frag
            if size:
                parts = [z[j:j + size] for j in range(0, len(z), size)] or [b""]
                for j, part in enumerate(parts):
                    c.send(op if j == 0 else CONT, part, fin=j == len(parts) - 1, rsv=4 if j == 0 else 0)
            else:
                c.send(op, z, rsv=4)
    return steps


def incompressible(n, seed=1):
    """Deterministic pseudo-random bytes (xorshift), which deflate cannot shrink."""
    x = 0x9E3779B97F4A7C15 ^ seed
    out = bytearray()
    while len(out) < n:
        x ^= (x << 13) & 0xFFFFFFFFFFFFFFFF
        x ^= x >> 7
        x ^= (x << 17) & 0xFFFFFFFFFFFFFFFF
        out += x.to_bytes(8, "little")
    return bytes(out[:n])


LOREM = ("Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore "
         "et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut "
         "aliquip ex ea commodo consequat. Grüße, κόσμε, 世界! ").encode()

DEFLATE_SIZES = [16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536,
                 131072, 196608, 262144, 393216, 524288]


def cat12_13():
    # 12: compressed messages of 18 sizes (10 messages each, context takeover)
    kinds = [
        (TEXT, "compressible text", lambda n, k: payload(n, b"The quick brown fox %d jumps over the lazy dog. " % k), None),
        (BINARY, "compressible binary", lambda n, k: payload(n, bytes(range(256)) * 2 + bytes([k])), None),
        (TEXT, "prose text (multi-byte UTF-8 cut at code points)",
         lambda n, k: payload(n, LOREM).decode("utf-8", "ignore").encode(), None),
        (BINARY, "incompressible binary", lambda n, k: incompressible(n, k), None),
        (BINARY, "incompressible binary in 4 frames", lambda n, k: incompressible(n, k + 100), 4),
    ]
    for sub, (op, what, gen, nfrag) in enumerate(kinds, 1):
        for i, n in enumerate(DEFLATE_SIZES, 1):
            msgs = [gen(n, k) for k in range(10)]
            add("12.%d.%d" % (sub, i), "10 compressed %s messages of %d bytes" % (what, n),
                deflate_steps(op, msgs, nfrag=nfrag), [(T if op == TEXT else B)(m) for m in msgs],
                extensions="permessage-deflate", timeout=20.0)
    # 13: the extension's parameters offered in different combinations
    offers = [
        ("permessage-deflate", False, 15),
        ("permessage-deflate; client_no_context_takeover", True, 15),
        ("permessage-deflate; server_no_context_takeover", False, 15),
        ("permessage-deflate; client_no_context_takeover; server_no_context_takeover", True, 15),
        ("permessage-deflate; client_max_window_bits", False, 15),
        ("permessage-deflate; server_max_window_bits=10", False, 15),
        ("permessage-deflate; client_max_window_bits=9; server_max_window_bits=9", False, 9),
    ]
    for sub, (offer, noctx, wbits) in enumerate(offers, 1):
        for i, n in enumerate(DEFLATE_SIZES, 1):
            msgs = [payload(n, b"squall %d ws " % k) for k in range(5)]
            add("13.%d.%d" % (sub, i), "offer '%s', 5 messages of %d bytes" % (offer, n),
                deflate_steps(TEXT, msgs, no_context=noctx, wbits=wbits), [T(m) for m in msgs],
                extensions=offer, timeout=20.0)
    # 13.8 (squall's, not Autobahn's): violations with permessage-deflate on
    pmd = "permessage-deflate"
    z = Deflater().compress(b"Hello, world!")
    add("13.8.1", "RSV1 on a continuation frame", seq((TEXT, z, {"rsv": 4, "fin": False}), (CONT, z, {"rsv": 4})),
        fail=True, codes=(1002,), extensions=pmd)
    add("13.8.2", "RSV1 on a ping", seq((PING, z, {"rsv": 4})), fail=True, codes=(1002,), extensions=pmd)
    add("13.8.3", "RSV1 on a close", seq((CLOSE, close_payload(1000), {"rsv": 4})), fail=True, codes=(1002,),
        closes=True, extensions=pmd)
    add("13.8.4", "invalid deflate data", seq((BINARY, b"\xff\xff\xff\xff\xff", {"rsv": 4})),
        fail=True, codes=(1002, 1007), extensions=pmd)
    add("13.8.5", "compressed text that inflates to invalid UTF-8",
        seq((TEXT, Deflater().compress(b"\xce\xba\xed\xa0\x80edited"), {"rsv": 4})), fail=True, codes=(1007,),
        extensions=pmd)
    bomb = Deflater().compress(bytes((10 << 20) + 1))
    add("13.8.6", "decompression bomb: %d bytes inflating to 10 MiB + 1" % len(bomb),
        seq((BINARY, bomb, {"rsv": 4})), fail=True, codes=(1009,), extensions=pmd, timeout=20.0)
    big = bytes(8 << 20)
    add("13.8.7", "compressed message inflating to 8 MiB (under the limit)",
        deflate_steps(BINARY, [big]), [B(big)], extensions=pmd, timeout=20.0)


cat1(); cat2(); cat3(); cat4(); cat5(); cat6(); cat7(); cat9(); cat10(); cat12_13()
