#!/usr/bin/python3
"""python3-websockets (a WebSocket client no one here wrote) against
squall's echo example: text, binary, large and fragmented messages, with
permessage-deflate off and on, and close codes.

usage: ws_python_client.py PATH_TO_ECHO_BINARY
Prints "N passed, N failed"; exits non-zero on any failure."""
import asyncio
import os
import socket
import subprocess
import sys

import websockets

passed = failed = 0


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print(f"FAIL {name} {detail}")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


async def session(url, compression):
    async with websockets.connect(url, compression=compression, max_size=16 * 2**20) as ws:
        tag = f"[compression={compression}]"
        ext = ws.response_headers.get("Sec-WebSocket-Extensions")
        check(f"{tag} negotiation", (ext is not None) == (compression is not None), repr(ext))
        await ws.send("hello")
        check(f"{tag} text", await ws.recv() == "hello")
        await ws.send(bytes(range(256)))
        check(f"{tag} binary", await ws.recv() == bytes(range(256)))
        text = "é∀😀" * 1000
        await ws.send(text)
        check(f"{tag} utf-8", await ws.recv() == text)
        big = os.urandom(1 << 20)
        await ws.send(big)
        check(f"{tag} 1 MiB binary", await ws.recv() == big)
        await ws.send(iter(["frag", "men", "ted"]))
        check(f"{tag} fragmented", await ws.recv() == "fragmented")
        await ws.send("x" * 100000)
        check(f"{tag} compressible 100 kB", await ws.recv() == "x" * 100000)
        pong = await ws.ping(b"are you there")
        await asyncio.wait_for(pong, 5)
        check(f"{tag} ping/pong", True)
        await ws.close(code=4001, reason="custom")
        check(f"{tag} close code echoed", ws.close_code == 4001, str(ws.close_code))


async def close_codes(url):
    for code in (1000, 1001, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 4999):
        async with websockets.connect(url) as ws:
            await ws.close(code=code, reason="r")
            check(f"close {code}", ws.close_code == code, str(ws.close_code))


async def too_big(url):
    async with websockets.connect(url, max_size=None) as ws:
        await ws.send(b"\0" * (10 * 2**20 + 1))
        try:
            await asyncio.wait_for(ws.recv(), 10)
            check("11 MiB message refused", False, "echoed")
        except websockets.ConnectionClosed as e:
            check("11 MiB message refused with 1009", e.rcvd is not None and e.rcvd.code == 1009, str(e))


async def main(binary):
    port = free_port()
    proc = subprocess.Popen([binary, "--port", str(port)], stdout=subprocess.PIPE)
    try:
        proc.stdout.readline()  # the "listening" line
        url = f"ws://127.0.0.1:{port}/ws"
        await session(url, None)
        await session(url, "deflate")
        await close_codes(url)
        await too_big(url)
    finally:
        proc.terminate()
        proc.wait(10)
    check("echo exits cleanly on SIGTERM", proc.returncode == 0, str(proc.returncode))


asyncio.run(asyncio.wait_for(main(sys.argv[1]), 120))
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
