#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/fuzz_*.c; clang, ASan+UBSan) in build-fuzz/ and runs each
# for SECONDS (default 60), seeded from the captured client traffic (seeds.mjs) plus the committed
# tests/fuzz/corpus/<target>/. The corpus each run grows is kept in build-fuzz/fuzz/corpus/, so
# longer runs pick up where the last stopped. Fails on any finding (crash, sanitizer report, leak,
# broken invariant, timeout); reproducers go to build-fuzz/fuzz/findings/.
# Usage: tests/fuzz/run.sh [SECONDS] [TARGET...]   e.g. tests/fuzz/run.sh 3600 json_scan
set -uo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(json_scan canon sse frame transcripts body_decode http1_framing bodies)
dir=${DW_FUZZ_BUILD_DIR:-build-fuzz}
work="$dir/fuzz"

mkdir -p "$work"
if [ ! -f "$dir/build.ninja" ]; then
  CC=clang meson setup "$dir" -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false \
    --buildtype=debugoptimized >"$work/setup.log" 2>&1 || { cat "$work/setup.log"; echo "fuzz: setup failed"; exit 1; }
fi
ninja -C "$dir" >"$work/build.log" 2>&1 || { cat "$work/build.log"; echo "fuzz: build failed"; exit 1; }
node tests/fuzz/seeds.mjs tests/fixtures/clients "$work/seeds" || { echo "fuzz: no seeds"; exit 1; }

declare -A max_len=([json_scan]=65536 [frame]=65536 [canon]=16384 [sse]=16384 [transcripts]=4096 [body_decode]=65536
  [http1_framing]=8192 [bodies]=65536)
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
failed=0
for t in "${targets[@]}"; do
  mkdir -p "$work/corpus/$t" "$work/findings"
  dirs=("$work/corpus/$t" "$work/seeds/$t")
  [ -d "tests/fuzz/corpus/$t" ] && dirs+=("tests/fuzz/corpus/$t")
  log="$work/$t.log"
  "$dir/tests/fuzz/fuzz_$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=1024 -max_len="${max_len[$t]:-16384}" \
    -print_final_stats=1 -artifact_prefix="$work/findings/$t-" "${dirs[@]}" >"$log" 2>&1
  rc=$?
  execs=$(grep -oE 'stat::number_of_executed_units: [0-9]+' "$log" | awk '{print $2}')
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -n 1 | awk '{print $2}')
  if [ $rc -eq 0 ]; then
    echo "fuzz $t: ok, ${execs:-?} executions in ${secs}s, coverage ${cov:-?}"
  else
    failed=$((failed + 1))
    echo "fuzz $t: FINDING (exit $rc), reproducer in $work/findings/:"
    grep -E 'ERROR|SUMMARY|fuzz_[a-z0-9_]+: |runtime error|Test unit written' "$log" | head -n 20
    echo "(full log: $log; replay: $dir/tests/fuzz/fuzz_$t FILE)"
  fi
done
[ $failed -eq 0 ]
