#!/usr/bin/env bash
# Where the proxy's CPU goes on the response path (issue 16): bench/wsecho upstream, wrk (c=4, one
# thread) posting one-turn streaming requests of ~1 KB, perf (linux-perf) sampling the proxy with
# DWARF call graphs. Per shape: proxy CPU per response (from /proc, 10 ms ticks over the run), the
# share of each library, and the proxy's own functions by inclusive share.
#   bench/profile.sh [SHAPE...]   SHAPE = EVENTS:DELTA_BYTES, default "25:8 83:500"; DW_PROFILE_SECS (3);
#                                DW_PROFILE_PROXY_ARGS adds proxy flags (e.g. "--upstream-deflate off")
# libwebsockets 4.1.6 is stripped in Debian (no -dbgsym here): its samples show as addresses. Those
# in the ws role's receive path lie between the exported lws_close_reason and
# lws_context_init_extensions; the script sums them as "lws ws parser (by address)".
set -euo pipefail
cd "$(dirname "$0")/.."
B=build-bench SECS=${DW_PROFILE_SECS:-3} OUT=bench/out/profile
mkdir -p "$OUT"
[ -d "$B" ] || meson setup "$B" --buildtype=release >/dev/null
ninja -C "$B" proxy/deltawire bench/wsecho >/dev/null
command -v perf >/dev/null && command -v wrk >/dev/null || { echo "profile.sh: needs perf (linux-perf) and wrk" >&2; exit 1; }
# On exit, the jobs still running (or not yet reaped): a pid killed and reaped earlier in the run may
# belong to someone else's process by now (pids wrap), so no list of our own is kept.
cleanup() { local j; j=$(jobs -p); [ -z "$j" ] || kill $j 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT
start() { # LOG CMD...: waits (max 5 s) for "listening on 127.0.0.1:PORT"; sets PORT and PID
  local log=$1; shift; : >"$log"; "$@" 2>"$log" & PID=$!
  for _ in $(seq 50); do PORT=$(grep -o 'listening on 127.0.0.1:[0-9]*' "$log" | head -1 | cut -d: -f2) || true
    [ -n "$PORT" ] && return 0; sleep 0.1; done
  echo "profile.sh: $* did not start" >&2; cat "$log" >&2; exit 1
}
start "$OUT/wsecho.log" "$B/bench/wsecho" 0; UP=$PORT
# shellcheck disable=SC2086 # DW_PROFILE_PROXY_ARGS is split on purpose
start "$OUT/proxy.log" "$B/proxy/deltawire" --listen 127.0.0.1:0 --log-level warn --max-conversations 1000000 \
  --upstream "http://127.0.0.1:$UP/v1" ${DW_PROFILE_PROXY_ARGS:-}; PX=$PID PXPORT=$PORT
LWS=$(ldd "$B/proxy/deltawire" | awk '/libwebsockets.so/{print $3}')
read -r LO HI < <(nm -D --defined-only "$LWS" | awk '$3=="lws_close_reason"{lo=$1} $3=="lws_context_init_extensions"{hi=$1} END{print lo, hi}')
for shape in ${*:-25:8 83:500}; do
  ev=${shape%%:*} db=${shape##*:}
  printf '{"model":"m","input":[{"role":"user","content":"%s"}],"stream":true,"store":false,"metadata":{"wsecho_events":"%s","wsecho_delta_bytes":"%s"}}' \
    "$(head -c 900 /dev/zero | tr '\0' x)" "$ev" "$db" >"$OUT/body.json"
  export DW_BODY_FILE=$OUT/body.json
  url="http://127.0.0.1:$PXPORT/v1/responses"
  wrk -t1 -c4 -d1s -s bench/post.lua "$url" >/dev/null # warm: sockets open, caches full
  t0=$(awk '{print $14+$15}' "/proc/$PX/stat")
  perf record -q --call-graph dwarf,16384 -F 1999 -o "$OUT/perf-$ev-$db.data" -p "$PX" -- sleep "$SECS" >/dev/null 2>&1 &
  pf=$!
  wrk -t1 -c4 -d"${SECS}s" -s bench/post.lua "$url" >"$OUT/wrk-$ev-$db.txt"
  wait $pf || true
  t1=$(awk '{print $14+$15}' "/proc/$PX/stat")
  n=$(grep -o '[0-9]* requests in' "$OUT/wrk-$ev-$db.txt" | cut -d' ' -f1)
  echo "== $ev events x $db B: $n responses, proxy CPU $(( (t1 - t0) * 10000000 / n / 1000 )) us per response (wrk c=4, perf attached)"
  perf report -q -i "$OUT/perf-$ev-$db.data" --no-children --sort dso --stdio -g none 2>/dev/null |
    awk 'NF>=2 && $1 ~ /%$/ {printf "   %-28s %s\n", $2, $1}' | head -8
  perf report -q -i "$OUT/perf-$ev-$db.data" --no-children --sort dso,symbol --stdio -g none 2>/dev/null |
    python3 -c 'import sys
lo, hi = int(sys.argv[1], 16), int(sys.argv[2], 16)
s = sum(float(f[0].rstrip("%")) for f in (l.split() for l in sys.stdin)
        if len(f) >= 4 and "libwebsockets" in f[1] and f[3].startswith("0x") and lo <= int(f[3], 16) < hi)
print("   %-28s %.2f%%" % ("lws ws parser (by address)", s))' "$LO" "$HI"
  echo "   proxy functions, inclusive:"
  perf report -q -i "$OUT/perf-$ev-$db.data" --children --sort dso,symbol --stdio -g none 2>/dev/null |
    awk '$3 ~ /deltawire/ && $1+0 >= 2 {printf "     %-34s %s\n", $5, $1}' | head -14
done
