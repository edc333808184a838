#!/usr/bin/env bash
# Soak (issue 19): mixed multi-turn traffic from many keys through deltawire to deltawire-mock, one
# mock fault at a time at a low rate, for a bounded time (bench/soak.mjs has the details). Fails on
# any fidelity error, any client error no injected fault explains, or growing RSS / descriptors.
#   bench/soak.sh [--minutes N] [--build DIR] [soak.mjs options: --workers N --keys N --fault-every-ms MS]
# Default: 10 minutes against build/ (configured and built when missing). Writes bench/out/soak.json,
# and when it fails the logs beside it (bench/soak.mjs says which).
set -euo pipefail
cd "$(dirname "$0")/.."
build=build minutes=10 rest=()
while [ $# -gt 0 ]; do
  case "$1" in
    --minutes) minutes=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    *) rest+=("$1"); shift ;;
  esac
done
[ -f "$build/build.ninja" ] || meson setup "$build" >/dev/null
ninja -C "$build" proxy/deltawire mock/deltawire-mock >/dev/null
mkdir -p bench/out
DW_BUILD_DIR="$PWD/$build" timeout "$(awk "BEGIN {print int($minutes * 60 + 300)}")" \
  node bench/soak.mjs --minutes "$minutes" --json bench/out/soak.json "${rest[@]}"
