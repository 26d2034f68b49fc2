module github.com/tekton-wasm/tekton-wasm/hostabi

go 1.26.8
