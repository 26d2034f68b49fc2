#!/usr/bin/env bash
# test/bench/cluster.sh (make bench-cluster) measures tekton-wasm's controller
# against the native baseline controller (test/bench/baseline) on the
# real-cluster rig, and writes docs/performance-cluster.md.
#
#   test/bench/cluster.sh [bench-cluster flags...]
#
# It runs its own rig (hack/cluster.sh with TEKTON_WASM_CLUSTER=
# $BENCH_CLUSTER, default <repo>/.cache/bench-cluster), so it never disturbs
# the e2e rig, and stops it afterwards unless it was up before. Our
# controller runs with $BENCH_CONTROLLER_FLAGS (a concurrency limit that
# admits the 50 concurrent invocations; the baseline's client rate limit).
# Then it:
#   1. builds the benchmark plugins (test/bench/plugins/noop as a reactor,
#      test/bench/plugins/sleep as a command, plugins/wait as a reactor as
#      the Makefile ships it, and the C plugin
#      plugins/semver) and registers them with
#      `tkn-wasm pack … | kubectl apply --server-side -f -`; pushes
#      plugins/wait to the rig's registry (`tkn-wasm push`) and registers
#      it as bench-oci (kind OCIWait) by a ConfigMap naming its digest and
#      a pull secret, for the restart figure of a cached pull;
#   2. builds and starts the baseline controller (admin kubeconfig, the same
#      knative config namespace as ours, its own free ports);
#   3. runs the driver (test/bench/cmd/bench-cluster), which prints the table
#      (its steps: latency, throughput, pipeline, restart, memory — with the
#      waiting runs' lateness —, shipped);
#   4. writes the table, the machine, the load and the command into
#      $BENCH_DOC (default docs/performance-cluster.md; empty: none), followed
#      by test/bench/notes.md, unless the driver runs only some steps
#      (-steps, e.g. `-steps restart`): then it only prints the table;
#   5. stops the baseline and deletes the plugin ConfigMaps and the pull
#      secret it applied.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"
export TEKTON_WASM_CLUSTER=${BENCH_CLUSTER:-$repo/.cache/bench-cluster}
bin=${TEKTON_WASM_CACHE:-$HOME/.cache/tekton-wasm}/bin
# Both controllers get the same client rate limit: the baseline's default,
# knative's 5 QPS, would alone make 1,000 status writes take 200 s (ours,
# 20 QPS, 50 s); our per-plugin call pace follows it. The driver's shipped
# step restarts ours with config/'s flags instead (the defaults).
qps=(-kube-api-qps 100 -kube-api-burst 200)
export TEKTON_WASM_CONTROLLER_FLAGS=${BENCH_CONTROLLER_FLAGS:--concurrency 64 ${qps[*]}}
doc=${BENCH_DOC-docs/performance-cluster.md}
if [[ " $* " == *" -steps"* ]]; then
  doc="" # a partial table must not replace the whole one
fi
work=$TEKTON_WASM_CLUSTER/bench
group=bench.tekton-wasm.dev/v1alpha1

say() { printf 'bench: %s\n' "$*" >&2; }

was_up=false
# (Not `status | grep -q`: grep's early exit would fail the pipeline.)
if [[ -f $TEKTON_WASM_CLUSTER/kubeconfig && $(hack/cluster.sh status) == *$'\n'apiserver*running* ]]; then
  was_up=true
fi
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
eval "$(hack/cluster.sh up)"
kubectl() { "$bin/kubectl" --kubeconfig "$KUBECONFIG" "$@"; }

mkdir -p "$work"
baseline_pid=
cleanup() {
  if [[ -n $baseline_pid ]] && kill -0 "$baseline_pid" 2>/dev/null; then
    kill "$baseline_pid"
    wait "$baseline_pid" 2>/dev/null || true
  fi
  rm -f "$work/baseline.pid"
  kubectl -n tekton-wasm delete configmap bench-noop bench-wait bench-sleep bench-semver bench-oci --ignore-not-found >/dev/null || true
  kubectl -n tekton-wasm delete secret bench-registry --ignore-not-found >/dev/null || true
  if ! $was_up; then hack/cluster.sh down; fi
}
trap cleanup EXIT

say "building the plugins, tkn-wasm, the baseline and the driver"
GOOS=wasip1 GOARCH=wasm nice go build -trimpath -buildmode=c-shared -o "$work/noop.wasm" ./test/bench/plugins/noop
GOOS=wasip1 GOARCH=wasm nice go build -trimpath -o "$work/sleep.wasm" ./test/bench/plugins/sleep
# plugins/wait as the Makefile ships it: a reactor.
GOOS=wasip1 GOARCH=wasm nice go build -trimpath -buildmode=c-shared -o "$work/wait.wasm" ./plugins/wait
# The C plugin as the Makefile builds it (with the C SDK, sdk/c).
make -s "$work/semver.wasm" PLUGINS_OUT="$work"
nice go build -o "$work/tkn-wasm" ./cmd/tkn-wasm
nice go build -o "$work/baseline" ./test/bench/baseline
nice go build -o "$work/bench-cluster" ./test/bench/cmd/bench-cluster

