#!/usr/bin/env bash
# demo.sh runs every example CustomRun with the locally built tkn-wasm and
# plugins (make demo builds them first), prints each final status, and
# checks that each run ended as its file's expectation comment says:
#   # demo: expect Succeeded   (exit 0)   or   # demo: expect False (exit 1)
set -uo pipefail
cd "$(dirname "$0")/.."
failed=0
for f in examples/*/*.yaml; do
  want=$(sed -n 's/^# demo: expect \([A-Za-z]*\).*/\1/p' "$f")
  [[ -n $want ]] || continue
  echo "=== $f (expect $want)"
  start=${EPOCHREALTIME/./}
  plugins=bin/plugins
  [[ $f == examples/hostile/* ]] && plugins=bin/hostile
  out=$(bin/tkn-wasm run -f "$f" --plugins $plugins 2>/tmp/tkn-wasm-demo.log)
  code=$?
  took=$(( (${EPOCHREALTIME/./} - start) / 1000 ))
  sed -n '/^status:/,$p' <<<"$out"
  printf 'exit code %d after %d ms\n\n' "$code" "$took"
  case "$want:$code" in
    Succeeded:0|False:1) ;;
    *) echo "!!! $f: expected $want, got exit code $code; plugin log:"; cat /tmp/tkn-wasm-demo.log; failed=1 ;;
  esac
done
exit $failed
