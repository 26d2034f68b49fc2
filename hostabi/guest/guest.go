// Package guest turns a Go function into a tekton-wasm plugin. It owns the
// plugin side of the host ABI (package hostabi): reading the Request from
// stdin, checking the ABI version, bounding the handler by the attempt's
// deadline, turning errors and panics into Failed responses, validating
// the Response and writing it, once, to stdout.
//
// A complete plugin:
//
//	package main
//
//	import (
//		"context"
//
//		"github.com/tekton-wasm/tekton-wasm/hostabi"
//		"github.com/tekton-wasm/tekton-wasm/hostabi/guest"
//	)
//
//	func main() {
//		guest.Run(func(ctx context.Context, req *hostabi.Request) (*hostabi.Response, error) {
//			p := guest.Params(req)
//			name, err := p.String("name")
//			if err != nil {
//				return nil, err // Failed, reason MissingParam or InvalidParam
//			}
//			if err := p.Only("name"); err != nil {
//				return nil, err // Failed, reason UnexpectedParams
//			}
//			return &hostabi.Response{
//				Status:  hostabi.StatusSucceeded,
//				Results: []hostabi.Result{{Name: "greeting", Value: "hello " + name}},
//			}, nil
//		})
//	}
//
// Build it as a WASI reactor (preferred) or a WASI command, from the same
// source:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o hello.wasm  # reactor
//	GOOS=wasip1 GOARCH=wasm go build -o hello.wasm                      # command
//
// A command starts the Go runtime on every call. A reactor's runtime is
// started by its _initialize, which the host can run ahead of demand, so
// a call to a prepared reactor instance costs a fraction of a millisecond
// instead of several (docs/performance.md). Each instance still serves
// one call only. The package uses the standard library only and costs
// nothing at run time beyond one JSON decode and one encode.
//
// A request with Cleanup set (req.Cleanup != nil) is a clean-up call: the
// run was cancelled or the attempt timed out after a Running answer, and
// the handler should stop what it started (found through
// req.ExtraFields) within ctx, which ends with the grace period; its
// answer does not change the outcome (hostabi/README.md, "Clean-up
// calls").
//
// DoHTTP sends HTTP requests through the host's HTTP capability, which
// the plugin's manifest must grant (capabilities.http); a plugin that
// does not call it does not import it.
package guest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/tekton-wasm/tekton-wasm/hostabi"
)

// Reasons Run sets on the Failed responses it makes itself.
const (
	// ReasonInvalidRequest: stdin did not hold a JSON Request.
	ReasonInvalidRequest = "InvalidRequest"
	// ReasonUnsupportedABIVersion: the host speaks another ABI version
	// than the one this plugin was built against.
	ReasonUnsupportedABIVersion = "UnsupportedABIVersion"
	// ReasonFailed: the handler returned an error that carries no reason.
	ReasonFailed = "Failed"
	// ReasonPanicked: the handler panicked.
	ReasonPanicked = "Panicked"
	// ReasonInvalidResponse: the handler returned a Response that breaks
	// the ABI, or neither a Response nor an error.
	ReasonInvalidResponse = "InvalidResponse"
	// ReasonResultsTooLarge: the handler's Response breaks a result or
	// extraFields limit of the ABI.
	ReasonResultsTooLarge = "ResultsTooLarge"
)

// The host reserves its own reasons (hostabi.Reserved), the Plugin* ones
// included: the reasons above are the plugin's word for the same
// failures, which the host then shows as they are.

// Handler handles one invocation. It returns the Response to write, or an
// error, which becomes a Failed response (see Fail for choosing its
// reason). ctx ends at the attempt's deadline (Request.Deadline), when the
// host stops the plugin anyway; a handler that waits on something should
// watch it.
type Handler func(ctx context.Context, req *hostabi.Request) (*hostabi.Response, error)

// Run serves one invocation with h and exits the process with code 0 once
// the response is written (1 only if stdout cannot be written). It never
// returns. Every outcome of h is a Response: an error or a panic is a
// Failed response, and a Response that breaks the ABI (a reason reserved
// for the host included) becomes a Failed response saying why, with
// reason ReasonInvalidResponse or ReasonResultsTooLarge.
//
// While h runs, os.Stdout points at os.Stderr, so whatever h prints lands
// in the plugin's log and cannot corrupt the response. A panic in a
// goroutine h starts is not recovered: it kills the plugin, which the host
// reports as hostabi.ReasonExited.
//
// Call Run from main. In a command, main runs when the host calls _start.
// In a reactor (-buildmode=c-shared), this package exports tekton_run,
// which runs main when the host calls it, and the exit ends the call.
// Package initialization (init functions and package-level variables)
// runs earlier, in _initialize, possibly long before the call when the
// host prepares instances ahead of demand: read the clock, the request
// and anything else that belongs to a call in main or in h, not there.
func Run(h Handler) {
	stdout := os.Stdout
	os.Stdout = os.Stderr
	os.Exit(serve(os.Stdin, stdout, os.Stderr, h))
}

