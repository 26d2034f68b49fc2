// Command wait is the Wait custom task (wait.tekton-wasm.dev/v1alpha1,
// kind Wait) as a tekton-wasm plugin: a run succeeds once the duration
// given in its duration param has elapsed since the attempt started. It
// matches Tekton's reference wait custom task (test/custom-task-ctrls/
// wait-task-beta in tektoncd/pipeline) param for param and reason for
// reason; timeout, retries and cancellation are the host's.
//
// It holds no sandbox while waiting: each call compares the attempt's
// start time with the clock and either succeeds or answers Running with
// requeueAfter set to the time left, so a run of any length costs two
// short invocations.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -trimpath -buildmode=c-shared -o bin/plugins/wait.wasm ./plugins/wait
package main

import (
	"context"
	"fmt"
	"time"

	"github.com/tekton-wasm/tekton-wasm/hostabi"
	"github.com/tekton-wasm/tekton-wasm/hostabi/guest"
)

// Reasons and messages; those shared with Tekton's wait task are spelled
// as there.
const (
	reasonMissingDuration = "MissingDuration"
	reasonInvalidDuration = "InvalidDuration"
	reasonUnexpectedName  = "UnexpectedName"
	reasonUnexpectedSpec  = "UnexpectedSpec"
	reasonRunning         = "Running"
	reasonDurationElapsed = "DurationElapsed"

	messageDurationElapsed = "The wait duration has elapsed"
)

func main() {
	guest.Run(func(_ context.Context, req *hostabi.Request) (*hostabi.Response, error) {
		return wait(req, time.Now())
	})
}

// wait decides one call at time now.
func wait(req *hostabi.Request, now time.Time) (*hostabi.Response, error) {
	if req.Ref != "" {
		return nil, guest.Fail(reasonUnexpectedName, "Found unexpected ref name: %s; use customRef with apiVersion and kind only", req.Ref)
	}
	if len(req.Spec) > 0 {
		return nil, guest.Fail(reasonUnexpectedSpec, "Wait takes no spec; pass the duration as the duration param")
	}
	duration, err := durationParam(req)
	if err != nil {
		return nil, err
	}
	if req.StartTime.IsZero() {
		return nil, guest.Fail(guest.ReasonInvalidRequest, "the request has no startTime, so the elapsed time is unknown")
	}
	left := req.StartTime.Add(duration).Sub(now)
	if left <= 0 {
		return &hostabi.Response{Status: hostabi.StatusSucceeded, Reason: reasonDurationElapsed, Message: messageDurationElapsed}, nil
	}
	return &hostabi.Response{
		Status:       hostabi.StatusRunning,
		Reason:       reasonRunning,
		Message:      fmt.Sprintf("Waiting %s more of %s", max(left.Round(100*time.Millisecond), 100*time.Millisecond), duration),
		RequeueAfter: hostabi.Duration{Duration: left},
	}, nil
}

// durationParam reads and checks the duration param, the only one.
func durationParam(req *hostabi.Request) (time.Duration, error) {
	p := guest.Params(req)
	s, err := p.OptionalString("duration", "")
	if err != nil {
		return 0, guest.Fail(reasonInvalidDuration, "The duration param was invalid: %v", err)
	}
	if s == "" {
		return 0, guest.Fail(reasonMissingDuration, "The duration param was not passed")
	}
	if err := p.Only("duration"); err != nil {
		return 0, err
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, guest.Fail(reasonInvalidDuration, "The duration param was invalid: %v", err)
	}
	if d < 0 {
		return 0, guest.Fail(reasonInvalidDuration, "The duration param was invalid: %s is negative", s)
	}
	return d, nil
}
