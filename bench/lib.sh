# shellcheck shell=bash disable=SC2034  # VALUE, NOTE, ... are read by bench/run
# bench/lib.sh: the functions bench/run is made of. Source it, then call
# bench_init OUTDIR BUILD_DIR. Everything here is bounded in time, and every
# process it starts is killed on exit (by its pid).
#
# Servers: server_cmd_NAME PORT sets SERVER_CMD (an array) or returns 1 with
# SKIP_REASON set. Measurements: measure_wrk_all ROW PARAMS... measures one
# wrk row on all the started servers and records it; every other kind is
# measure_KIND SERVER PARAMS..., which starts its own server and sets VALUE (a
# number) and NOTE (a remark for the table, or empty), or returns 1 after
# saying why on stderr; see bench/rows.conf. They are called in the main
# shell, never in $(...), so that every pid they start is known to the exit
# trap.

# ---- settings (environment overrides) ---------------------------------------
: "${BENCH_RUNS:=3}"            # wrk runs per row; the best one is reported
: "${BENCH_DURATION:=5}"        # seconds per wrk run
: "${BENCH_WARMUP:=1}"          # seconds of unrecorded wrk warm-up per row
: "${BENCH_EXTRA_RUNS:=3}"      # extra wrk runs for a server with no undisturbed run
: "${BENCH_NOISE_PCT:=10}"      # "disturb": other processes used this much of a CPU
: "${BENCH_START_TIMEOUT:=20}"  # seconds for a server to answer its first request
: "${BENCH_CG_START_TIMEOUT:=120}" # the same under callgrind
: "${BENCH_IDLE_TIMEOUT:=90}"   # seconds for all idle connections to be set up
: "${BENCH_SERVER_CPU:=0}"      # taskset CPU list for the servers
: "${BENCH_CLIENT_CPU:=1}"      # taskset CPU list for wrk and the C clients
: "${BENCH_PYTHON:=/usr/bin/python3}" # Debian's python3, which sees python3-tornado

# Callgrind request counts are divided by this for servers that are slow under
# callgrind (Tornado runs ~750k instructions per request, 60x slower there).
declare -A CG_DIVISOR=([tornado]=20)

# ---- plumbing ----------------------------------------------------------------
declare -a BENCH_PIDS=()
# Set by the measure_* functions, read by bench/run.
VALUE='' NOTE=''

log() { printf '[bench %s] %s\n' "$(date +%T)" "$*" >&2; }

bench_init() {
    OUT=$1
    BUILD_DIR=$2
    BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
    TOP=$(git -C "$BENCH_DIR" rev-parse --show-toplevel 2>/dev/null || dirname "$BENCH_DIR")
    mkdir -p "$OUT"
    TMP=$(mktemp -d /tmp/squall-bench.XXXXXX)
    BIN=$TMP/bin
    LOGS=$OUT/logs
    mkdir -p "$BIN" "$LOGS"
    RESULTS=$OUT/results.tsv
    : > "$RESULTS"
    SHARED=$(find_shared) || { log "cannot find the shared folder (set SQUALL_SHARED)"; return 1; }
    # Both sides need room for 10,000 connections; the hard cap is 20,000.
    ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
    trap bench_cleanup EXIT
    trap 'log "interrupted"; exit 130' INT TERM
}

find_shared() {
    local d
    for d in "${SQUALL_SHARED:-}" "$TOP/../shared" "$BUILD_DIR/../../shared" /work/shared; do
        [ -n "$d" ] && [ -f "$d/bench/limit_http.c" ] && { (cd "$d" && pwd); return 0; }
    done
    return 1
}

bench_cleanup() {
    local pid
    for pid in "${BENCH_PIDS[@]}"; do
        kill_pid "$pid"
    done
    [ -n "${TMP:-}" ] && rm -rf "$TMP"
}

# kill_pid PID: TERM, up to 5 s of grace, then KILL; reaps it.
kill_pid() {
    local pid=$1
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    return 0
}

