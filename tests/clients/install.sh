#!/bin/sh
# Install the pinned client packages used by the integration tests into DIR
# (never into the repo). Idempotent: does nothing when DIR already has them.
#   tests/clients/install.sh DIR
set -eu

if [ $# -ne 1 ]; then
	echo "usage: $0 DIR" >&2
	exit 2
fi
dir=$1
pins="@openai/codex@0.169.0 openai@7.57.0 ai@6.0.326 @ai-sdk/openai@3.0.141 zod@4.6.7 @langchain/openai@1.6.0 @langchain/core@1.4.0"

installed() {
	# $1 = name, $2 = version
	f="$dir/node_modules/$1/package.json"
	[ -f "$f" ] && node -e 'const p=require(process.argv[1]); process.exit(p.version===process.argv[2]?0:1)' "$f" "$2"
}

missing=0
for p in $pins; do
	name=${p%@*}
	version=${p##*@}
	installed "$name" "$version" || missing=1
done
if [ $missing -eq 0 ] && [ -x "$dir/node_modules/.bin/codex" ]; then
	echo "clients already installed in $dir"
	exit 0
fi

mkdir -p "$dir"
[ -f "$dir/package.json" ] || printf '{"name":"deltawire-test-clients","private":true}\n' >"$dir/package.json"
# shellcheck disable=SC2086
npm install --prefix "$dir" --no-audit --no-fund --save-exact $pins
for p in $pins; do
	installed "${p%@*}" "${p##*@}" || { echo "install.sh: $p did not install" >&2; exit 1; }
done
echo "clients installed in $dir"
