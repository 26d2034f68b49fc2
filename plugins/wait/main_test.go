package main

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/tekton-wasm/tekton-wasm/hostabi"
	"github.com/tekton-wasm/tekton-wasm/hostabi/guest"
	"github.com/tekton-wasm/tekton-wasm/internal/wasmtest"
	"github.com/tekton-wasm/tekton-wasm/plugins/internal/waitcases"
	"github.com/tekton-wasm/tekton-wasm/runtime/plugintest"
)

var start = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

func request(params ...hostabi.Param) *hostabi.Request { return waitcases.Request(start, params...) }

var duration = waitcases.Duration

func running(left time.Duration, msg string) *hostabi.Response {
	return &hostabi.Response{Status: hostabi.StatusRunning, Reason: "Running", Message: msg, RequeueAfter: hostabi.Duration{Duration: left}}
}

var elapsed = &hostabi.Response{Status: hostabi.StatusSucceeded, Reason: "DurationElapsed", Message: "The wait duration has elapsed"}

func TestWait(t *testing.T) {
	tests := []struct {
		name       string
		req        *hostabi.Request
		now        time.Time
		want       *hostabi.Response
		wantReason string
		wantMsg    string
	}{
		{name: "first call", req: request(duration("5s")), now: start, want: running(5*time.Second, "Waiting 5s more of 5s")},
		{name: "part way", req: request(duration("5s")), now: start.Add(800 * time.Millisecond), want: running(4200*time.Millisecond, "Waiting 4.2s more of 5s")},
		{name: "a moment left", req: request(duration("1s")), now: start.Add(999 * time.Millisecond), want: running(time.Millisecond, "Waiting 100ms more of 1s")},
		{name: "exactly elapsed", req: request(duration("1s")), now: start.Add(time.Second), want: elapsed},
		{name: "long past", req: request(duration("1m30s")), now: start.Add(time.Hour), want: elapsed},
		{name: "zero", req: request(duration("0s")), now: start, want: elapsed},
		{name: "missing", req: request(), now: start, wantReason: "MissingDuration", wantMsg: "The duration param was not passed"},
		{name: "missing with others", req: request(hostabi.Param{Name: "x", Value: hostabi.StringValue("1")}), now: start,
			wantReason: "MissingDuration", wantMsg: "The duration param was not passed"},
		{name: "empty", req: request(duration("")), now: start, wantReason: "MissingDuration", wantMsg: "The duration param was not passed"},
		{name: "an array", req: request(hostabi.Param{Name: "duration", Value: hostabi.ArrayValue("1s")}), now: start,
			wantReason: "InvalidDuration", wantMsg: `The duration param was invalid: param "duration" must be a string, not an array`},
		{name: "invalid", req: request(duration("soon")), now: start, wantReason: "InvalidDuration",
			wantMsg: `The duration param was invalid: time: invalid duration "soon"`},
		{name: "no unit", req: request(duration("5")), now: start, wantReason: "InvalidDuration",
			wantMsg: `The duration param was invalid: time: missing unit in duration "5"`},
		{name: "negative", req: request(duration("-1s")), now: start, wantReason: "InvalidDuration",
			wantMsg: "The duration param was invalid: -1s is negative"},
		{name: "unexpected params", req: request(hostabi.Param{Name: "b", Value: hostabi.StringValue("1")}, duration("1s"), hostabi.Param{Name: "a", Value: hostabi.ArrayValue()}),
			now: start, wantReason: "UnexpectedParams", wantMsg: "unexpected params: [b a]; this plugin takes [duration]"},
		{name: "named ref", req: func() *hostabi.Request { r := request(duration("1s")); r.Ref = "my-wait"; return r }(), now: start,
			wantReason: "UnexpectedName", wantMsg: "Found unexpected ref name: my-wait; use customRef with apiVersion and kind only"},
		{name: "spec", req: func() *hostabi.Request {
			r := request(duration("1s"))
			r.Spec = json.RawMessage(`{"duration":"1s"}`)
			return r
		}(), now: start,
			wantReason: "UnexpectedSpec", wantMsg: "Wait takes no spec; pass the duration as the duration param"},
		{name: "no start time", req: func() *hostabi.Request { r := request(duration("1s")); r.StartTime = time.Time{}; return r }(), now: start,
			wantReason: "InvalidRequest", wantMsg: "the request has no startTime, so the elapsed time is unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := wait(tt.req, tt.now)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("response %+v, want %+v", got, tt.want)
			}
			var e *guest.Error
			switch {
			case tt.wantReason == "" && err != nil:
				t.Errorf("unexpected error %v", err)
			case tt.wantReason == "":
			case !errors.As(err, &e):
				t.Errorf("error %v, want a guest.Error with reason %s", err, tt.wantReason)
			case e.Reason != tt.wantReason || e.Message != tt.wantMsg:
				t.Errorf("error %s: %q, want %s: %q", e.Reason, e.Message, tt.wantReason, tt.wantMsg)
			}
			if got != nil {
				if err := got.Validate(); err != nil {
					t.Errorf("the host refuses the response: %v", err)
				}
			}
		})
	}
}

// TestModule runs the built module: a wait that has not elapsed answers
// Running with the time left, one that has succeeds, and a bad param is a
// Failed response with the plugin's reason.
func TestModule(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the wasm module")
	}
	p := plugintest.Load(t, ".", wasmtest.Plugin(t, "."))

	req := request(duration("1h"))
	req.StartTime = time.Now()
	got := p.Invoke(t, req)
	if left := got.RequeueAfter.Duration; got.Status != hostabi.StatusRunning || got.Reason != "Running" || left <= 59*time.Minute || left > time.Hour {
		t.Errorf("a fresh 1h wait answered %+v; want Running, reason Running, requeueAfter just under 1h", got)
	}

	req = request(duration("1s"))
	req.StartTime = time.Now().Add(-time.Second)
	want := *elapsed
	want.ABIVersion = hostabi.Version
	if got := p.Invoke(t, req); !reflect.DeepEqual(got, &want) {
		t.Errorf("an elapsed wait answered %+v, want %+v", got, &want)
	}

	want = hostabi.Response{ABIVersion: hostabi.Version, Status: hostabi.StatusFailed, Reason: "InvalidDuration",
		Message: `The duration param was invalid: time: invalid duration "forever"`}
	if got := p.Invoke(t, request(duration("forever"))); !reflect.DeepEqual(got, &want) {
		t.Errorf("an invalid duration answered %+v, want %+v", got, &want)
	}

	// The module is a reactor: malformed stdin reaches its tekton_run too,
	// and the SDK answers for it.
	if got := p.InvokeRaw(t, []byte("{not json")); got.Status != hostabi.StatusFailed || got.Reason != guest.ReasonInvalidRequest {
		t.Errorf("stdin that is not JSON answered %+v; want Failed, reason %s", got, guest.ReasonInvalidRequest)
	}
}
