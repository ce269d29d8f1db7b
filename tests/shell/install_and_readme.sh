#!/usr/bin/env bash
# Installs squall into a staging directory (DESTDIR), then builds the
# README's hello world exactly as shown, once with pkg-config and once with
# CMake's find_package, runs it and checks that it answers.
# Usage: install_and_readme.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src=$1
build=$2
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$build/CMakeCache.txt")
DESTDIR="$work/stage" cmake --install "$build" >/dev/null
stage="$work/stage$prefix"
libdir=$(dirname "$(find "$stage" -name squall.pc)")/..
test -f "$stage/include/squall.h"
test -f "$stage/include/squall/http.h"
test -f "$stage/include/squall/version.h"
ls "$libdir"/libsquall.so* "$libdir"/libsquall.a >/dev/null

# The first ```c block of the README, with a free port instead of 8888.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
awk '/^```c$/ {on=1; next} /^```$/ && on {exit} on' "$src/README.md" > "$work/hello.c"
grep -q 'sq_http_server_listen' "$work/hello.c"
sed -i "s/8888/$port/" "$work/hello.c"

export PKG_CONFIG_PATH="$libdir/pkgconfig"
flags=$(pkg-config --define-variable=prefix="$stage" --cflags --libs squall)
cc -Wall -Werror "$work/hello.c" -o "$work/hello" $flags

check() {
    local bin=$1
    LD_LIBRARY_PATH="$libdir" "$bin" & pids+=($!)
    for _ in $(seq 50); do
        body=$(curl -s --max-time 2 "http://127.0.0.1:$port/" || true)
        [ "$body" = "Hello, world" ] && break
        sleep 0.1
    done
    [ "$body" = "Hello, world" ] || { echo "no hello from $bin: '$body'"; exit 1; }
    kill -TERM "${pids[-1]}"
    wait "${pids[-1]}" || { echo "$bin did not exit cleanly on SIGTERM"; exit 1; }
}
check "$work/hello"

# The CMake package.
mkdir -p "$work/cm"
cp "$work/hello.c" "$work/cm/"
cat > "$work/cm/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.16)
project(hello C)
find_package(squall REQUIRED)
add_executable(hello hello.c)
target_link_libraries(hello squall::squall)
CM
cmake -S "$work/cm" -B "$work/cm/build" -DCMAKE_PREFIX_PATH="$stage" >/dev/null
cmake --build "$work/cm/build" >/dev/null
check "$work/cm/build/hello"
echo "install, pkg-config, CMake package and README hello: ok"
