#!/usr/bin/env python3
"""squall's Autobahn-equivalent fuzzing client, run against WebSocket servers.

  run.py --squall build/examples/echo [--refs ws,python] [--cases 1-7,10] [-j 8] [-v]
  run.py --refs ws,python --cases 1-7,10           (validate the harness only)

Servers are started here on free ports; each must echo at ws://127.0.0.1:PORT/ws.
Exit status: with references, non-zero when squall FAILS a case every reference
passes (or a reference itself fails); squall alone: non-zero on any FAILED case."""
import argparse
import concurrent.futures
import os
import shutil
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PY_REF = os.environ.get("SQ_WS_PYTHON", "/usr/bin/python3")  # python3 with Debian's python3-websockets
sys.path.insert(0, HERE)

from wsclient import Conn, OK, NON_STRICT, FAILED  # noqa: E402
import cases as caselib  # noqa: E402


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start_server(name, squall_bin):
    port = free_port()
    if name == "ws":
        cmd = ["node", os.path.join(HERE, "ref_ws_server.js"), str(port), "--deflate"]
    elif name == "python":
        cmd = [PY_REF, os.path.join(HERE, "ref_py_server.py"), str(port), "--deflate"]
    elif name == "squall":
        cmd = [squall_bin, "--port", str(port), "--host", "127.0.0.1"]
    else:
        raise SystemExit("unknown server %s" % name)
    # squall's stderr stays visible (sanitizer reports); the references' is dropped
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                            stderr=None if name == "squall" else subprocess.DEVNULL)
    end = time.monotonic() + 10
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc, port
        except OSError:
            if proc.poll() is not None:
                raise SystemExit("%s server exited with %s" % (name, proc.returncode))
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("%s server did not start" % name)


def short(x, n=60):
    r = repr(x)
    return r if len(r) <= n else r[:n] + "...(%d)" % len(r)


def describe_events(evs):
    return "[" + ", ".join("%s %s" % (k, short(v, 40) if len(v) < 200 else "%d bytes" % len(v)) for k, v in evs) + "]"


def run_case(case, port):
    """Returns (verdict, detail)."""
    try:
        c = Conn("127.0.0.1", port, extensions=case.extensions, timeout=case.timeout, early=case.early)
    except Exception as e:
        return FAILED, "handshake: %s" % e
    c.last_part_at = None
    c.reply_to_close = not case.deaf
    if case.abrupt:
        case.steps(c)
        c.abort()
        time.sleep(0.2)
        try:
            d = Conn("127.0.0.1", port, timeout=case.timeout)
        except Exception as e:
            return FAILED, "server unusable after the client vanished: %s" % e
        d.send(9, b"still there?")
        d.wait_events(1, case.timeout)
        d.abort()
        if d.events != [("pong", b"still there?")]:
            return FAILED, "no pong on a new connection after the client vanished"
        return OK, "server healthy"
    if case.extensions and not c.extensions:
        c.abort()
        return FAILED, "permessage-deflate not accepted"
    try:
        case.steps(c)
        if case.fail:
            c.wait(lambda: c.closed(), case.timeout)
            if not c.closed():
                c.send_close(1000)
        else:
            if not case.closes:
                c.wait(lambda: len([e for e in c.events if e[0] != "ping"]) >= len(case.expect) or c.closed(),
                       case.timeout)
                c.send_close(1000)
        c.wait(lambda: c.tcp_closed_at is not None, case.timeout if case.deaf else 3.0)
        # anything still in flight after the close is also recorded
    finally:
        c.abort()
    events = [e for e in c.events if e[0] != "ping"]
    if c.protocol_errors:
        return FAILED, "; ".join(c.protocol_errors[:3])
    if case.tolerated is not None and events == case.tolerated and c.close_code == 1000:
        return NON_STRICT, "accepted (lenient): %s" % describe_events(events)
    if events != case.expect:
        # a server may fail (or close) before its echo of an earlier message
        # went out: Autobahn counts a missing tail of echoes as NON-STRICT
        if (case.fail or case.closes) and events == case.expect[:len(events)]:
            if c.close_code in case.codes:
                return NON_STRICT, "close %d, missing echoes: got %d of %d" % (c.close_code, len(events), len(case.expect))
            if c.close_code is None and c.tcp_closed_at is not None:
                return NON_STRICT, "TCP closed without a close frame, missing echoes: got %d of %d" % (
                    len(events), len(case.expect))
        return FAILED, "got %s, expected %s" % (describe_events(events), describe_events(case.expect))
    if c.close_code is None:
        if c.tcp_closed_at is not None:
            return NON_STRICT, "TCP closed without a close frame"
        return FAILED, "no close frame and connection left open"
    if c.close_code not in case.codes:
        return FAILED, "close code %d, expected %s" % (c.close_code, "/".join(map(str, case.codes)))
    if c.tcp_closed_at is None:
        return NON_STRICT, "close code %d but the server kept the TCP connection open" % c.close_code
    if (case.extensions and not case.fail and c.compressed_msgs == 0
            and any(len(m) >= 1024 for _, m in case.expect)):
        return NON_STRICT, "echoes of 1 KiB and more were never compressed"
    if case.fail_fast and c.last_part_at is not None and c.close_frame_at > c.last_part_at:
        return NON_STRICT, "closed %d only after the whole message" % c.close_code
    return OK, "close %d" % c.close_code


