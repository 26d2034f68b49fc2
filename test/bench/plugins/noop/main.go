// Command noop is the benchmark's no-op plugin (make bench-cluster): every
// call succeeds at once with one result, the same work as the native
// baseline controller (test/bench/baseline). Built as a reactor
// (-buildmode=c-shared) so the host can prepare instances ahead of demand.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o noop.wasm ./test/bench/plugins/noop
package main

import (
	"context"

	"github.com/tekton-wasm/tekton-wasm/hostabi"
	"github.com/tekton-wasm/tekton-wasm/hostabi/guest"
)

func main() {
	guest.Run(func(context.Context, *hostabi.Request) (*hostabi.Response, error) {
		return &hostabi.Response{
			Status:  hostabi.StatusSucceeded,
			Reason:  "Done",
			Message: "no-op",
			Results: []hostabi.Result{{Name: "result", Value: "ok"}},
		}, nil
	})
}
