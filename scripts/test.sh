#!/usr/bin/env bash
# Builds deltawire with warnings as errors three times: plain and ASan+UBSan with the default
# compiler, and ASan+UBSan with clang (whose UBSan checks more, e.g. pointer arithmetic on NULL).
# Installs the pinned npm clients into the build tree and runs the whole suite against the first two
# builds: criterion unit tests and the Node integration tests (proxy + deltawire-mock + real clients
# on loopback); the clang build runs the unit tests only, which is cheap. Ends with one line,
# "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
export DW_FIXTURES_DIR="${DW_FIXTURES_DIR:-$root/tests/fixtures/clients}"

passed=0
failed=0
count_meson() { # $1: meson test log
  local ok fail
  ok=$(grep -E '^Ok:' "$1" | awk '{print $2}'); fail=$(grep -E '^(Fail|Timeout):' "$1" | awk '{s+=$2} END {print s+0}')
  passed=$((passed + ${ok:-0})); failed=$((failed + ${fail:-0}))
}
count_node() { # $1: node --test output
  local ok fail
  ok=$(grep -E '^# pass ' "$1" | awk '{print $3}'); fail=$(grep -E '^# fail ' "$1" | awk '{print $3}')
  passed=$((passed + ${ok:-0})); failed=$((failed + ${fail:-0}))
  [ -n "$ok" ] || failed=$((failed + 1))
}

clients="$root/build/clients"
bash tests/clients/install.sh "$clients" || echo "warning: npm clients could not be installed"

for variant in plain asan clang-asan; do
  dir="build-test-$variant"
  opts=(-Dbuildtype=debugoptimized -Dwerror=true)
  [ "$variant" != plain ] && opts+=(-Db_sanitize=address,undefined -Db_lundef=false)
  # options are re-applied to an existing build directory, so a stale one cannot drop werror
  if [ -f "$dir/build.ninja" ]; then
    meson configure "$dir" "${opts[@]}" >/dev/null
  elif [ "$variant" = clang-asan ]; then
    CC=clang meson setup "$dir" "${opts[@]}" >/dev/null
  else
    meson setup "$dir" "${opts[@]}" >/dev/null
  fi
  if ! ninja -C "$dir" >"$dir.build.log" 2>&1; then
    cat "$dir.build.log"; echo "build ($variant) failed"; failed=$((failed + 1)); continue
  fi
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  echo "== unit tests ($variant)"
  meson test -C "$dir" --print-errorlogs 2>&1 | tee "$dir.unit.log" | grep -vE '^\s*$' | tail -n 25
  count_meson "$dir.unit.log"
  [ "$variant" = clang-asan ] && continue
  echo "== integration tests ($variant)"
  DW_BUILD_DIR="$root/$dir" DW_CLIENTS_DIR="$clients" DW_VARIANT="$variant" \
    timeout 1500 node --test --test-concurrency=1 --test-timeout=180000 tests/integration/ 2>&1 | tee "$dir.integration.log" | tail -n 40
  count_node "$dir.integration.log"
  if [ "$variant" = plain ]; then
    # the core and recovery paths once more with the proxy under valgrind: no memory error, no leak
    echo "== integration tests under valgrind (core, recovery)"
    DW_BUILD_DIR="$root/$dir" DW_VALGRIND=1 timeout 1500 node --test --test-concurrency=1 --test-timeout=300000 \
      tests/integration/core.test.mjs tests/integration/recovery.test.mjs 2>&1 | tee "$dir.valgrind.log" | tail -n 12
    count_node "$dir.valgrind.log"
  fi
done

# one minute of the soak (bench/soak.sh runs ten): faults survived, fidelity, flat RSS and fds
echo "== soak (1 minute)"
if bash bench/soak.sh --minutes 1 --build build-test-plain 2>&1 | tee build-soak.log | grep -E '^soak: '; then
  passed=$((passed + 1))
else
  failed=$((failed + 1))
fi

# libFuzzer targets of the pure libraries, 30 s each, 8 targets (tests/fuzz/run.sh runs them longer)
echo "== fuzz targets"
bash tests/fuzz/run.sh "${DW_FUZZ_SECONDS:-30}" 2>&1 | tee build-fuzz.log
fuzz_rc=${PIPESTATUS[0]}
# target names may hold digits (http1_framing): a narrower pattern once let its findings pass unseen
ok=$(grep -cE '^fuzz [^ :]+: ok' build-fuzz.log); bad=$(grep -cE '^fuzz [^ :]+: FINDING|^fuzz: ' build-fuzz.log)
[ "$fuzz_rc" -eq 0 ] || [ "$bad" -gt 0 ] || bad=1 # failed without saying how
passed=$((passed + ok)); failed=$((failed + bad))

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
