// Command external is a plugin written outside tekton-wasm's module: its
// go.mod requires only the SDK (TestExternalPluginRequiresOnlySDK builds it).
package main

import (
	"context"

	"github.com/tekton-wasm/tekton-wasm/hostabi"
	"github.com/tekton-wasm/tekton-wasm/hostabi/guest"
)

func main() {
	guest.Run(func(context.Context, *hostabi.Request) (*hostabi.Response, error) {
		return &hostabi.Response{Status: hostabi.StatusSucceeded}, nil
	})
}