for p in noop:Noop wait:Wait sleep:Sleep semver:SemVer; do
  "$work/tkn-wasm" pack "$work/${p%%:*}.wasm" --name "bench-${p%%:*}" --api-version "$group" --kind "${p#*:}" |
    kubectl apply --server-side --force-conflicts -f - >/dev/null
done
# The wait module again, from the rig's registry (hack/cluster.sh up exported
# TEKTON_WASM_REGISTRY, DOCKER_CONFIG and TEKTON_WASM_REGISTRY_CA).
oci_ref=$("$work/tkn-wasm" push "$work/wait.wasm" "$TEKTON_WASM_REGISTRY/bench/wait:v1" \
  --name bench-oci --api-version "$group" --kind OCIWait --ca-file "$TEKTON_WASM_REGISTRY_CA")
kubectl -n tekton-wasm create secret generic bench-registry --type kubernetes.io/dockerconfigjson \
  --from-file .dockerconfigjson="$DOCKER_CONFIG/config.json" --dry-run=client -o yaml |
  kubectl apply --server-side --force-conflicts -f - >/dev/null
kubectl apply --server-side --force-conflicts -f - >/dev/null <<EOF
apiVersion: v1
kind: ConfigMap
metadata:
  name: bench-oci
  namespace: tekton-wasm
  labels: {tekton-wasm.dev/plugin: "true"}
data:
  plugin.yaml: |
    name: bench-oci
    apiVersion: $group
    kind: OCIWait
    module: oci://$oci_ref
    pullSecrets: [bench-registry]
EOF
say "registered bench-noop (Noop), bench-wait (Wait), bench-sleep (Sleep), bench-semver (SemVer) as $group, and bench-oci (OCIWait) from $oci_ref"
# The restart step needs them compiled (and in the on-disk caches) first.
loaded() { tac "$TEKTON_WASM_CLUSTER/logs/controller.log" | sed '/^=== controller start/q' | grep -c '"Loaded plugin".*"plugin":"bench-' || true; }
for _ in $(seq 600); do
  (($(loaded) >= 5)) && break
  sleep 0.1
done
(($(loaded) >= 5)) || { say "the bench plugins did not load within 60s; see $TEKTON_WASM_CLUSTER/logs/controller.log"; exit 1; }

# The baseline: the same knative config namespace as ours, its own ports.
mapfile -t ports < <("$bin/rig" ports 3)
SYSTEM_NAMESPACE=tekton-wasm CONFIG_LOGGING_NAME=config-logging \
  CONFIG_OBSERVABILITY_NAME=config-observability CONFIG_LEADERELECTION_NAME=config-leader-election \
  PROBES_PORT=${ports[0]} METRICS_PROMETHEUS_PORT=${ports[1]} PROFILING_PORT=${ports[2]} \
  "$work/baseline" -kubeconfig "$KUBECONFIG" -disable-ha "${qps[@]}" \
  -api-version "$group" -kind NativeNoop >"$work/baseline.log" 2>&1 </dev/null &
baseline_pid=$!
echo "$baseline_pid" >"$work/baseline.pid"
for _ in $(seq 300); do
  grep -q 'Started workers' "$work/baseline.log" && break
  kill -0 "$baseline_pid" 2>/dev/null || { tail -n 20 "$work/baseline.log" >&2; exit 1; }
  sleep 0.1
done
grep -q 'Started workers' "$work/baseline.log" || { say "the baseline did not start its workers in 30s; see $work/baseline.log"; exit 1; }
say "baseline controller running (pid $baseline_pid, log $work/baseline.log)"

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
table=$("$work/bench-cluster" -state "$TEKTON_WASM_CLUSTER" -baseline-pid-file "$work/baseline.pid" -oci-plugin bench-oci "$@")
load_end=$(cut -d' ' -f1-3 /proc/loadavg)
printf '%s\n' "$table"

[[ -n $doc ]] || exit 0
{
  printf '# Performance on the real-cluster rig\n\n'
  printf 'Generated by `make bench-cluster`%s on %s from commit %s%s.\n\n' \
    "${*:+ (driver flags: \`$*\`)}" "$(date -u '+%Y-%m-%d %H:%M UTC')" "$(git rev-parse --short HEAD)" \
    "$(git diff --quiet HEAD -- runtime cmd hostabi test/bench || echo ' with uncommitted changes')"
  printf 'Machine: %s cores (nproc), %s, %s RAM, Linux %s. ' "$(nproc)" \
    "$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n1)" \
    "$(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)" "$(uname -r)"
  printf 'Load average (1, 5, 15 min): %s before the rig check, %s when the measurements started, %s when they ended; the machine is shared with other engineers'"'"' builds and tests, and the rig (etcd, kube-apiserver, Tekton'"'"'s controller) runs on the same 2 cores.\n\n' \
    "$load_before" "$load_start" "$load_end"
  printf 'Our controller: `%s`; the baseline: `%s`. Both run at once, each serving its own kind; latency runs alternate between them; the other phases run the batch of the Go plugin, then the baseline, then the C plugin.\n\n' \
    "$TEKTON_WASM_CONTROLLER_FLAGS" "${qps[*]}"
  printf '%s\n' "$table"
  if [[ -f test/bench/notes.md ]]; then
    printf '\n'
    cat test/bench/notes.md
  fi
} >"$doc"
say "wrote $doc"
