// Command guestplugin is the engine's test plugin for the Go guest SDK
// (hostabi/guest), built both as a WASI command and as a reactor
// (-buildmode=c-shared) from this one source. It answers as its "mode"
// param says:
//
//	echo    Succeeded, with the run's name and the names of its params
//	count   increments a package-level counter and reports it
//	clock   Succeeded, with the wall clock when the package was
//	        initialized and at the call, 16 bytes from crypto/rand and
//	        a number from math/rand/v2
//	read    reads the file named by the "path" param and returns it
//	sleep   sleeps until the host stops it
//	panic   panics (the SDK answers Failed, Panicked)
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	mathrand "math/rand/v2"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/tekton-wasm/tekton-wasm/hostabi"
	"github.com/tekton-wasm/tekton-wasm/hostabi/guest"
)

var (
	calls int
	// initialized is set by package initialization: in a reactor, when
	// the instance is prepared, before any call.
	initialized = time.Now()
)

func main() {
	guest.Run(func(_ context.Context, req *hostabi.Request) (*hostabi.Response, error) {
		p := guest.Params(req)
		mode, err := p.String("mode")
		if err != nil {
			return nil, err
		}
		results := map[string]string{}
		switch mode {
		case "echo":
			var names []string
			for _, param := range req.Params {
				names = append(names, param.Name)
			}
			results["run"] = req.Run.Name
			results["params"] = strings.Join(names, ",")
		case "count":
			calls++
			results["count"] = strconv.Itoa(calls)
		case "clock":
			results["initialized"] = initialized.Format(time.RFC3339Nano)
			results["now"] = time.Now().Format(time.RFC3339Nano)
			b := make([]byte, 16)
			_, _ = rand.Read(b)
			results["random"] = hex.EncodeToString(b)
			results["mathrand"] = strconv.FormatUint(mathrand.Uint64(), 10)
		case "read":
			path, err := p.String("path")
			if err != nil {
				return nil, err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return nil, err
			}
			results["content"] = string(b)
		case "sleep":
			time.Sleep(1 << 62)
		case "panic":
			panic("boom")
		default:
			return nil, guest.Fail("UnknownMode", "unknown mode %q", mode)
		}
		resp := &hostabi.Response{Status: hostabi.StatusSucceeded}
		for name, value := range results {
			resp.Results = append(resp.Results, hostabi.Result{Name: name, Value: value})
		}
		return resp, nil
	})
}
