#!/usr/bin/env bash
# Installs everything deltawire needs to build, run and test, from Debian 12 packages (as root).
set -euo pipefail

pkgs=(
  build-essential pkg-config meson ninja-build
  libh2o-dev libwebsockets-dev libjansson-dev libuv1-dev libssl-dev libcriterion-dev
  zlib1g-dev libzstd-dev libbrotli-dev
  ca-certificates curl openssl
)
# tests and benchmarks: real clients run on Node.js; curl speaks HTTP/2; gnuplot draws the plots;
# perf profiles the proxy (bench/profile.sh);
# nginx and HAProxy run the deploy/ configurations (as the tests' own processes); headless Chromium
# renders the status page; Prometheus evaluates the Grafana dashboard's queries; debootstrap and
# podman (with runc) build and run the container image without pulling a base image; clang and its
# sanitizer runtime run the unit tests under clang's ASan+UBSan
pkgs_test=(nodejs npm gnuplot-nox wrk linux-perf nghttp2-client valgrind systemd util-linux python3-yaml iproute2 zstd
  nginx-light haproxy chromium fonts-dejavu-core prometheus debootstrap podman runc clang libclang-rt-14-dev)

missing=()
for p in "${pkgs[@]}" ${DW_WITH_TEST_DEPS:+"${pkgs_test[@]}"}; do
  case "$p" in
    nodejs|npm) command -v "${p/nodejs/node}" >/dev/null 2>&1 && continue ;;
  esac
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
