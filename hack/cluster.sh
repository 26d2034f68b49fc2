#!/usr/bin/env bash
# cluster.sh runs a real, single-machine Kubernetes control plane with Tekton's
# pipelines controller and tekton-wasm's controller, all as local processes
# (no Docker, no kubelet: custom tasks need no pods). See docs/e2e.md.
#
#   hack/cluster.sh up                  build what is missing, start everything
#                                       not yet running, print the export lines of `env`
#   hack/cluster.sh down                stop what `up` started, delete the cluster's data
#   hack/cluster.sh status              one line per component: pid, RSS, log
#   hack/cluster.sh env                 print `export KUBECONFIG=…` and the
#                                       registry's TEKTON_WASM_REGISTRY,
#                                       DOCKER_CONFIG, TEKTON_WASM_REGISTRY_CA
#   hack/cluster.sh test [FLAGS]        run the e2e suite (extra go test FLAGS) on the
#                                       rig; a rig this command started, it stops after
#   hack/cluster.sh restart-controller  rebuild tekton-wasm's controller from the
#                                       working tree and restart it (SIGTERM)
#   hack/cluster.sh kill-controller [I] SIGKILL tekton-wasm's controller (replica I,
#                                       default 0), no restart
#   hack/cluster.sh start-controller [I] start it again (default: every replica
#                                       that is not running)
#   hack/cluster.sh replicas N          run N replicas of tekton-wasm's controller,
#                                       restarting them all: 1 (the default) runs
#                                       one with -disable-ha; more run knative's
#                                       bucketed leader election with short leases
#   hack/cluster.sh leader-id [I]       print replica I's leader-election identity,
#                                       as Lease holders show it
#   hack/cluster.sh stop-registry       stop the OCI registry (its data is kept)
#   hack/cluster.sh start-registry      start it again
#
# Components, in start order: an OCI registry (CNCF Distribution, HTTPS with
# a certificate of the cluster's CA, htpasswd basic auth), etcd,
# kube-apiserver, kube-controller-manager (namespace, garbage-collector,
# clusterrole-aggregation and serviceaccount controllers only),
# Tekton's CRDs and config,
# Tekton's controller, and, when cmd/controller exists, ours. All listen on
# free 127.0.0.1 ports chosen at the first `up` and kept until `down`.
#
# State lives in $TEKTON_WASM_CLUSTER (default <repo>/.cache/cluster), so
# each working tree has its own cluster:
#   kubeconfig, env (ports), pki/, etcd/, pids/, logs/<component>.log,
#   replicas (the number of controller replicas `replicas` or `up` set),
#   registry/ (its config, htpasswd, data, and docker/config.json with
#   its credentials)
# Binaries are built by hack/tools/build.sh into $TEKTON_WASM_CACHE/bin
# (default ~/.cache/tekton-wasm/bin), shared by all working trees.
#
# Progress goes to stderr, the export lines alone to stdout, so
# `eval "$(hack/cluster.sh up)"` works.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${TEKTON_WASM_CACHE:-$HOME/.cache/tekton-wasm}
bin=$cache/bin
state=${TEKTON_WASM_CLUSTER:-$repo/.cache/cluster}
logs=$state/logs
pids=$state/pids
kubeconfig=$state/kubeconfig

# Tekton's controller reads these; SYSTEM_NAMESPACE is where its config lives.
tekton_ns=tekton-pipelines

# Leader election of our controller when it runs as several replicas
# (`replicas N`, N > 1): knative's config-leader-election keys. The leases are
# short so that a killed replica's buckets move within seconds; client-go
# requires lease > renew > 1.2 * retry.
buckets=${TEKTON_WASM_BUCKETS:-3}
lease_duration=${TEKTON_WASM_LEASE_DURATION:-6s}
renew_deadline=${TEKTON_WASM_RENEW_DEADLINE:-4s}
retry_period=${TEKTON_WASM_RETRY_PERIOD:-1s}

