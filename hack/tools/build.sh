#!/usr/bin/env bash
# build.sh builds the real-cluster rig's third-party binaries from source into
# $TEKTON_WASM_CACHE/bin (default ~/.cache/tekton-wasm/bin):
#
#   kube-apiserver, kubectl, kube-controller-manager  (k8s.io/kubernetes, hack/tools/kube)
#   etcd                                              (go.etcd.io/etcd/server/v3, hack/tools/etcd)
#   tekton-controller                                 (tektoncd/pipeline cmd/controller, hack/tools/tekton)
#   registry                                          (CNCF Distribution, hack/tools/registry)
#   rig                                               (hack/cluster.sh's helper, hack/tools/rig)
#
# Each lives in its own Go module so the product's go.mod never sees them.
# Usage: hack/tools/build.sh [kube|etcd|tekton|registry|rig]...   (no argument: all)
#
# Cost: a cold build takes about 10 minutes on 2 cores and grows the Go build
# cache by about 10 GB; once built, go build finds every output up to date and
# a rerun takes a few seconds. Builds run under nice: the machine is shared.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${TEKTON_WASM_CACHE:-$HOME/.cache/tekton-wasm}
bin=$cache/bin
mkdir -p "$bin"

# Kubernetes version stamp: without it the apiserver reports v0.0.0-master
# and knative's minimum-version check refuses to start Tekton's controller.
kube_version=v1.37.2
v=k8s.io/component-base/version
kube_ldflags="-s -w -X $v.gitVersion=$kube_version -X $v.gitMajor=1 -X $v.gitMinor=37 -X $v.gitTreeState=clean"

build() { # module-dir go-build-args...
  local mod=$1; shift
  local start=$SECONDS
  (cd "$here/$mod" && nice go build "$@")
  echo "build.sh: $mod built in $((SECONDS - start))s into $bin" >&2
}

targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(rig registry etcd kube tekton)
for t in "${targets[@]}"; do
  case $t in
    kube) build kube -o "$bin/" -ldflags "$kube_ldflags" \
      k8s.io/kubernetes/cmd/kube-apiserver \
      k8s.io/kubernetes/cmd/kubectl \
      k8s.io/kubernetes/cmd/kube-controller-manager ;;
    etcd) build etcd -o "$bin/etcd" -ldflags "-s -w" . ;;
    tekton) build tekton -o "$bin/tekton-controller" -ldflags "-s -w" \
      github.com/tektoncd/pipeline/cmd/controller ;;
    registry) build registry -o "$bin/registry" -ldflags "-s -w" . ;;
    rig) build rig -o "$bin/rig" . ;;
    *) echo "build.sh: unknown target $t (want kube, etcd, tekton, registry or rig)" >&2; exit 2 ;;
  esac
done
