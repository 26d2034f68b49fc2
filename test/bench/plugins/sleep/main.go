// Command sleep is the benchmark's long-running plugin (make bench-cluster):
// it holds its sandbox for the duration in its duration param (time.Sleep
// inside the guest), then succeeds. The benchmark runs 50 at once to
// measure the controller's memory with 50 live Go instances.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -o sleep.wasm ./test/bench/plugins/sleep
package main

import (
	"context"
	"time"

	"github.com/tekton-wasm/tekton-wasm/hostabi"
	"github.com/tekton-wasm/tekton-wasm/hostabi/guest"
)

func main() {
	guest.Run(func(ctx context.Context, req *hostabi.Request) (*hostabi.Response, error) {
		s, err := guest.Params(req).String("duration")
		if err != nil {
			return nil, err
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			return nil, guest.Fail("InvalidDuration", "duration %q: %v", s, err)
		}
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return &hostabi.Response{Status: hostabi.StatusSucceeded, Reason: "Slept"}, nil
	})
}
