#!/usr/bin/env bash
# docs/guide-web.md quotes the examples and their tests. Every ```c block
# marked "<!-- from PATH -->" must still be verbatim in PATH (each piece
# between blank lines, in order), and the block marked "<!-- compile -->"
# must build against the library.
# Usage: docs_guide_web.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src=$1
build=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python3 - "$src" "$work/compile.c" <<'PY'
import re, sys
src, out = sys.argv[1], sys.argv[2]
text = open(f"{src}/docs/guide-web.md").read()
blocks = re.findall(r"<!-- (from \S+|compile) -->\n```c\n(.*?)\n```", text, re.S)
bad = 0
ncompile = 0
for tag, code in blocks:
    if tag == "compile":
        open(out, "w").write(code + "\n")
        ncompile += 1
        continue
    path = tag.split(" ", 1)[1]
    whole = open(f"{src}/{path}").read()
    pos = 0
    for piece in re.split(r"\n\s*\n", code):
        at = whole.find(piece, pos)
        if at < 0:
            print(f"docs/guide-web.md: this excerpt is no longer in {path}:\n{piece}\n")
            bad += 1
        else:
            pos = at + len(piece)
if ncompile != 1 or len(blocks) < 5:
    print(f"docs/guide-web.md: expected one compiled block and excerpts, found {len(blocks)} blocks")
    bad += 1
sys.exit(1 if bad else 0)
PY

lib="$build/libsquall.a"
test -f "$lib" || { echo "no $lib"; exit 1; }
cc -std=gnu11 -Wall -Wextra -Werror -I"$src/include" "$work/compile.c" -o "$work/hello" "$lib" \
    $(pkg-config --libs libuv libcrypto libpcre2-8 jansson zlib) -lpthread -lm
echo "docs/guide-web.md: excerpts match their files; hello world builds"
