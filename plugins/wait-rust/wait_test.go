// The wait-rust plugin is Rust; these tests build it with Debian's cargo,
// as the Makefile does, and run it in the host's engine next to its Go
// twin, plugins/wait: every case goes to the Rust reactor (what `make
// plugins` ships), the Rust command (src/main.rs) and the Go plugin, and
// all three must answer alike.
package waitrust_test

import (
	"encoding/json"
	"reflect"
	"regexp"
	"testing"
	"time"

	"github.com/tekton-wasm/tekton-wasm/hostabi"
	"github.com/tekton-wasm/tekton-wasm/internal/wasmtest"
	"github.com/tekton-wasm/tekton-wasm/runtime/plugintest"
)

func request(start time.Time, params ...hostabi.Param) *hostabi.Request {
	return &hostabi.Request{
		ABIVersion: hostabi.Version,
		Run:        hostabi.RunIdentity{Name: "wait-run", Namespace: "default"},
		APIVersion: "wait.tekton-wasm.dev/v1alpha1",
		Kind:       "Wait",
		Params:     params,
		Attempt:    1,
		StartTime:  start,
	}
}

func duration(s string) hostabi.Param {
	return hostabi.Param{Name: "duration", Value: hostabi.StringValue(s)}
}

func failed(reason, message string) *hostabi.Response {
	return &hostabi.Response{ABIVersion: hostabi.Version, Status: hostabi.StatusFailed, Reason: reason, Message: message}
}

var elapsed = &hostabi.Response{ABIVersion: hostabi.Version, Status: hostabi.StatusSucceeded, Reason: "DurationElapsed", Message: "The wait duration has elapsed"}

// twins loads the Rust reactor, the Rust command and the Go plugin.
func twins(t testing.TB) map[string]*plugintest.Harness {
	rust := plugintest.Load(t, ".", wasmtest.Plugin(t, "."))
	return map[string]*plugintest.Harness{
		"rust reactor": rust,
		"rust command": rust.Variant(t, wasmtest.RustCommand(t, ".")),
		"go":           plugintest.Load(t, "../wait", wasmtest.Plugin(t, "../wait")),
	}
}

