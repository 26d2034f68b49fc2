#!/usr/bin/env bash
# Runs every Go native fuzz target in the repository (every func FuzzXxx in
# a _test.go file, found by `go test -list`, so new targets need no edit
# here) for FUZZTIME each, one after the other, and fails on the first
# crasher; go test writes it to the package's testdata/fuzz/<target>/,
# where it then stays as a regression case once committed. Prints the time
# each target ran.
#   hack/fuzz.sh [FUZZTIME] [go test flags...]   (FUZZTIME default 30s)
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime="${1:-30s}"
shift || true
GO="${GO:-go}"

# The packages with a Fuzz function in a test file (tracked or new, not
# ignored, not under testdata) are asked for their targets.
mapfile -t dirs < <(git ls-files --cached --others --exclude-standard -- '*_test.go' | grep -v '/testdata/' |
	xargs -r grep -lE '^func Fuzz[A-Z0-9_]' | xargs -r -n1 dirname | sort -u | sed 's|^|./|')
if [ "${#dirs[@]}" -eq 0 ]; then
	echo "fuzz: no fuzz targets found" >&2
	exit 1
fi
# inputs counts the inputs stored for a target.
inputs() { if [ -d "$1" ]; then find "$1" -type f | wc -l; else echo 0; fi; }
count=0
summary=()
# Each package is run from its own directory (go -C), so that a package of
# a nested module (the guest SDK, hostabi/go.mod) runs in its module.
for dir in "${dirs[@]}"; do
	pkg="$($GO -C "$dir" list .)"
	mapfile -t targets < <($GO -C "$dir" test -list '^Fuzz' . | grep '^Fuzz' || true)
	for target in "${targets[@]}"; do
		echo "=== fuzz $pkg $target for $fuzztime"
		start=$(date +%s)
		corpus="$dir/testdata/fuzz/$target"
		before=$(inputs "$corpus")
		log=$(mktemp)
		if ! $GO -C "$dir" test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$@" . 2>&1 | tee "$log"; then
			after=$(inputs "$corpus")
			# Go 1.26's fuzz coordinator can fail a target at the end of
			# -fuzztime with a bare "context deadline exceeded" although it
			# found nothing (golang/go#75804, fixed in Go 1.27): no input
			# is written then. Anything else, or a written input, fails.
			if [ "$after" -eq "$before" ] && grep -qx '    context deadline exceeded' "$log"; then
				echo "fuzz: $pkg $target: Go's fuzz coordinator ended with 'context deadline exceeded' and no failing input (golang/go#75804); not a finding"
			else
				rm -f "$log"
				echo "fuzz: $pkg $target FAILED; a failing input, if any, is in $corpus/" >&2
				exit 1
			fi
		fi
		rm -f "$log"
		summary+=("$(printf '%-50s %-22s %4ss' "$pkg" "$target" $(( $(date +%s) - start )))")
		count=$((count + 1))
	done
done
echo "fuzz: $count targets ran $fuzztime each; no crasher"
printf '%s\n' "${summary[@]}"