def parse_cats(spec):
    cats = set()
    for part in spec.split(","):
        if "-" in part:
            a, b = part.split("-")
            cats.update(range(int(a), int(b) + 1))
        elif part:
            cats.add(int(part))
    return cats


def run_impl(name, sel, args):
    proc, port = start_server(name, args.squall)
    results = {}
    t0 = time.monotonic()
    try:
        with concurrent.futures.ThreadPoolExecutor(args.jobs) as ex:
            futs = {ex.submit(run_case, c, port): c for c in sel}
            for f in concurrent.futures.as_completed(futs):
                c = futs[f]
                try:
                    results[c.id] = f.result()
                except Exception as e:
                    results[c.id] = (FAILED, "harness exception %r" % e)
                if proc.poll() is not None:
                    results[c.id] = (FAILED, results[c.id][1] + " (server exited with %s)" % proc.returncode)
    finally:
        alive = proc.poll() is None
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
    if not alive:
        print("  !! %s server died during the run (status %s)" % (name, proc.returncode))
    clean = alive and proc.returncode in (0, -15)
    if not clean:
        print("  !! %s server did not exit cleanly on SIGTERM (status %s)" % (name, proc.returncode))
    return results, time.monotonic() - t0, clean


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--squall", help="path of squall's echo example")
    ap.add_argument("--refs", default="", help="reference servers: ws,python")
    ap.add_argument("--cases", default="1-7,9,10,12,13", help="categories, e.g. 1-7,10")
    ap.add_argument("--only", default="", help="comma-separated case ids")
    ap.add_argument("-j", "--jobs", type=int, default=8)
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()

    cats = parse_cats(args.cases)
    sel = [c for c in caselib.CASES if c.category in cats]
    if args.only:
        ids = set(args.only.split(","))
        sel = [c for c in caselib.CASES if c.id in ids]
    sel.sort(key=lambda c: c.key())
    impls = [r for r in args.refs.split(",") if r]
    if args.squall:
        impls.append("squall")
    if not impls:
        ap.error("nothing to run: give --squall and/or --refs")

    if "ws" in impls and not (shutil.which("node") and
                              os.path.exists(os.path.join(HERE, "node_modules", "ws", "package.json"))):
        print("node or node_modules/ws missing: run `npm ci --prefix tests/conformance/websocket`; skipping")
        return 77
    if "python" in impls and subprocess.call([PY_REF, "-c", "import websockets"],
                                             stderr=subprocess.DEVNULL) != 0:
        print("%s has no websockets module (apt-get install python3-websockets); skipping" % PY_REF)
        return 77
    status = 0
    allres = {}
    for name in impls:
        res, secs, clean = run_impl(name, sel, args)
        allres[name] = res
        if name == "squall" and not clean:
            status = 1
        print("== %s: %d cases in %.1f s" % (name, len(sel), secs))
        for cat in sorted({c.category for c in sel}):
            cs = [c for c in sel if c.category == cat]
            n = {v: sum(1 for c in cs if res[c.id][0] == v) for v in (OK, NON_STRICT, FAILED)}
            print("  %-3d %4d / %-4d passed   (OK %d, NON-STRICT %d, FAILED %d)"
                  % (cat, n[OK] + n[NON_STRICT], len(cs), n[OK], n[NON_STRICT], n[FAILED]))
        for c in sel:
            v, d = res[c.id]
            if v == FAILED or (args.verbose and v == NON_STRICT):
                print("    %-10s %-10s %s: %s" % (c.id, v, c.desc, d))

    refs = [r for r in impls if r != "squall"]
    for r in refs:
        nf = sum(1 for c in sel if allres[r][c.id][0] == FAILED)
        if nf:
            print("reference %s failed %d case(s): harness or reference deviation" % (r, nf))
    if "squall" in allres:
        res = allres["squall"]
        failed = [c for c in sel if res[c.id][0] == FAILED]
        if refs:
            blocking = [c for c in failed if all(allres[r][c.id][0] != FAILED for r in refs)]
        else:
            blocking = failed
        if blocking:
            print("squall fails %d case(s)%s: %s" % (len(blocking), " the references pass" if refs else "",
                                                   " ".join(c.id for c in blocking)))
            status = 1
        print("%d passed, %d failed" % (len(sel) - len(failed), len(failed)))
    else:
        # harness validation: a case is trustworthy when at least one reference passes it
        bad = [c for c in sel if all(allres[r][c.id][0] == FAILED for r in refs)]
        if bad:
            print("no reference passes: %s" % " ".join(c.id for c in bad))
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
