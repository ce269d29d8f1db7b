#!/usr/bin/env bash
# docs/testing.md shows a complete test a user can copy; CI builds and runs
# the same code as tests/integration/test_docs_testing.c. This checks that
# the first ```c block of the page and that file are identical.
# Usage: docs_testing.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
awk '/^```c$/ {on=1; next} /^```$/ && on {exit} on' "$src/docs/testing.md" > "$work/doc.c"
if ! diff -u "$src/tests/integration/test_docs_testing.c" "$work/doc.c"; then
    echo "docs/testing.md and tests/integration/test_docs_testing.c differ" >&2
    exit 1
fi
echo "docs/testing.md matches tests/integration/test_docs_testing.c"
