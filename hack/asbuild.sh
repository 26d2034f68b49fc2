#!/usr/bin/env bash
# asbuild.sh DIR OUT [SCRIPT] builds the AssemblyScript plugin in DIR (an
# npm package with a package-lock.json) into OUT, as `make plugins` and
# the tests do: `npm ci` when node_modules is missing or older than the
# lock file (from the npm cache in ~/.cache/tekton-wasm/npm, so a second
# clean clone builds offline), then the package's npm script SCRIPT
# (default build; build:command for the WASI command) with --outFile OUT.
set -euo pipefail
dir=$1 out=$2 script=${3:-build}
out=$(realpath -m "$out")
cd "$dir"
if ! command -v npm >/dev/null; then
  echo "asbuild.sh: npm is not installed; run hack/deps.sh (Node.js 20 or later and npm)" >&2
  exit 1
fi
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  npm ci --cache "${TEKTON_WASM_NPM_CACHE:-$HOME/.cache/tekton-wasm/npm}" --prefer-offline --no-audit --no-fund --loglevel=error
fi
mkdir -p "$(dirname "$out")"
npm run --silent "$script" -- --outFile "$out"
