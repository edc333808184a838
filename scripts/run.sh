#!/usr/bin/env bash
# Installs the dependencies, builds deltawire and starts it (arguments are passed to deltawire).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
[ -f build/build.ninja ] || meson setup build --buildtype=release >/dev/null
ninja -C build >/dev/null
exec ./build/proxy/deltawire "$@"