say() { printf 'cluster.sh: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }
now() { printf '%s' "${EPOCHREALTIME/./}"; } # microseconds
since() { local d=$(( $(now) - $1 )); printf '%d.%01ds' $((d / 1000000)) $((d % 1000000 / 100000)); }

# ---- processes -------------------------------------------------------------

# pid_of NAME prints NAME's pid if the process that `start` recorded is still
# alive and still runs the recorded binary (pids are reused).
pid_of() {
  local f=$pids/$1.pid pid exe argv0
  [[ -f $f ]] || return 1
  read -r pid exe <"$f"
  [[ -r /proc/$pid/cmdline ]] || return 1
  IFS= read -r -d '' argv0 </proc/"$pid"/cmdline 2>/dev/null || [[ -n ${argv0:-} ]] || return 1
  [[ $argv0 == "$exe" ]] || return 1
  printf '%s' "$pid"
}

# start NAME [VAR=value...] BINARY ARGS... starts a component in the
# background with its output appended to logs/NAME.log. Callers check first
# that it is not running.
start() {
  local name=$1; shift
  local envs=()
  while [[ $1 == *=* ]]; do envs+=("$1"); shift; done
  printf '\n=== %s start %s\n' "$name" "$(date -Is)" >>"$logs/$name.log"
  env "${envs[@]}" "$@" >>"$logs/$name.log" 2>&1 </dev/null &
  local pid=$!
  disown "$pid" # no "Killed" job report when kill-controller ends it
  printf '%s %s\n' "$pid" "$1" >"$pids/$name.pid"
  # Until env has exec'd the binary, pid_of does not recognise the process.
  while ! pid_of "$name" >/dev/null && [[ -d /proc/$pid ]]; do sleep 0.01; done
}

# stop NAME [SIGNAL] stops a component started by `start`: SIGTERM, then
# SIGKILL after 15 s; with SIGNAL=KILL at once.
stop() {
  local name=$1 sig=${2:-TERM} pid
  if ! pid=$(pid_of "$name"); then
    rm -f "$pids/$name.pid"
    return 0
  fi
  kill -s "$sig" "$pid" 2>/dev/null || true
  for _ in $(seq 150); do
    [[ -d /proc/$pid ]] || break
    sleep 0.1
  done
  if [[ -d /proc/$pid ]]; then
    say "$name (pid $pid) ignored SIGTERM for 15s; sending SIGKILL"
    kill -s KILL "$pid" 2>/dev/null || true
    while [[ -d /proc/$pid ]]; do sleep 0.1; done
  fi
  rm -f "$pids/$name.pid"
  say "$name stopped (pid $pid, SIG$sig)"
}

# ready NAME URL TIMEOUT waits for URL to answer 200 OK, and fails with the
# tail of NAME's log if the process dies or the wait times out.
ready() {
  local name=$1 url=$2 timeout=$3
  local t0; t0=$(now)
  if ! RIG_TOKEN=${token:-} "$bin/rig" wait "$url" "$timeout" 2>"$state/wait.err" || ! pid_of "$name" >/dev/null; then
    cat "$state/wait.err" >&2
    say "$name did not become ready; last lines of $logs/$name.log:"
    tail -n 30 "$logs/$name.log" >&2
    exit 1
  fi
  say "$name ready in $(since "$t0") (pid $(pid_of "$name"))"
}

# ready_log NAME PATTERN TIMEOUT_S waits for PATTERN (an awk ERE) in NAME's log
# since its last start.
ready_log() {
  local name=$1 pattern=$2 timeout=$3
  local t0; t0=$(now)
  local deadline=$((SECONDS + timeout))
  # One awk over the whole log: no pipe whose early exit pipefail would see.
  until awk -v m="=== $name start" -v re="$pattern" \
    'index($0, m) == 1 { hit = 0 } $0 ~ re { hit = 1 } END { exit !hit }' "$logs/$name.log"; do
    if ! pid_of "$name" >/dev/null || ((SECONDS > deadline)); then
      say "$name did not log /$pattern/ within ${timeout}s; last lines of $logs/$name.log:"
      tail -n 30 "$logs/$name.log" >&2
      exit 1
    fi
    sleep 0.1
  done
  say "$name ready in $(since "$t0") (pid $(pid_of "$name"))"
}

# ---- configuration ---------------------------------------------------------

random_hex() { head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n'; }

# load_env reads the ports and secrets of the current cluster, choosing them
# at the first `up`.
load_env() {
  if [[ ! -f $state/env ]]; then
    local p
    mapfile -t p < <("$bin/rig" ports 9)
    cat >"$state/env" <<EOF
etcd_port=${p[0]}
etcd_peer_port=${p[1]}
api_port=${p[2]}
tekton_probes_port=${p[3]}
tekton_metrics_port=${p[4]}
tekton_profiling_port=${p[5]}
controller_probes_port=${p[6]}
controller_metrics_port=${p[7]}
controller_profiling_port=${p[8]}
token=$(random_hex)
EOF
  fi
  # shellcheck disable=SC1091
  source "$state/env"
  # Added after the first nine: an env written before the registry lacks it.
  if [[ -z ${registry_port:-} ]]; then
    printf 'registry_port=%s\nregistry_password=%s\nregistry_secret=%s\n' \
      "$("$bin/rig" ports 1)" "$(random_hex)" "$(random_hex)" >>"$state/env"
    # shellcheck disable=SC1091
    source "$state/env"
  fi
}

write_kubeconfig() {
  cat >"$kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: rig
  cluster:
    server: https://127.0.0.1:$api_port
    certificate-authority: $state/pki/ca.crt
users:
- name: admin
  user:
    token: $token
contexts:
- name: rig
  context: {cluster: rig, user: admin}
current-context: rig
EOF
  chmod 600 "$kubeconfig"
}

kubectl() { "$bin/kubectl" --kubeconfig "$kubeconfig" "$@"; }

# tekton_config prints the directory of Tekton's release manifests (CRDs,
# namespace, config ConfigMaps) in the module cache, at the version the
# tools module builds.
tekton_config() {
  local dir
  dir=$(cd "$repo/hack/tools/tekton" && go list -m -f '{{.Dir}}' github.com/tektoncd/pipeline)
  printf '%s/config' "$dir"
}

# ---- components ------------------------------------------------------------

# The OCI registry: CNCF Distribution (hack/tools/registry) serving HTTPS
# with pki/registry.crt (signed by the cluster CA) and htpasswd basic auth
# for one user, whose credentials registry/docker/config.json holds (the
# DOCKER_CONFIG `env` prints). Its data survives stop-registry and
# start-registry; down deletes it.
registry_user=tekton-wasm
registry_dir() { printf '%s/registry' "$state"; }
registry_host() { printf '127.0.0.1:%s' "$registry_port"; }

write_registry_config() {
  local dir; dir=$(registry_dir)
  mkdir -p "$dir/data" "$dir/docker"
  printf '%s' "$registry_password" | "$bin/registry" htpasswd "$registry_user" >"$dir/htpasswd"
  cat >"$dir/config.yml" <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $dir/data
  delete:
    enabled: true
http:
  addr: $(registry_host)
  secret: $registry_secret
  tls:
    certificate: $state/pki/registry.crt
    key: $state/pki/registry.key
auth:
  htpasswd:
    realm: tekton-wasm-rig
    path: $dir/htpasswd
EOF
  local auth; auth=$(printf '%s:%s' "$registry_user" "$registry_password" | base64 -w0)
  printf '{"auths":{"%s":{"auth":"%s"}}}\n' "$(registry_host)" "$auth" >"$dir/docker/config.json"
  chmod 600 "$dir/config.yml" "$dir/htpasswd" "$dir/docker/config.json"
}

up_registry() {
  pid_of registry >/dev/null && return
  write_registry_config
  # No tracing exporter: Distribution's default would send spans to an
  # OTLP collector on localhost.
  start registry OTEL_TRACES_EXPORTER=none "$bin/registry" serve "$(registry_dir)/config.yml"
  # "/" answers 200 without credentials once the server listens (and
  # gets no bearer token: token is the apiserver's).
  token='' ready registry "https://$(registry_host)/" 30s
}

up_etcd() {
  pid_of etcd >/dev/null && return
  # A stopped etcd's data belongs to a cluster that is gone.
  rm -rf "$state/etcd"
  start etcd "$bin/etcd" --name rig --data-dir "$state/etcd" \
    --listen-client-urls "http://127.0.0.1:$etcd_port" \
    --advertise-client-urls "http://127.0.0.1:$etcd_port" \
    --listen-peer-urls "http://127.0.0.1:$etcd_peer_port" \
    --initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer_port" \
    --initial-cluster "rig=http://127.0.0.1:$etcd_peer_port" \
    --unsafe-no-fsync --log-level warn
  ready etcd "http://127.0.0.1:$etcd_port/health" 30s
}

up_apiserver() {
  pid_of apiserver >/dev/null && return
  local pki=$state/pki
  printf '%s,admin,admin,system:masters\n' "$token" >"$state/tokens.csv"
  chmod 600 "$state/tokens.csv"
  start apiserver "$bin/kube-apiserver" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 \
    --secure-port "$api_port" \
    --etcd-servers "http://127.0.0.1:$etcd_port" \
    --endpoint-reconciler-type none \
    --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
    --client-ca-file "$pki/ca.crt" \
    --token-auth-file "$state/tokens.csv" \
    --authorization-mode RBAC \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$pki/sa.pub" \
    --service-account-signing-key-file "$pki/sa.key" \
    --service-cluster-ip-range 10.0.0.0/24 \
    --disable-admission-plugins ServiceAccount \
    --enable-priority-and-fairness=false \
    --profiling=false
  ready apiserver "https://127.0.0.1:$api_port/readyz" 60s
}

up_kcm() {
  pid_of kube-controller-manager >/dev/null && return
  # Without the first two, deleted namespaces stay Terminating and owned
  # objects are never garbage-collected; the third fills aggregated
  # ClusterRoles such as config/'s tekton-wasm-controller-custom-tasks; the
  # fourth creates each namespace's "default" ServiceAccount, which a run
  # without serviceAccountName runs as.
  start kube-controller-manager "$bin/kube-controller-manager" \
    --kubeconfig "$kubeconfig" \
    --controllers namespace-controller,garbage-collector-controller,clusterrole-aggregation-controller,serviceaccount-controller \
    --leader-elect=false --secure-port 0
  # It serves nothing; give it a moment to fail on bad flags.
  sleep 0.5
  pid_of kube-controller-manager >/dev/null || { tail -n 30 "$logs/kube-controller-manager.log" >&2; die "kube-controller-manager exited"; }
  say "kube-controller-manager started (pid $(pid_of kube-controller-manager))"
}

up_tekton_config() {
  local t0 dir; t0=$(now)
  dir=$(tekton_config)
  # Server-side: the largest CRD is over client-side apply's annotation limit.
  kubectl apply --server-side --force-conflicts -f "$dir/100-namespace" -f "$dir/300-crds" >/dev/null
  kubectl wait --for condition=Established --timeout 60s -f "$dir/300-crds" >/dev/null
  local cm=()
  for f in "$dir"/config-*.yaml; do cm+=(-f "$f"); done
  kubectl apply --server-side --force-conflicts "${cm[@]}" >/dev/null
  say "Tekton CRDs and config applied in $(since "$t0") (from $dir)"
}

up_tekton() {
  pid_of tekton-controller >/dev/null && return
  # The image flags are required but only used for TaskRun pods, which
  # custom-task pipelines never create.
  local images=(-entrypoint-image=unused -nop-image=unused
    -sidecarlogresults-image=unused -workingdirinit-image=unused
    -shell-image=unused -shell-image-win=unused)
  start tekton-controller \
    SYSTEM_NAMESPACE=$tekton_ns \
    CONFIG_DEFAULTS_NAME=config-defaults \
    CONFIG_LOGGING_NAME=config-logging \
    CONFIG_OBSERVABILITY_NAME=config-observability \
    CONFIG_FEATURE_FLAGS_NAME=feature-flags \
    CONFIG_LEADERELECTION_NAME=config-leader-election-controller \
    CONFIG_SPIRE=config-spire \
    METRICS_DOMAIN=tekton.dev/pipeline \
    PROBES_PORT="$tekton_probes_port" \
    METRICS_PROMETHEUS_PORT="$tekton_metrics_port" \
    PROFILING_PORT="$tekton_profiling_port" \
    "$bin/tekton-controller" -kubeconfig "$kubeconfig" -disable-ha "${images[@]}"
  # Its probe answers before the informers sync; the PipelineRun
  # reconciler's workers start after.
  ready_log tekton-controller '"Started workers".*pipelinerun' 60
}

# Our controller runs as its own ServiceAccount from config/, so the e2e tests
# exercise config/'s RBAC; TEKTON_WASM_CONTROLLER_AS=admin runs it with the
# rig's admin token instead.
controller_ns() { sed -n 's/^  name: //p' "$repo/config/100-namespace.yaml" | head -n1; }

has_controller() { [[ -f $repo/cmd/controller/main.go ]]; }

# up_controller_config applies config/ except the Deployment (the rig runs the
# controller as a local process).
up_controller_config() {
  local args=() f
  for f in "$repo"/config/*.yaml; do
    [[ $(basename "$f") == 500-controller.yaml ]] || args+=(-f "$f")
  done
  kubectl apply --server-side --force-conflicts "${args[@]}" >/dev/null
}

# build_controller builds cmd/controller from the working tree into
# controller/controller.new and reports whether it differs from
# controller/controller, the binary last started.
build_controller() {
  local t0; t0=$(now)
  mkdir -p "$state/controller"
  # Callers test the result, which turns off set -e in here: check by hand.
  (cd "$repo" && nice go build -o "$state/controller/controller.new" ./cmd/controller) ||
    die "building cmd/controller failed"
  say "controller built in $(since "$t0")"
  ! cmp -s "$state/controller/controller.new" "$state/controller/controller"
}

# Our controller runs as one or more replicas. Replica 0 is the component
# "controller" (pids/controller.pid, logs/controller.log), replica I > 0 is
# "controller-I". All share the binary, the ServiceAccount kubeconfig and the
# compilation cache (wazero writes its entries by rename); each has its own
# ports and workspace directory (a controller empties its own at start).
replica_name() { if (($1 == 0)); then printf controller; else printf 'controller-%d' "$1"; fi; }

# replica_count prints how many replicas run, as `replicas` or `up`
# recorded it (1 before either did).
replica_count() {
  local n=1
  [[ -f $state/replicas ]] && n=$(<"$state/replicas")
  printf '%s' "$n"
}

# check_replica_count N fails unless N is a count of replicas.
check_replica_count() {
  [[ $1 =~ ^[1-9][0-9]?$ ]] || die "replicas: want a count from 1 to 99, got '$1'"
}

# replica_ports I sets probes_port, metrics_port and profiling_port to
# replica I's ports, choosing them (into env) at its first start.
replica_ports() {
  local i=$1
  if ((i == 0)); then
    probes_port=$controller_probes_port metrics_port=$controller_metrics_port profiling_port=$controller_profiling_port
    return
  fi
  local var=controller_${i}_ports
  if [[ -z ${!var:-} ]]; then
    printf '%s="%s"\n' "$var" "$("$bin/rig" ports 3 | tr '\n' ' ')" >>"$state/env"
    load_env
  fi
  read -r probes_port metrics_port profiling_port <<<"${!var}"
}

# apply_leader_election N writes the leader-election keys into the
# controller's config-leader-election ConfigMap for N replicas: the buckets
# and short leases above for N > 1, none (knative's defaults, unused under
# -disable-ha) for N = 1. Knative reads them at start.
apply_leader_election() {
  local ns patch; ns=$(controller_ns)
  if (($1 > 1)); then
    patch=$(printf '{"data":{"buckets":"%s","lease-duration":"%s","renew-deadline":"%s","retry-period":"%s"}}' \
      "$buckets" "$lease_duration" "$renew_deadline" "$retry_period")
  else
    patch='{"data":{"buckets":null,"lease-duration":null,"renew-deadline":null,"retry-period":null}}'
  fi
  kubectl patch configmap config-leader-election -n "$ns" --type merge -p "$patch" >/dev/null
}

# start_controller I starts replica I of the binary build_controller made,
# unless it is running, and returns without waiting for it to be ready.
start_controller() {
  local i=$1 name; name=$(replica_name "$1")
  pid_of "$name" >/dev/null && return
  local ns; ns=$(controller_ns)
  if [[ -f $state/controller/controller.new ]]; then
    mv "$state/controller/controller.new" "$state/controller/controller"
  fi
  local kc=$kubeconfig
  if [[ ${TEKTON_WASM_CONTROLLER_AS:-serviceaccount} != admin ]]; then
    kc=$state/controller/kubeconfig
    local sa_token
    sa_token=$(kubectl create token tekton-wasm-controller -n "$ns" --duration 48h)
    sed "s/token: .*/token: $sa_token/" "$kubeconfig" >"$kc.tmp"
    chmod 600 "$kc.tmp"
    mv "$kc.tmp" "$kc"
  fi
  local ha=() workspaces=$state/controller/workspaces
  (($(replica_count) > 1)) || ha=(-disable-ha)
  ((i == 0)) || workspaces+=-$i
  replica_ports "$i"
  start "$name" \
    SYSTEM_NAMESPACE="$ns" \
    CONFIG_LOGGING_NAME=config-logging \
    CONFIG_OBSERVABILITY_NAME=config-observability \
    CONFIG_LEADERELECTION_NAME=config-leader-election \
    METRICS_PROMETHEUS_PORT="$metrics_port" \
    PROFILING_PORT="$profiling_port" \
    "$state/controller/controller" -kubeconfig "$kc" "${ha[@]}" \
    -probes-port "$probes_port" \
    -cache-dir "$state/controller/cache" \
    -workspace-dir "$workspaces" \
    -registry-ca "$state/pki/ca.crt" \
    ${TEKTON_WASM_CONTROLLER_FLAGS:-}
}

# start_controllers [I] starts replica I, or every replica of replica_count
# that is not running, together (so that they compete for the buckets),
# then waits until each is ready.
start_controllers() {
  local i idx=()
  if (($# > 0)); then idx=("$1"); else mapfile -t idx < <(seq 0 $(($(replica_count) - 1))); fi
  for i in "${idx[@]}"; do start_controller "$i"; done
  for i in "${idx[@]}"; do
    replica_ports "$i"
    ready "$(replica_name "$i")" "http://127.0.0.1:$probes_port/readiness" 60s
  done
}

# started_controllers prints the component name of every replica started
# and not stopped since, however many were started.
started_controllers() {
  local f
  for f in "$pids"/controller.pid "$pids"/controller-*.pid; do
    [[ -f $f ]] && basename "$f" .pid
  done
  return 0
}

# stop_controllers [SIGNAL] stops every replica that runs.
stop_controllers() {
  local c
  for c in $(started_controllers); do stop "$c" "$@"; done
}

# controllers_running reports whether any replica runs.
controllers_running() {
  local c
  for c in $(started_controllers); do pid_of "$c" >/dev/null && return 0; done
  return 1
}

# set_replicas N records N replicas, writes their leader-election config
# and (re)starts them all: switching between one replica (-disable-ha) and
# several, or changing the config, needs every replica restarted.
set_replicas() {
  check_replica_count "$1"
  stop_controllers
  printf '%s\n' "$1" >"$state/replicas"
  apply_leader_election "$1"
  start_controllers
  if (($1 > 1)); then
    say "$1 replicas running: leader election with $buckets buckets, lease $lease_duration, renew $renew_deadline, retry $retry_period"
  fi
}

# leader_id I prints the leader-election identity (the Lease holderIdentity)
# replica I logged at its last start: knative makes one per process.
leader_id() {
  local name; name=$(replica_name "$1")
  pid_of "$name" >/dev/null || die "$name is not running"
  (($(replica_count) > 1)) || die "one replica runs, without leader election; see: hack/cluster.sh replicas N"
  local id
  id=$(awk -v m="=== $name start" 'index($0, m) == 1 { id = "" }
    match($0, /leader-elected mode with id \\?"[^"\\]+/) { id = substr($0, RSTART, RLENGTH); sub(/.*"/, "", id) }
    END { print id }' "$logs/$name.log")
  [[ -n $id ]] || die "$name has not logged its leader-election identity (yet)"
  printf '%s\n' "$id"
}

up_controller() {
  if ! has_controller; then
    say "no cmd/controller in $repo: not starting tekton-wasm's controller"
    return
  fi
  local t0; t0=$(now)
  up_controller_config
  say "config/ applied in $(since "$t0")"
  local n; n=${TEKTON_WASM_REPLICAS:-$(replica_count)}
  check_replica_count "$n"
  # A running controller built from an older working tree is replaced; so
  # is a set of replicas of another count.
  if build_controller && controllers_running; then
    say "the working tree's controller differs from the running one: restarting it"
    set_replicas "$n"
  elif [[ $n != "$(replica_count)" || ! -f $state/replicas ]]; then
    set_replicas "$n"
  else
    apply_leader_election "$n"
    start_controllers
  fi
}

# ---- commands --------------------------------------------------------------

print_env() {
  printf 'export KUBECONFIG=%s\n' "$kubeconfig"
  printf 'export TEKTON_WASM_REGISTRY=%s\n' "$(registry_host)"
  printf 'export DOCKER_CONFIG=%s\n' "$(registry_dir)/docker"
  printf 'export TEKTON_WASM_REGISTRY_CA=%s\n' "$state/pki/ca.crt"
}

cmd_up() {
  local t0; t0=$(now)
  mkdir -p "$logs" "$pids"
  "$repo/hack/tools/build.sh" >&2
  if ! pid_of etcd >/dev/null; then
    # A new cluster: new ports and secrets, so a registry left running
    # on the old ones goes.
    stop registry
    rm -f "$state/env" "$logs"/*.log
  fi
  load_env
  "$bin/rig" pki "$state/pki"
  write_kubeconfig
  up_registry
  up_etcd
  up_apiserver
  up_kcm
  up_tekton_config
  up_tekton
  up_controller
  say "up in $(since "$t0"); logs in $logs"
  print_env
}

cmd_down() {
  local c
  stop_controllers
  for c in tekton-controller kube-controller-manager apiserver etcd registry; do stop "$c"; done
  rm -rf "$state/etcd" "$state/env" "$state/tokens.csv" "$state/replicas" "$kubeconfig" "$state/controller/kubeconfig" "$(registry_dir)"
  say "down; logs kept in $logs"
}

# cmd_test runs the e2e suite (go test flags may follow) against the rig,
# starting it first; it stops the rig afterwards unless it was already up.
cmd_test() {
  local was_up=false status=0
  pid_of apiserver >/dev/null && was_up=true
  cmd_up >/dev/null
  (cd "$repo" && eval "$(print_env)" && go test -tags e2e -count=1 -timeout 30m "$@" ./test/e2e/...) || status=$?
  if $was_up; then
    say "leaving the cluster up, as it was before"
  else
    cmd_down
  fi
  return "$status"
}

cmd_status() {
  local c pid rss cs=(registry etcd apiserver kube-controller-manager tekton-controller) i
  for ((i = 0; i < $(replica_count); i++)); do cs+=("$(replica_name "$i")"); done
  for c in "${cs[@]}"; do
    if pid=$(pid_of "$c"); then
      rss=$(awk '/^VmRSS/ {printf "%d MiB", $2/1024}' /proc/"$pid"/status)
      printf '%-24s running  pid %-8s rss %-9s log %s\n' "$c" "$pid" "$rss" "$logs/$c.log"
    else
      printf '%-24s stopped\n' "$c"
    fi
  done
  if [[ -f $kubeconfig ]]; then
    load_env
    print_env
  fi
}

# main is one function called on the last line, so that bash has read the
# whole script before running any of it: editing the file while a command
# runs (say, a long `test`) cannot make bash run the edited text.
main() {
  case ${1:-} in
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    test) shift; cmd_test "$@" ;;
    env) [[ -f $kubeconfig ]] || die "no cluster; run: hack/cluster.sh up"; load_env; print_env ;;
    stop-registry|start-registry)
      pid_of apiserver >/dev/null || die "no cluster; run: hack/cluster.sh up"
      load_env
      case $1 in
        stop-registry) stop registry ;;
        start-registry) up_registry ;;
      esac ;;
    restart-controller|kill-controller|start-controller|replicas|leader-id)
      has_controller || die "no cmd/controller in $repo"
      pid_of apiserver >/dev/null || die "no cluster; run: hack/cluster.sh up"
      load_env
      local i=${2:-0}
      [[ $i =~ ^[0-9]+$ ]] && ((i < $(replica_count))) || [[ $1 == replicas ]] ||
        die "$1: no replica '$i' (replicas run: $(replica_count))"
      case $1 in
        restart-controller) build_controller || : "unchanged"; set_replicas "$(replica_count)" ;;
        kill-controller) stop "$(replica_name "$i")" KILL ;;
        start-controller) start_controllers ${2:+"$i"} ;;
        replicas) [[ $# -eq 2 ]] || die "usage: hack/cluster.sh replicas N"; set_replicas "$2" ;;
        leader-id) leader_id "$i" ;;
      esac ;;
    *) sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//' >&2; exit 2 ;;
  esac
}

main "$@"; exit
