#!/usr/bin/env bash
# Regression: every example server answers, then exits with status 0 on
# SIGTERM (the loop drains the server, then the server closes) within 10 s.
# Usage: examples_sigterm.sh SOURCE_DIR BUILD_DIR
set -uo pipefail
build=$2
status=0
for name in hello echo rest_api async form bench_app; do
    bin=$build/examples/$name
    [ -x "$bin" ] || { echo "missing $bin"; status=1; continue; }
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    "$bin" --port "$port" >/dev/null 2>&1 &
    pid=$!
    up=0
    for _ in $(seq 50); do
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$port/" || true)
        [ -n "$code" ] && [ "$code" != "000" ] && { up=1; break; }
        sleep 0.1
    done
    [ $up -eq 1 ] || { echo "$name: no answer on port $port"; status=1; kill -9 $pid; continue; }
    kill -TERM $pid
    for _ in $(seq 100); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
    if kill -0 $pid 2>/dev/null; then
        echo "$name: still running 10 s after SIGTERM"
        kill -9 $pid
        status=1
        continue
    fi
    wait $pid
    rc=$?
    [ $rc -eq 0 ] || { echo "$name: exit status $rc after SIGTERM"; status=1; }
done
[ $status -eq 0 ] && echo "every example exits cleanly on SIGTERM"
exit $status