forget_pid() {
    local keep=() p
    for p in "${BENCH_PIDS[@]}"; do [ "$p" != "$1" ] && keep+=("$p"); done
    BENCH_PIDS=("${keep[@]}")
}

# build_tools: the C clients and the yardstick, compiled in this run.
build_tools() {
    local cc=${CC:-cc}
    $cc -O2 -Wall -Wextra -o "$BIN/reqs" "$BENCH_DIR/reqs.c" &&
    $cc -O2 -Wall -Wextra -o "$BIN/idle" "$BENCH_DIR/idle.c" &&
    $cc -O2 -o "$BIN/limit_http" "$SHARED/bench/limit_http.c"
}

# free_port: a port nobody listens on, below the ephemeral range (so the
# 10,000 client connections can never collide with it).
free_port() {
    "$BENCH_PYTHON" - <<'EOF'
import random, socket
for _ in range(500):
    p = random.randint(20000, 32000)
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
        print(p)
        break
    except OSError:
        pass
    finally:
        s.close()
EOF
}

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null; }

# record SERVER ROW VALUE [NOTE]: one result line.
record() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "${4:-}" >> "$RESULTS"; }

# ---- servers -----------------------------------------------------------------
server_cmd_squall() {
    local hello=$BUILD_DIR/examples/hello
    if [ ! -x "$hello" ]; then
        SKIP_REASON="$hello not found (the squall hello example is not built yet)"
        return 1
    fi
    SERVER_CMD=("$hello" --port "$1" --host 127.0.0.1)
}

server_cmd_tornado() {
    if ! "$BENCH_PYTHON" -c 'import tornado' 2>/dev/null; then
        SKIP_REASON="$BENCH_PYTHON cannot import tornado (scripts/install-deps bench)"
        return 1
    fi
    SERVER_CMD=("$BENCH_PYTHON" "$BENCH_DIR/peers/tornado_hello.py" --port "$1" --host 127.0.0.1)
}

