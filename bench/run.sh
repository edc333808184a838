#!/usr/bin/env bash
# deltawire benchmarks (issue 7): upstream bytes, added latency, throughput, memory, each measured
# direct (client -> deltawire-mock) and through deltawire (client -> proxy -> mock over WebSocket)
# in the same run. Prints the tables, writes them into bench/RESULTS.md (between its markers) and
# bench/bench.png.
#   bench/run.sh [--quick]      (--quick: ~2 minutes, fewer turns/samples, no 100k memory point)
#   bench/run.sh --sessions     (only the 100-turn Codex-like session: the bytes table, not written to
#                                RESULTS.md; DW_BENCH_PROXY_ARGS adds proxy flags, e.g.
#                                "--upstream-deflate off", to compare settings)
#   bench/run.sh --sockets      (only the memory per idle upstream socket, each --upstream-deflate mode)
#   bench/run.sh --events       (only table 6: per-event cost and latency, direct vs nginx vs deltawire,
#                                all in front of bench/wsecho; issue 16; DW_BENCH_SAMPLES, DW_BENCH_SHAPES)
#   bench/run.sh --history      (only the history path: proxy CPU per history byte over 1 MB and 4 MB
#                                sessions, with kept bodies (--body-memory default) and without
#                                (--body-memory 0); DW_BENCH_HISTORY_TURNS, default 30)
#   bench/run.sh --link         (only table 7: the 100-turn Codex-like and 1 MB sessions over bench/linkemu,
#                                direct vs deltawire as a client-side sidecar; DW_BENCH_LINK sets the link,
#                                default "--up-mbit 20 --down-mbit 100 --rtt-ms 40"; DW_BENCH_LINK_SESSIONS)
# Needs: scripts/install-deps.sh with DW_WITH_TEST_DEPS=1 (wrk, nghttp2-client, gnuplot-nox).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD B=build-bench OUT=bench/out
QUICK=0 SESSIONS_ONLY=0 SOCKETS_ONLY=0 EVENTS_ONLY=0 LINK_ONLY=0 HISTORY_ONLY=0
[ "${1:-}" = "--quick" ] && QUICK=1
[ "${1:-}" = "--sessions" ] && SESSIONS_ONLY=1
[ "${1:-}" = "--sockets" ] && SOCKETS_ONLY=1
[ "${1:-}" = "--events" ] && EVENTS_ONLY=1
[ "${1:-}" = "--link" ] && LINK_ONLY=1
[ "${1:-}" = "--history" ] && HISTORY_ONLY=1
CMD="bench/run.sh${1:+ $1}"
mkdir -p "$OUT"
rm -f "$OUT"/*.tsv "$OUT"/*.txt

# ---- build: a release build of the proxy and mock, the driver and the tiny upstream ----
[ -d "$B" ] || meson setup "$B" --buildtype=release >/dev/null
ninja -C "$B" proxy/deltawire mock/deltawire-mock bench/dwbench bench/wsecho bench/linkemu bench/floors >/dev/null
DWBENCH=$B/bench/dwbench WSECHO=$B/bench/wsecho

# ---- processes: every one still running is killed on exit ----
# On exit, the jobs still running (or not yet reaped): a pid killed and reaped earlier in the run may
# belong to someone else's process by now (pids wrap), so no list of our own is kept.
cleanup() { local j; j=$(jobs -p); [ -z "$j" ] || kill $j 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT

# start NAME LOGFILE CMD...: runs CMD in the background, waits (max 5 s) for "listening on" and sets
# PORT and PID
start() {
  local log=$1; shift
  : >"$log" # emptied here: the child truncates it only once it runs, after a stale port could be read
  "$@" 2>"$log" &
  PID=$!
  for _ in $(seq 50); do
    PORT=$(grep -o 'listening on 127.0.0.1:[0-9]*' "$log" | head -1 | cut -d: -f2) || true
    [ -n "$PORT" ] && return 0
    sleep 0.1
  done
  echo "run.sh: $* did not start:" >&2; cat "$log" >&2; exit 1
}

# The mock answers every turn with a tool call, so long sessions never end early. The proxy runs
# with one thread (its only mode) and logs warnings only, so per-request log lines are not measured.
start "$OUT/mock.log" "$B/mock/deltawire-mock" --listen 127.0.0.1:0 --tool-turns 1000000
MOCK=$PORT MOCK_PID=$PID
# shellcheck disable=SC2206 # DW_BENCH_PROXY_ARGS is split on purpose
PROXY_ARGS=(--listen 127.0.0.1:0 --log-level warn --max-conversations 1000000 ${DW_BENCH_PROXY_ARGS:-})
start "$OUT/proxy.log" "$B/proxy/deltawire" "${PROXY_ARGS[@]}" --upstream "http://127.0.0.1:$MOCK/v1"
PROXY=$PORT PROXY_PID=$PID
DIRECT_URL="http://127.0.0.1:$MOCK/v1/responses" PROXY_URL="http://127.0.0.1:$PROXY/v1/responses"
ARGS=(--direct "$DIRECT_URL" --proxy "$PROXY_URL" --mock "http://127.0.0.1:$MOCK/" --proxy-pid "$PROXY_PID")

# ---- memory per idle upstream socket: a fresh proxy per --upstream-deflate mode, 20 sockets of
# warm-up (the baseline), then N more, each left idle after a two-turn Codex-like conversation ----
sockets() {
  local n=200 mode R0 R1
  printf 'mode\tsockets\trss_kb\tbase_kb\tbytes_per_socket\n' >"$OUT/sockets.tsv"
  for mode in off on no-context-takeover; do
    start "$OUT/proxy-sockets.log" "$B/proxy/deltawire" "${PROXY_ARGS[@]}" --upstream "http://127.0.0.1:$MOCK/v1" \
      --max-conns 1000 --upstream-deflate $mode
    local url="http://127.0.0.1:$PORT/v1/responses" pid=$PID
    timeout 300 "$DWBENCH" sockets --proxy "$url" --mock "http://127.0.0.1:$MOCK/" --count 20 --tag "w$mode" >/dev/null
    sleep 0.5; R0=$(awk '/VmRSS/{print $2}' "/proc/$pid/status")
    timeout 300 "$DWBENCH" sockets --proxy "$url" --mock "http://127.0.0.1:$MOCK/" --count $n --tag "m$mode" >/dev/null
    sleep 0.5; R1=$(awk '/VmRSS/{print $2}' "/proc/$pid/status")
    printf '%s\t%s\t%s\t%s\t%s\n' "$mode" $n "$R1" "$R0" $(( (R1 - R0) * 1024 / n )) >>"$OUT/sockets.tsv"
    kill "$pid"; wait "$pid" 2>/dev/null || true
  done
}
# ---- per-event cost and latency against nginx (issue 16): bench/wsecho answers plain HTTP SSE to the
# direct and nginx arms and WebSocket to deltawire, the same events; nginx is Debian's, one worker,
# a plain streaming reverse proxy (buffering off, keep-alive upstream), as a user would put it there.
# 600 warm-up rounds first: every new conversation here is one more cached lane, and deltawire opens
# a connection (a handshake on that request's path) each time its lanes are all caching one, up to
# 16 connections of 33 lanes; the samples measure the steady state after that ----
events() {
  local n=$1 conf=$OUT/nginx ngx master worker= srv=() drv=()
  # the servers on one core, the driver on the other: unpinned, a request whose processes wake on
  # another (idle) vCPU pays the host's wakeup, 60-80 µs here, on one request in three or so
  if [ "$(nproc)" -ge 2 ]; then srv=(taskset -c 0) drv=(taskset -c 1); fi
  start "$OUT/wsecho-events.log" "${srv[@]}" "$WSECHO" 0
  local up=$PORT up_pid=$PID
  start "$OUT/proxy-events.log" "${srv[@]}" "$B/proxy/deltawire" "${PROXY_ARGS[@]}" --upstream "http://127.0.0.1:$up/v1"
  local px=$PORT px_pid=$PID
  # the same without permessage-deflate: zlib's work and wsecho's compression out of the way
  start "$OUT/proxy-events-plain.log" "${srv[@]}" "$B/proxy/deltawire" "${PROXY_ARGS[@]}" --upstream "http://127.0.0.1:$up/v1" \
    --upstream-deflate off
  local pp=$PORT pp_pid=$PID
  ngx=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  mkdir -p "$conf/logs"
  cat >"$conf/nginx.conf" <<EOF
worker_processes 1;
pid $ROOT/$conf/nginx.pid;
error_log $ROOT/$conf/logs/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path $ROOT/$conf/body; proxy_temp_path $ROOT/$conf/proxy;
  fastcgi_temp_path $ROOT/$conf/f; uwsgi_temp_path $ROOT/$conf/u; scgi_temp_path $ROOT/$conf/s;
  upstream wsecho { server 127.0.0.1:$up; keepalive 16; keepalive_requests 1000000; }
  server {
    listen 127.0.0.1:$ngx;
    client_max_body_size 64m;
    client_body_buffer_size 1m;
    location / {
      proxy_pass http://wsecho;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_request_buffering off;
    }
  }
}
EOF
  "${srv[@]}" nginx -p "$ROOT/$conf" -c "$ROOT/$conf/nginx.conf" -g 'daemon off;' 2>"$OUT/nginx.log" &
  master=$!
  for _ in $(seq 50); do worker=$(pgrep -P "$master" | head -1) || true; [ -n "$worker" ] && break; sleep 0.1; done
  [ -n "$worker" ] || { echo "run.sh: nginx did not start:" >&2; cat "$OUT/nginx.log" >&2; exit 1; }
  echo "events: $n samples per shape (direct, nginx $(nginx -v 2>&1 | cut -d/ -f2), deltawire)" >&2
  timeout 900 "${drv[@]}" "$DWBENCH" events --direct "http://127.0.0.1:$up/v1/responses" --nginx "http://127.0.0.1:$ngx/v1/responses" \
    --proxy "http://127.0.0.1:$px/v1/responses" --proxy-pid "$px_pid" --nginx-pid "$worker" --upstream-pid "$up_pid" \
    --proxy-plain "http://127.0.0.1:$pp/v1/responses" --proxy-plain-pid "$pp_pid" \
    --shapes "${DW_BENCH_SHAPES:-25:8,250:8,2500:8,83:500}" --samples "$n" --size 1024 --warmup 600 --out "$OUT/events.tsv"
  # the plot's rows: mean middle-process CPU (µs) per response by events, 8 B deltas
  awk -F'\t' 'NR>1 && $2==8 && $4!="direct" {k=$1; if(!(k in s)) o[++n]=k; s[k]=1; c[k,$4]+=$9; m[k,$4]++}
    END{print "events\tnginx_us\tdeltawire_us\tdeltawire_plain_us"; for(i=1;i<=n;i++){k=o[i]; printf "%s\t%.1f\t%.1f\t%.1f\n", k,
        c[k,"nginx"]/m[k,"nginx"]/1000, c[k,"deltawire"]/m[k,"deltawire"]/1000, c[k,"deltawire-plain"]/m[k,"deltawire-plain"]/1000}}' \
    "$OUT/events.tsv" >"$OUT/events-summary.tsv"
  kill "$master" "$px_pid" "$pp_pid" "$up_pid"
}
if [ $EVENTS_ONLY = 1 ]; then
  events "${DW_BENCH_SAMPLES:-300}"
  bench/report.sh "$OUT" "$CMD" events
  exit 0
fi

# ---- end to end over an emulated link (issue 16): bench/linkemu between the client side and the mock,
# one link per arm (so each arm's bytes are its own): direct = client -> link -> mock (HTTP);
# deltawire = client -> deltawire (a sidecar on the client's side) -> link -> mock (WebSocket).
# Session wall time = the sum of the turns' times to last byte (the driver's think time excluded). ----
link() {
  local name turns bytes shape lu ld lpid lpid2 px px_pid
  printf 'session\tarm\tturns\twall_ns\tup_bytes\tdown_bytes\n' >"$OUT/link.tsv"
  for s in ${DW_BENCH_LINK_SESSIONS:-codex:100:0 large1m:100:1048576}; do
    IFS=: read -r name turns bytes <<<"$s"
    shape=large; [ "$name" = codex ] && shape=codex
    start "$OUT/link-direct.log" "$B/bench/linkemu" 0 "127.0.0.1:$MOCK" $LINK_ARGS
    lu=$PORT lpid=$PID
    start "$OUT/link-proxy.log" "$B/bench/linkemu" 0 "127.0.0.1:$MOCK" $LINK_ARGS
    ld=$PORT lpid2=$PID
    start "$OUT/proxy-link.log" "$B/proxy/deltawire" "${PROXY_ARGS[@]}" --upstream "http://127.0.0.1:$ld/v1"
    px=$PORT px_pid=$PID
    echo "link session $name: $turns turns ($LINK_ARGS)" >&2
    timeout 900 "$DWBENCH" session --direct "http://127.0.0.1:$lu/v1/responses" --proxy "http://127.0.0.1:$px/v1/responses" \
      --mock "http://127.0.0.1:$MOCK/" --proxy-pid "$px_pid" --shape $shape --turns "$turns" --target-bytes "$bytes" \
      --out "$OUT/link-$name.tsv"
    kill -USR1 "$lpid" "$lpid2"; sleep 0.3
    for arm in direct proxy; do
      local lp=$lpid col=7; [ $arm = proxy ] && lp=$lpid2 col=9
      read -r up down <<<"$(grep 'linkemu: up' "$OUT/link-$arm.log" | tail -1 | awk '{print $3, $5}')"
      awk -F'\t' -v n="$name" -v a="$arm" -v c=$col -v u="$up" -v d="$down" \
        'NR>1 {w+=$c; t++} END{printf "%s\t%s\t%d\t%.0f\t%s\t%s\n", n, a, t, w, u, d}' "$OUT/link-$name.tsv" >>"$OUT/link.tsv"
    done
    kill "$px_pid" "$lpid" "$lpid2"
  done
}
# ---- proxy CPU per history byte (issue 16): "large" sessions whose last body is 1 MB / 4 MB, a fresh
# proxy per run, CPU summed over the turns and divided by the bodies' bytes ----
history() {
  local turns=${DW_BENCH_HISTORY_TURNS:-30} bytes memory px px_pid
  printf 'history_bytes\tbody_memory\tturns\tmean_body\tproxy_cpu_ns\tns_per_byte\tms_per_turn\n' >"$OUT/history.tsv"
  for bytes in 1048576 4194304; do
    for memory in default 0; do
      local extra=(); [ $memory = 0 ] && extra=(--body-memory 0)
      start "$OUT/proxy-history.log" "$B/proxy/deltawire" "${PROXY_ARGS[@]}" --upstream "http://127.0.0.1:$MOCK/v1" "${extra[@]}"
      px=$PORT px_pid=$PID
      echo "history: $bytes-byte session, --body-memory $memory" >&2
      timeout 900 "$DWBENCH" session --direct "$DIRECT_URL" --proxy "http://127.0.0.1:$px/v1/responses" \
        --mock "http://127.0.0.1:$MOCK/" --proxy-pid "$px_pid" --shape large --turns "$turns" --target-bytes "$bytes" \
        --out "$OUT/history-$bytes-$memory.tsv" >/dev/null
      awk -F'\t' -v b="$bytes" -v m="$memory" 'NR==1 {for (i=1;i<=NF;i++) c[$i]=i; next}
        $c["proxy_cpu_ns"] > 0 {cpu+=$c["proxy_cpu_ns"]; body+=$c["direct_bytes"]; t++}
        END {printf "%s\t%s\t%d\t%.0f\t%.0f\t%.2f\t%.2f\n", b, m, t, body/t, cpu, cpu/body, cpu/t/1e6}' \
        "$OUT/history-$bytes-$memory.tsv" >>"$OUT/history.tsv"
      kill "$px_pid"; wait "$px_pid" 2>/dev/null || true
    done
  done
  column -t -s $'\t' "$OUT/history.tsv"
}
if [ $HISTORY_ONLY = 1 ]; then
  history
  exit 0
fi
LINK_ARGS=${DW_BENCH_LINK:---up-mbit 20 --down-mbit 100 --rtt-ms 40}
if [ $LINK_ONLY = 1 ]; then
  link
  bench/report.sh "$OUT" "$CMD" link
  exit 0
fi

if [ $SOCKETS_ONLY = 1 ]; then
  sockets
  column -t "$OUT/sockets.tsv"
  exit 0
fi

if [ $SESSIONS_ONLY = 1 ]; then
  SESSIONS="codex:100:0"
elif [ $QUICK = 1 ]; then
  SESSIONS="codex:100:0 large1m:50:1048576 large4m:50:4194304"
  LAT="1024:100 40960:60 1048576:20 4194304:10"
  TP_SECS=2 MEM_STEPS="1000 10000"
else
  SESSIONS="codex:200:0 large1m:100:1048576 large4m:200:4194304"
  LAT="1024:400 40960:200 1048576:60 4194304:30"
  TP_SECS=6 MEM_STEPS="1000 10000 100000"
fi

# ---- 1. upstream bytes: synthetic sessions in lockstep (direct and proxy turn by turn) ----
for s in $SESSIONS; do
  IFS=: read -r name turns bytes <<<"$s"
  shape=large; [ "$name" = codex ] && shape=codex
  echo "session $name: $turns turns" >&2
  timeout 600 "$DWBENCH" session "${ARGS[@]}" --shape $shape --turns "$turns" --target-bytes "$bytes" \
    --out "$OUT/session-$name.tsv"
done

if [ $SESSIONS_ONLY = 1 ]; then
  bench/report.sh "$OUT" "$CMD" sessions
  exit 0
fi

# ---- 2. latency: second turns of two-turn conversations at each size ----
# Chat Completions sessions (issue 18): the Codex-like prefix spoken as chat, against the mock's
# reasoning model: by default every turn goes in full over the warm socket; --chat-reasoning carry
# chains them by previous_response_id.
CHAT_TURNS=100; [ $QUICK = 1 ] && CHAT_TURNS=50
start "$OUT/proxy-carry.log" "$B/proxy/deltawire" "${PROXY_ARGS[@]}" --chat-reasoning carry --upstream "http://127.0.0.1:$MOCK/v1"
CARRY_URL="http://127.0.0.1:$PORT/v1/responses" CARRY_PID=$PID
echo "chat sessions: $CHAT_TURNS turns, full and carry" >&2
timeout 600 "$DWBENCH" session "${ARGS[@]}" --api chat --shape codex --turns "$CHAT_TURNS" --out "$OUT/chat-session-full.tsv"
timeout 600 "$DWBENCH" session --direct "$DIRECT_URL" --proxy "$CARRY_URL" --mock "http://127.0.0.1:$MOCK/" \
  --proxy-pid "$CARRY_PID" --api chat --shape codex --turns "$CHAT_TURNS" --out "$OUT/chat-session-carry.tsv"

for l in $LAT; do
  IFS=: read -r size n <<<"$l"
  echo "latency $size B: $n samples" >&2
  timeout 600 "$DWBENCH" latency "${ARGS[@]}" --size "$size" --samples "$n" --out "$OUT/latency-$size.tsv"
done
curl -s -d "{}" "http://127.0.0.1:$MOCK/__mock/reset" >/dev/null

# ---- 3. throughput: small one-turn bodies, wrk (HTTP/1.1) and h2load (HTTP/2, h2c) ----
# The mock spends ~0.3 ms of CPU per turn, so a second proxy in front of wsecho (3 canned frames
# per request) shows what the proxy itself sustains.
start "$OUT/wsecho.log" "$WSECHO" 0
ECHO=$PORT
start "$OUT/proxy-echo.log" "$B/proxy/deltawire" "${PROXY_ARGS[@]}" --upstream "http://127.0.0.1:$ECHO/v1"
PROXY_ECHO=$PORT
printf '%s' '{"model":"gpt-5.5","store":false,"stream":true,"input":[{"type":"message","role":"user","content":[{"type":"input_text","text":"hello"}]}]}' >"$OUT/small.json"
printf 'target\tproto\tconc\treq_s\tnon2xx\n' >"$OUT/throughput.tsv"
tp() { # target url proto conc
  local rps bad t=$(( $4 < 2 ? 1 : 2 ))
  if [ "$3" = h1 ]; then
    DW_BODY_FILE="$OUT/small.json" timeout 60 wrk -t$t -c"$4" -d"${TP_SECS}s" -s bench/post.lua "$2" >"$OUT/tp.txt"
    rps=$(awk '/Requests\/sec/{print int($2)}' "$OUT/tp.txt")
    bad=$(awk '/Non-2xx/{print $NF}' "$OUT/tp.txt"); bad=${bad:-0}
  else
    timeout 60 h2load -t$t -c"$4" -m1 -D"$TP_SECS" -d "$OUT/small.json" -H 'content-type: application/json' \
      -H 'authorization: Bearer sk-bench-1' "$2" >"$OUT/tp.txt"
    rps=$(awk '/^finished in/{print int($4)}' "$OUT/tp.txt")
    bad=$(awk '/^status codes/{print $5+$7+$9}' "$OUT/tp.txt")
  fi
  printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$3" "$4" "$rps" "$bad" >>"$OUT/throughput.tsv"
  curl -s -d "{}" "http://127.0.0.1:$MOCK/__mock/reset" >/dev/null
}
for c in 1 16 256; do
  echo "throughput c=$c" >&2
  tp mock-direct "$DIRECT_URL" h1 $c       # the mock speaks no cleartext HTTP/2
  tp proxy+mock "$PROXY_URL" h1 $c
  tp proxy+mock "$PROXY_URL" h2 $c
  tp proxy+wsecho "http://127.0.0.1:$PROXY_ECHO/v1/responses" h1 $c
  tp proxy+wsecho "http://127.0.0.1:$PROXY_ECHO/v1/responses" h2 $c
done

# ---- 4. memory: distinct one-turn conversations through a fresh proxy (3 items each) ----
start "$OUT/proxy-mem.log" "$B/proxy/deltawire" "${PROXY_ARGS[@]}" --upstream "http://127.0.0.1:$MOCK/v1"
MEM_URL="http://127.0.0.1:$PORT/v1/responses" MEM_PID=$PID
rss() { awk '/VmRSS/{print $2}' "/proc/$MEM_PID/status"; }
conversations() { # tag count
  timeout 300 "$DWBENCH" conversations --proxy "$MEM_URL" --mock "http://127.0.0.1:$MOCK/" --count "$2" --tag "$1"
}
conversations warm 200 >/dev/null   # connection pools, h2o and allocator caches: the baseline
BASE=$(rss) TOTAL=0 PREV=0
printf 'conversations\trss_kb\tbase_kb\tbytes_per_conv\n' >"$OUT/memory.tsv"
for m in $MEM_STEPS; do
  echo "memory: $m conversations" >&2
  TOTAL=$(( TOTAL + $(conversations "m$m" $(( m - PREV ))) )); PREV=$m
  sleep 0.5
  R=$(rss)
  printf '%s\t%s\t%s\t%s\n' "$TOTAL" "$R" "$BASE" $(( (R - BASE) * 1024 / TOTAL )) >>"$OUT/memory.tsv"
done

sockets
events 300
link
echo "floors" >&2
"$B/bench/floors" >"$OUT/floors.tsv"

# ---- tables, plot, RESULTS.md ----
# The report replaces what lies between RESULTS.md's two markers; the findings written by hand
# around them stay (a file without the markers is the report alone).
bench/report.sh "$OUT" "$CMD" | tee "$OUT/report.md"
BEGIN_MARK='<!-- bench/run.sh: generated from here -->' END_MARK='<!-- bench/run.sh: generated to here -->'
if grep -qxF "$BEGIN_MARK" bench/RESULTS.md 2>/dev/null && grep -qxF "$END_MARK" bench/RESULTS.md; then
  awk -v b="$BEGIN_MARK" -v e="$END_MARK" -v r="$OUT/report.md" \
    '$0==b {print; while ((getline l < r) > 0) print l; skip=1; next} $0==e {skip=0} !skip' \
    bench/RESULTS.md >"$OUT/RESULTS.md.new"
else
  { echo "$BEGIN_MARK"; cat "$OUT/report.md"; echo "$END_MARK"; } >"$OUT/RESULTS.md.new"
fi
mv "$OUT/RESULTS.md.new" bench/RESULTS.md
gnuplot -e "dir='$OUT'" bench/plot.gp && echo "plot: bench/bench.png" >&2
