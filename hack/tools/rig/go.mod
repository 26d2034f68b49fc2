module github.com/tekton-wasm/tekton-wasm/hack/tools/rig

go 1.26.8