// serve is Run without the process: it reads the request from stdin, runs
// h, writes the response to stdout and diagnostics to stderr, and returns
// the exit code.
func serve(stdin io.Reader, stdout, stderr io.Writer, h Handler) int {
	resp := handle(stdin, stderr, h)
	if err := resp.Validate(); err != nil {
		reason := ReasonInvalidResponse
		var limit *hostabi.LimitError
		if errors.As(err, &limit) {
			reason = ReasonResultsTooLarge
		}
		resp = failed(reason, "the plugin returned an invalid response: %v", err)
	}
	resp.ABIVersion = hostabi.Version
	b, err := json.Marshal(resp)
	if err == nil {
		_, err = stdout.Write(append(b, '\n'))
	}
	if err != nil {
		fmt.Fprintf(stderr, "guest: writing the response: %v\n", err)
		return 1
	}
	return 0
}

// handle decodes the request and calls h, turning every failure into a
// Failed response.
func handle(stdin io.Reader, stderr io.Writer, h Handler) *hostabi.Response {
	in, err := io.ReadAll(stdin)
	if err != nil {
		return failed(ReasonInvalidRequest, "reading the request from stdin: %v", err)
	}
	var req hostabi.Request
	if err := json.Unmarshal(in, &req); err != nil {
		return failed(ReasonInvalidRequest, "stdin is not a JSON request: %v", err)
	}
	if req.ABIVersion != hostabi.Version {
		return failed(ReasonUnsupportedABIVersion,
			"the host speaks ABI %q but this plugin was built for %q; rebuild it against the host's hostabi/guest", req.ABIVersion, hostabi.Version)
	}
	ctx := context.Background()
	if req.Deadline != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, *req.Deadline)
		defer cancel()
	}
	resp, err := call(ctx, &req, stderr, h)
	switch {
	case err != nil:
		var e *Error
		if errors.As(err, &e) {
			return failed(e.Reason, "%s", err.Error())
		}
		return failed(ReasonFailed, "%s", err.Error())
	case resp == nil:
		return failed(ReasonInvalidResponse, "the plugin's handler returned neither a response nor an error")
	}
	return resp
}

// call runs h, turning a panic into an error with reason ReasonPanicked and
// logging its stack to stderr.
func call(ctx context.Context, req *hostabi.Request, stderr io.Writer, h Handler) (resp *hostabi.Response, err error) {
	defer func() {
		if v := recover(); v != nil {
			fmt.Fprintf(stderr, "panic: %v\n\n%s", v, debug.Stack())
			resp, err = nil, Fail(ReasonPanicked, "the plugin panicked: %v", v)
		}
	}()
	return h(ctx, req)
}

// sampleRequest is a request with every field set, for warmUp.
const sampleRequest = `{"abiVersion":"tekton-wasm/v1","run":{"name":"r","namespace":"n","uid":"u","labels":{"a":"b"},"serviceAccountName":"s"},` +
	`"apiVersion":"x.dev/v1","kind":"X","ref":"x","spec":{"a":[1,"b",{"c":null,"d":true}]},"metadata":{"labels":{"a":"b"},"annotations":{"a":"b"}},` +
	`"params":[{"name":"s","value":"v"},{"name":"a","value":["x"]},{"name":"o","value":{"k":"v"}}],"attempt":1,"retries":1,` +
	`"startTime":"2026-01-02T03:04:05Z","deadline":"2026-01-02T04:04:05.5Z","extraFields":{"n":1},` +
	`"workspaces":[{"name":"w","path":"/workspace/w","readOnly":true}],"cleanup":{"reason":"Cancelled"}}`

// warmUp serves sampleRequest with a handler that answers with every
// Response field set, writing nothing anywhere: it runs the code paths of
// a call, once, ahead of the call.
func warmUp() int {
	return serve(strings.NewReader(sampleRequest), io.Discard, io.Discard, func(_ context.Context, req *hostabi.Request) (*hostabi.Response, error) {
		return &hostabi.Response{Status: hostabi.StatusRunning, Reason: "Waiting", Message: req.Run.Name,
			Results: []hostabi.Result{{Name: "a", Value: "b"}}, ExtraFields: req.ExtraFields,
			RequeueAfter: hostabi.Duration{Duration: time.Second}}, nil
	})
}

func failed(reason, format string, args ...any) *hostabi.Response {
	return &hostabi.Response{Status: hostabi.StatusFailed, Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// Error is a handler error that chooses the reason of the Failed response.
// It may be wrapped (fmt.Errorf("...: %w", err)): Run finds it with
// errors.As and uses the whole error text as the message.
type Error struct {
	// Reason is the condition reason: one CamelCase word (see
	// hostabi.ValidReason) that the host does not reserve
	// (hostabi.Reserved). Any other turns the response into a
	// ReasonInvalidResponse failure.
	Reason string
	// Message is the condition message.
	Message string
}

func (e *Error) Error() string { return e.Message }

// Fail returns an *Error with the given reason and a formatted message,
// for a handler to return:
//
//	return nil, guest.Fail("InvalidDuration", "duration %q is not a Go duration", s)
func Fail(reason, format string, args ...any) error {
	return &Error{Reason: reason, Message: fmt.Sprintf(format, args...)}
}