server_cmd_nginx() {
    local nginx dir=$TMP/nginx-$1
    nginx=$(command -v nginx || echo /usr/sbin/nginx)
    if [ ! -x "$nginx" ]; then
        SKIP_REASON="nginx not installed (scripts/install-deps bench)"
        return 1
    fi
    mkdir -p "$dir"
    sed -e "s#@DIR@#$dir#g" -e "s#@PORT@#$1#g" "$BENCH_DIR/peers/nginx.conf.in" > "$dir/nginx.conf"
    SERVER_CMD=("$nginx" -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log")
}

server_cmd_limit() {
    SERVER_CMD=("$BIN/limit_http" "$1")
}

# server_available NAME: 0 if it can be started, else 1 with SKIP_REASON.
server_available() {
    SKIP_REASON=
    "server_cmd_$1" 1 >/dev/null
}

# start_server NAME [WRAPPER...]: starts it pinned to BENCH_SERVER_CPU on a
# fresh port and waits (bounded) until it answers a request. Sets SERVER_PID
# and SERVER_PORT. WRAPPER (e.g. valgrind ...) goes between taskset and the
# server; it must exec the server in the same process, as valgrind does.
start_server() {
    local name=$1 timeout=$BENCH_START_TIMEOUT; shift
    [ $# -gt 0 ] && timeout=$BENCH_CG_START_TIMEOUT
    SERVER_PORT=$(free_port)
    [ -n "$SERVER_PORT" ] || { log "$name: no free port"; return 1; }
    "server_cmd_$name" "$SERVER_PORT" || { log "$name: $SKIP_REASON"; return 1; }
    local logf=$LOGS/$name.$SERVER_PORT.log
    taskset -c "$BENCH_SERVER_CPU" "$@" "${SERVER_CMD[@]}" > "$logf" 2>&1 < /dev/null &
    SERVER_PID=$!
    BENCH_PIDS+=("$SERVER_PID")
    local deadline=$((SECONDS + timeout))
    while [ $SECONDS -lt $deadline ]; do
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            log "$name exited during start-up; the end of $logf:"
            tail -n 5 "$logf" >&2
            stop_server
            return 1
        fi
        if taskset -c "$BENCH_CLIENT_CPU" "$BIN/reqs" -q -t 2 "$SERVER_PORT" 1 1 2>/dev/null; then
            return 0
        fi
        sleep 0.2
    done
    log "$name did not answer on port $SERVER_PORT within ${timeout}s"
    stop_server
    return 1
}

stop_server() {
    [ -n "${SERVER_PID:-}" ] || return 0
    kill_pid "$SERVER_PID"
    forget_pid "$SERVER_PID"
    SERVER_PID=
}

# ---- measurements ------------------------------------------------------------
# params_to_locals: 'conns=64 path=/' -> P_conns=64 P_path=/
params_to_locals() {
    local kv
    for kv in "$@"; do
        printf -v "P_${kv%%=*}" '%s' "${kv#*=}"
    done
}

# cpu_ticks CPU: "busy total" jiffies of one CPU from /proc/stat.
cpu_ticks() {
    awk -v c="cpu$1" '$1 == c {t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t}' /proc/stat
}

# cpu_busy "BUSY0 TOTAL0" "BUSY1 TOTAL1": percent busy in between.
cpu_busy() {
    awk -v a="$1" -v b="$2" 'BEGIN {split(a, x, " "); split(b, y, " ");
        d = y[2] - x[2]; printf "%.0f", (d > 0 ? 100 * (y[1] - x[1]) / d : 0)}'
}

# work_ticks: user+nice+system ticks, summed over the server and client CPUs
# (over all CPUs if those are CPU lists). Interrupt time is left out.
work_ticks() {
    awk -v a="cpu$BENCH_SERVER_CPU" -v b="cpu$BENCH_CLIENT_CPU" '
        $1 == a || $1 == b {t += $2 + $3 + $4; n++}
        $1 == "cpu" {all = $2 + $3 + $4}
        END {print (n > 0 ? t : all)}' /proc/stat
}

# own_ticks: sets OWN to the CPU ticks of the benchmark's servers
# (SERVER_PID, WRK_PIDS) plus everything this shell has reaped (wrk, through
# timeout and $(...)): what the benchmark itself burned. Call it in the main
# shell, never in $(...): `times` must see this shell's children.
own_ticks() {
    times > "$TMP/times"
    local pid srv=0 t
    for pid in ${SERVER_PID:-} ${WRK_PIDS:-}; do
        t=$(awk '{sub(/^.*\) /, ""); print $12 + $13}' "/proc/$pid/stat" 2>/dev/null)
        srv=$((srv + ${t:-0}))
    done
    OWN=$(awk -v srv="$srv" 'NR == 2 {for (i = 1; i <= 2; i++) {split($i, f, "m"); c += (f[1] * 60 + f[2]) * 100}}
        END {printf "%.0f", srv + c}' "$TMP/times")
}

# foreign_pct W0 O0 E0 W1 O1 E1: percent of one CPU that other processes used
# between two samples of work_ticks (W), own_ticks (O) and elapsed ticks of
# one CPU (E).
foreign_pct() {
    awk -v w="$(($4 - $1))" -v o="$(($5 - $2))" -v e="$(($6 - $3))" \
        'BEGIN {f = w - o; if (f < 0) f = 0; printf "%.0f", (e > 0 ? 100 * f / e : 0)}'
}

# busy_machine_pct SECONDS: how much of one CPU other processes use now.
busy_machine_pct() {
    local w0 o0 e0 w1 o1 e1
    own_ticks; o0=$OWN; w0=$(work_ticks) e0=$(cpu_ticks "$BENCH_SERVER_CPU")
    sleep "$1"
    w1=$(work_ticks) e1=$(cpu_ticks "$BENCH_SERVER_CPU"); own_ticks; o1=$OWN
    foreign_pct "$w0" "$o0" "${e0#* }" "$w1" "$o1" "${e1#* }"
}

# wrk_once PORT CONNS DEPTH PATH SECONDS: sets RPS to the requests/s of one
# wrk run, SRV_BUSY/CLI_BUSY to how busy (%) the server and client CPUs were
# (empty if those are CPU lists), FOREIGN to how much of one CPU (%) other
# processes used meanwhile, and WRK_ERRORS=1 if wrk saw errors.
wrk_once() {
    local port=$1 conns=$2 depth=$3 path=$4 dur=$5 out rps s0 s1 c0 c1
    local args=(-t1 "-c$conns" "-d${dur}s" --timeout 5s)
    [ "$depth" -gt 1 ] && args+=(-s "$BENCH_DIR/pipeline.lua")
    args+=("http://127.0.0.1:$port$path")
    [ "$depth" -gt 1 ] && args+=(-- "$depth" "$path")
    local w0 o0 w1 o1
    own_ticks; o0=$OWN; w0=$(work_ticks)
    s0=$(cpu_ticks "$BENCH_SERVER_CPU") c0=$(cpu_ticks "$BENCH_CLIENT_CPU")
    out=$(timeout -k 2 $((dur + 20)) taskset -c "$BENCH_CLIENT_CPU" wrk "${args[@]}" 2>&1)
    s1=$(cpu_ticks "$BENCH_SERVER_CPU") c1=$(cpu_ticks "$BENCH_CLIENT_CPU")
    w1=$(work_ticks); own_ticks; o1=$OWN
    FOREIGN=$(foreign_pct "$w0" "$o0" "${s0#* }" "$w1" "$o1" "${s1#* }")
    SRV_BUSY='' CLI_BUSY=
    [ -n "$s0" ] && [ -n "$s1" ] && SRV_BUSY=$(cpu_busy "$s0" "$s1")
    [ -n "$c0" ] && [ -n "$c1" ] && CLI_BUSY=$(cpu_busy "$c0" "$c1")
    rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
    if [ -z "$rps" ]; then
        log "wrk failed: $(tail -n 3 <<<"$out" | tr '\n' ' ')"
        return 1
    fi
    if grep -qE 'Non-2xx|Socket errors' <<<"$out"; then
        log "wrk reported errors on port $port: $(grep -E 'Non-2xx|Socket errors' <<<"$out" | tr '\n' ' ')"
        WRK_ERRORS=1
    fi
    printf -v RPS '%.0f' "$rps"
}

# measure_wrk_all ROW_ID conns=N depth=D path=P: one wrk row for every
# server in WRK_SERVERS (names), already started on the ports in WRK_PORTS
# (an associative array). The servers take turns: a warm-up each, then
# BENCH_RUNS rounds of one run per server, so that whatever else the machine
# is doing hits them all alike. A run during which other processes used
# BENCH_NOISE_PCT% of a CPU or more is "noisy"; a server with no clean run
# after those rounds gets up to BENCH_EXTRA_RUNS more, still taking turns.
# Records each server's best clean run (its best noisy one, with a note, if
# it never had a clean one), and notes client-bound runs.
measure_wrk_all() {
    local rid=$1; shift
    local P_conns=64 P_depth=1 P_path=/
    params_to_locals "$@"
    local s round=0 want
    local -A best=() srv=() cli=() foreign=() runs=() errs=() clean=()
    for s in $WRK_SERVERS; do
        best[$s]=0 foreign[$s]=0 runs[$s]='' errs[$s]=0 clean[$s]=0
        if [ "$BENCH_WARMUP" -gt 0 ]; then
            wrk_once "${WRK_PORTS[$s]}" "$P_conns" "$P_depth" "$P_path" "$BENCH_WARMUP" || best[$s]=error
        fi
    done
    while [ "$round" -lt $((BENCH_RUNS + BENCH_EXTRA_RUNS)) ]; do
        round=$((round + 1))
        want=0
        for s in $WRK_SERVERS; do
            [ "${best[$s]}" = error ] && continue
            # Past the regular rounds, only servers still without a clean run.
            [ "$round" -gt "$BENCH_RUNS" ] && [ "${clean[$s]}" = 1 ] && continue
            want=1
            WRK_ERRORS=0
            if ! wrk_once "${WRK_PORTS[$s]}" "$P_conns" "$P_depth" "$P_path" "$BENCH_DURATION"; then
                best[$s]=error
                continue
            fi
            [ "$WRK_ERRORS" = 1 ] && errs[$s]=1
            runs[$s]+=" $RPS (${SRV_BUSY:-?}/${CLI_BUSY:-?}/$FOREIGN)"
            if [ "$FOREIGN" -lt "$BENCH_NOISE_PCT" ]; then
                # A clean run beats any noisy one.
                if [ "${clean[$s]}" = 0 ] || [ "$RPS" -gt "${best[$s]}" ]; then
                    best[$s]=$RPS srv[$s]=$SRV_BUSY cli[$s]=$CLI_BUSY foreign[$s]=$FOREIGN clean[$s]=1
                fi
            elif [ "${clean[$s]}" = 0 ] && [ "$RPS" -gt "${best[$s]}" ]; then
                best[$s]=$RPS srv[$s]=$SRV_BUSY cli[$s]=$CLI_BUSY foreign[$s]=$FOREIGN
            fi
        done
        [ "$want" = 0 ] && break
    done
    for s in $WRK_SERVERS; do
        if [ "${best[$s]}" = error ]; then
            log "$s: $rid: wrk failed"
            record "$s" "$rid" error
            continue
        fi
        local kind="best clean"
        [ "${clean[$s]}" = 0 ] && kind="best (all noisy)"
        log "$s: $rid: req/s (server CPU/client CPU/other processes, % busy):${runs[$s]} -> $kind ${best[$s]}"
        NOTE=
        [ "${clean[$s]}" = 0 ] &&
            NOTE="noisy: no run was free of other processes; during this one they used ${foreign[$s]}% of a CPU"
        # The server's CPU had idle time while wrk's was saturated: wrk is the bottleneck.
        if [ -n "${srv[$s]:-}" ] && [ -n "${cli[$s]:-}" ] && [ "${srv[$s]}" -lt 90 ] && [ "${cli[$s]}" -ge 95 ]; then
            NOTE="${NOTE:+$NOTE; }client-bound: the server CPU was ${srv[$s]}% busy, wrk's ${cli[$s]}%"
        fi
        [ "${errs[$s]}" = 1 ] && NOTE="${NOTE:+$NOTE; }wrk reported socket errors or non-2xx responses"
        record "$s" "$rid" "${best[$s]}" "$NOTE"
    done
}

# measure_callgrind SERVER conns=C reqs=R path=P: starts SERVER under
# callgrind, warms it up, zeroes the counters, sends C x R sequential
# keep-alive requests (bench/reqs.c), dumps, and prints total Ir / requests.
measure_callgrind() {
    local server=$1; shift
    local P_conns=4 P_reqs=5000 P_path=/
    params_to_locals "$@"
    local div=${CG_DIVISOR[$server]:-1}
    local per=$((P_reqs / div)); [ "$per" -lt 1 ] && per=1
    local total=$((P_conns * per)) cgout=$OUT/callgrind.$server
    rm -f "$cgout" "$cgout".*
    start_server "$server" valgrind --tool=callgrind --callgrind-out-file="$cgout" \
        --dump-instr=no --collect-jumps=no --compress-strings=no || return 1
    local pid=$SERVER_PID ok=1 dump
    # Warm-up: a tenth of the measured count, at least 100 requests.
    local wper=$((per / 10)); [ "$wper" -lt 25 ] && wper=25
    timeout -k 2 300 taskset -c "$BENCH_CLIENT_CPU" "$BIN/reqs" -q -t 240 -P "$P_path" \
        "$SERVER_PORT" "$P_conns" "$wper" || ok=0
    [ $ok = 1 ] && { timeout -k 2 30 callgrind_control -z "$pid" >/dev/null 2>&1 || ok=0; }
    [ $ok = 1 ] && { timeout -k 2 600 taskset -c "$BENCH_CLIENT_CPU" "$BIN/reqs" -q -t 480 \
        -P "$P_path" "$SERVER_PORT" "$P_conns" "$per" || ok=0; }
    [ $ok = 1 ] && { timeout -k 2 30 callgrind_control -d "$pid" >/dev/null 2>&1 || ok=0; }
    stop_server
    dump=$(find "$OUT" -maxdepth 1 -name "callgrind.$server.*" ! -name '*.txt' | sort | head -n 1)
    if [ $ok = 0 ] || [ -z "$dump" ]; then
        log "$server: the callgrind measurement failed (see $LOGS/$server.*.log)"
        return 1
    fi
    local ir
    ir=$(awk '/^summary:/ {print $2; exit} /^totals:/ {t=$2} END {if (t) print t}' "$dump" | head -n 1)
    [ -n "$ir" ] || { log "$server: no summary/totals line in $dump"; return 1; }
    log "$server: $ir Ir for $total requests ($P_conns connections x $per)"
    # Where the instructions go, for whoever wants to lower them.
    timeout -k 2 60 callgrind_annotate --threshold=100 "$dump" > "$OUT/callgrind.$server.annotate.txt" 2>/dev/null
    NOTE=
    [ "$div" -gt 1 ] && NOTE="measured over $total requests ($P_conns connections x $per), not $((P_conns * P_reqs)): slow under callgrind"
    VALUE=$(awk -v ir="$ir" -v n="$total" 'BEGIN {printf "%.0f", ir / n}')
}

# measure_idle SERVER conns=N path=P: a fresh server, N idle keep-alive
# connections (bench/idle.c), VmRSS before and after, bytes per connection.
measure_idle() {
    local server=$1; shift
    local P_conns=10000 P_path=/
    params_to_locals "$@"
    start_server "$server" || return 1
    local pid=$SERVER_PID port=$SERVER_PORT before after ready=0 closed
    # A few requests first, so one-time lazy set-up is not counted per connection.
    taskset -c "$BENCH_CLIENT_CPU" "$BIN/reqs" -q -t 20 -P "$P_path" "$port" 2 50 >/dev/null
    sleep 0.5
    before=$(rss_kb "$pid")
    local idle_out=$TMP/idle.$server.out
    taskset -c "$BENCH_CLIENT_CPU" "$BIN/idle" -t "$BENCH_IDLE_TIMEOUT" -H $((BENCH_IDLE_TIMEOUT + 30)) \
        -s 8 -f 256 -P "$P_path" "$port" "$P_conns" > "$idle_out" 2> "$LOGS/idle.$server.log" &
    local ipid=$!
    BENCH_PIDS+=("$ipid")
    local deadline=$((SECONDS + BENCH_IDLE_TIMEOUT + 10))
    while [ $SECONDS -lt $deadline ] && kill -0 "$ipid" 2>/dev/null; do
        grep -q '^READY' "$idle_out" 2>/dev/null && break
        sleep 0.2
    done
    ready=$(awk '/^READY/ {print $2}' "$idle_out" 2>/dev/null)
    if [ -n "$ready" ] && [ "$ready" -gt 0 ]; then
        sleep 1
        after=$(rss_kb "$pid")
    fi
    kill_pid "$ipid"
    forget_pid "$ipid"
    closed=$(awk '/^CLOSED/ {print $2}' "$idle_out" 2>/dev/null)
    stop_server
    if [ -z "$ready" ] || [ "$ready" -eq 0 ] || [ -z "$after" ] || [ -z "$before" ]; then
        log "$server: the idle-connection measurement failed (see $LOGS/idle.$server.log)"
        return 1
    fi
    log "$server: VmRSS ${before} kB -> ${after} kB with $ready idle connections${closed:+ (closed by the server while held: $closed)}"
    NOTE=
    [ "$ready" -lt "$P_conns" ] && NOTE="only $ready of $P_conns connections became idle"
    [ -n "$closed" ] && [ "$closed" -gt 0 ] && NOTE="${NOTE:+$NOTE; }$closed closed by the server"
    VALUE=$(awk -v a="$after" -v b="$before" -v n="$ready" 'BEGIN {printf "%.0f", (a - b) * 1024 / n}')
}
