#!/usr/bin/env python3
"""Writes the seed corpora of the HTTP fuzz targets from the llhttp vectors.

Usage: fuzz/make-seeds.py [CONFORMANCE_DIR]   (default: ../shared/conformance)

Every ```http block of llhttp's request/ and response/ Markdown becomes a seed
of fuzz_request or fuzz_response (after the 4 setting bytes those targets
read first, in two variants); the body of every chunked one also becomes a
seed of fuzz_chunked (after its 2 setting bytes). The inputs are decoded as
shared/conformance/PROVENANCE.md says (escapes above 0x7f as UTF-8, as
llhttp's own harness feeds them). Seed files are named by content hash, so
running the script again changes nothing.
"""
import hashlib
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def unescape(s):
    out = bytearray()
    i = 0
    while i < len(s):
        c = s[i]
        if c != "\\" or i + 1 >= len(s):
            out += c.encode()
            i += 1
            continue
        d = s[i + 1]
        if d in "rntf":
            out += {"r": b"\r", "n": b"\n", "t": b"\t", "f": b"\f"}[d]
            i += 2
        elif d == "x" and re.match(r"[0-9a-fA-F]{2}", s[i + 2:i + 4]):
            out += chr(int(s[i + 2:i + 4], 16)).encode()
            i += 4
        elif d in "01234567":
            m = re.match(r"[0-7]{1,3}", s[i + 1:])
            out += chr(int(m.group(0), 8)).encode()
            i += 1 + len(m.group(0))
        else:
            out += b"\\"
            i += 1
    return bytes(out)


def decode(raw):
    if raw.endswith("\n"):
        raw = raw[:-1]
    raw = raw.replace("\\\n", "").replace("\n", "\r\n")
    return unescape(raw)


def blocks(path):
    text = open(path, encoding="utf-8").read()
    for m in re.finditer(r"^```http\n(.*?)^```", text, re.S | re.M):
        yield decode(m.group(1))


def write(dirname, data):
    os.makedirs(dirname, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(dirname, name), "wb") as f:
        f.write(data)


def main():
    conf = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "..", "shared", "conformance")
    corpus = os.path.join(HERE, "corpus")
    for kind, variants in (("request", (b"\x00\x00\x00\x80", b"\x05\x00\x00\x40")),
                           ("response", (b"\x04\x00\x00\x80", b"\x02\x00\x00\x40"))):
        d = os.path.join(conf, "llhttp", kind)
        for fn in sorted(os.listdir(d)):
            if not fn.endswith(".md"):
                continue
            for data in blocks(os.path.join(d, fn)):
                for v in variants:
                    write(os.path.join(corpus, kind), v + data)
                head_end = data.find(b"\r\n\r\n")
                if head_end >= 0 and b"chunked" in data[:head_end].lower():
                    write(os.path.join(corpus, "chunked"), b"\xff\x80" + data[head_end + 4:])


if __name__ == "__main__":
    main()