func TestTwins(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the wasm modules")
	}
	hour := time.Now().Add(-time.Hour)
	withRef := request(hour, duration("1s"))
	withRef.Ref = "my-wait"
	withSpec := request(hour, duration("1s"))
	withSpec.Spec = json.RawMessage(`{"duration":"1s"}`)
	tests := []struct {
		name string
		req  *hostabi.Request
		want *hostabi.Response
	}{
		{"elapsed", request(hour, duration("1s")), elapsed},
		{"exactly an hour ago", request(hour, duration("59m59.999s")), elapsed},
		{"zero", request(time.Now(), duration("0s")), elapsed},
		{"missing", request(hour), failed("MissingDuration", "The duration param was not passed")},
		{"missing with others", request(hour, hostabi.Param{Name: "x", Value: hostabi.StringValue("1")}),
			failed("MissingDuration", "The duration param was not passed")},
		{"empty", request(hour, duration("")), failed("MissingDuration", "The duration param was not passed")},
		{"an array", request(hour, hostabi.Param{Name: "duration", Value: hostabi.ArrayValue("1s")}),
			failed("InvalidDuration", `The duration param was invalid: param "duration" must be a string, not an array`)},
		{"an object", request(hour, hostabi.Param{Name: "duration", Value: hostabi.ObjectValue(map[string]string{"s": "1"})}),
			failed("InvalidDuration", `The duration param was invalid: param "duration" must be a string, not an object`)},
		{"invalid", request(hour, duration("soon")), failed("InvalidDuration", `The duration param was invalid: time: invalid duration "soon"`)},
		{"no unit", request(hour, duration("5")), failed("InvalidDuration", `The duration param was invalid: time: missing unit in duration "5"`)},
		{"unknown unit", request(hour, duration("5é")),
			failed("InvalidDuration", `The duration param was invalid: time: unknown unit "\xc3\xa9" in duration "5\xc3\xa9"`)},
		{"too long", request(hour, duration("3000000h")), failed("InvalidDuration", `The duration param was invalid: time: invalid duration "3000000h"`)},
		{"negative", request(hour, duration("-1s")), failed("InvalidDuration", "The duration param was invalid: -1s is negative")},
		{"unexpected params", request(hour, hostabi.Param{Name: "b", Value: hostabi.StringValue("1")}, duration("1s"), hostabi.Param{Name: "a", Value: hostabi.ArrayValue()}),
			failed("UnexpectedParams", "unexpected params: [b a]; this plugin takes [duration]")},
		{"named ref", withRef, failed("UnexpectedName", "Found unexpected ref name: my-wait; use customRef with apiVersion and kind only")},
		{"spec", withSpec, failed("UnexpectedSpec", "Wait takes no spec; pass the duration as the duration param")},
		{"no start time", request(time.Time{}, duration("1s")), failed("InvalidRequest", "the request has no startTime, so the elapsed time is unknown")},
	}
	plugins := twins(t)
	for _, tt := range tests {
		for name, p := range plugins {
			t.Run(name+"/"+tt.name, func(t *testing.T) {
				if got := p.Invoke(t, tt.req); !reflect.DeepEqual(got, tt.want) {
					t.Errorf("got %+v, want %+v", got, tt.want)
				}
			})
		}
	}

	// A wait that has not elapsed: the time left comes from the clock, so
	// it is checked within bounds; the rest is exact.
	waiting := regexp.MustCompile(`^Waiting (\S+) more of (\S+)$`)
	for _, tt := range []struct {
		duration string
		start    time.Duration // from now
		of       string
	}{
		{"1h30m0.25s", 0, "1h30m0.25s"},
		{"90m", 24 * time.Hour, "1h30m0s"},
		{"1.5us", time.Minute, "1.5µs"},
		{"2.5ms", 10 * time.Second, "2.5ms"},
	} {
		for name, p := range plugins {
			t.Run(name+"/running "+tt.duration, func(t *testing.T) {
				d, err := time.ParseDuration(tt.duration)
				if err != nil {
					t.Fatal(err)
				}
				start := time.Now().Add(tt.start)
				got := p.Invoke(t, request(start, duration(tt.duration)))
				left := time.Until(start.Add(d))
				m := waiting.FindStringSubmatch(got.Message)
				if got.Status != hostabi.StatusRunning || got.Reason != "Running" || m == nil || m[2] != tt.of {
					t.Fatalf("got %+v; want Running, reason Running, message Waiting ... more of %s", got, tt.of)
				}
				shown, err := time.ParseDuration(m[1])
				if r := got.RequeueAfter.Duration; err != nil || r < left || r > left+time.Minute || shown%(100*time.Millisecond) != 0 || shown < r-time.Second || shown > r+time.Second {
					t.Errorf("got requeueAfter %s, message %q; want about %s, in tenths of a second", r, got.Message, left)
				}
			})
		}
	}

	// Malformed stdin reaches the SDK, which answers for it.
	for name, p := range plugins {
		if got := p.InvokeRaw(t, []byte("{not json")); got.Status != hostabi.StatusFailed || got.Reason != "InvalidRequest" {
			t.Errorf("%s: stdin that is not JSON answered %+v; want Failed, reason InvalidRequest", name, got)
		}
	}
}

// BenchmarkInvoke measures one call of the shipped module (the reactor) in
// the host's engine: a fresh instance, the request written and parsed,
// the response written and parsed.
func BenchmarkInvoke(b *testing.B) {
	p := plugintest.Load(b, ".", wasmtest.Plugin(b, "."))
	req := request(time.Now().Add(-time.Hour), duration("1s"))
	for b.Loop() {
		if got := p.Invoke(b, req); got.Status != hostabi.StatusSucceeded {
			b.Fatalf("got %+v", got)
		}
	}
	b.ReportMetric(float64(len(p.Wasm)), "module-bytes")
}
