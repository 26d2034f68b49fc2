// Package waitcases holds the cases every Wait plugin answers alike: the
// Go original (plugins/wait) and its twins in other languages
// (plugins/wait-rust, plugins/wait-as), whose tests run them through each
// module, reason for reason and message for message.
package waitcases

import (
	"encoding/json"
	"path/filepath"
	"reflect"
	"regexp"
	"testing"
	"time"

	"github.com/tekton-wasm/tekton-wasm/hostabi"
	"github.com/tekton-wasm/tekton-wasm/internal/wasmtest"
	"github.com/tekton-wasm/tekton-wasm/runtime/plugintest"
)

// Request is a Wait request of an attempt that started at start.
func Request(start time.Time, params ...hostabi.Param) *hostabi.Request {
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

// Duration is the duration param.
func Duration(s string) hostabi.Param {
	return hostabi.Param{Name: "duration", Value: hostabi.StringValue(s)}
}

func failed(reason, message string) *hostabi.Response {
	return &hostabi.Response{ABIVersion: hostabi.Version, Status: hostabi.StatusFailed, Reason: reason, Message: message}
}

var elapsed = &hostabi.Response{ABIVersion: hostabi.Version, Status: hostabi.StatusSucceeded, Reason: "DurationElapsed", Message: "The wait duration has elapsed"}

// Twins runs every case through the port of plugins/wait to language lang
// in the test's directory: its reactor (what `make plugins` ships, built
// by reactor), the same handler built as a command (by command), and the
// Go plugin; all must answer alike.
func Twins(t *testing.T, lang string, reactor, command func(testing.TB, string) []byte) {
	if testing.Short() {
		t.Skip("builds the wasm modules")
	}
	r := plugintest.Load(t, ".", reactor(t, "."))
	wait := filepath.Join("..", "wait")
	Run(t, map[string]*plugintest.Harness{
		lang + " reactor": r,
		lang + " command": r.Variant(t, command(t, ".")),
		"go":              plugintest.Load(t, wait, wasmtest.GoPlugin(t, wait)),
	})
}

// Run invokes every case in every plugin, by name.
func Run(t *testing.T, plugins map[string]*plugintest.Harness) {
	hour := time.Now().Add(-time.Hour)
	withRef := Request(hour, Duration("1s"))
	withRef.Ref = "my-wait"
	withSpec := Request(hour, Duration("1s"))
	withSpec.Spec = json.RawMessage(`{"duration":"1s"}`)
	tests := []struct {
		name string
		req  *hostabi.Request
		want *hostabi.Response
	}{
		{"elapsed", Request(hour, Duration("1s")), elapsed},
		{"exactly an hour ago", Request(hour, Duration("59m59.999s")), elapsed},
		{"zero", Request(time.Now(), Duration("0s")), elapsed},
		{"missing", Request(hour), failed("MissingDuration", "The duration param was not passed")},
		{"missing with others", Request(hour, hostabi.Param{Name: "x", Value: hostabi.StringValue("1")}),
			failed("MissingDuration", "The duration param was not passed")},
		{"empty", Request(hour, Duration("")), failed("MissingDuration", "The duration param was not passed")},
		{"an array", Request(hour, hostabi.Param{Name: "duration", Value: hostabi.ArrayValue("1s")}),
			failed("InvalidDuration", `The duration param was invalid: param "duration" must be a string, not an array`)},
		{"an object", Request(hour, hostabi.Param{Name: "duration", Value: hostabi.ObjectValue(map[string]string{"s": "1"})}),
			failed("InvalidDuration", `The duration param was invalid: param "duration" must be a string, not an object`)},
		{"invalid", Request(hour, Duration("soon")), failed("InvalidDuration", `The duration param was invalid: time: invalid duration "soon"`)},
		{"no unit", Request(hour, Duration("5")), failed("InvalidDuration", `The duration param was invalid: time: missing unit in duration "5"`)},
		{"unknown unit", Request(hour, Duration("5é")),
			failed("InvalidDuration", `The duration param was invalid: time: unknown unit "\xc3\xa9" in duration "5\xc3\xa9"`)},
		{"too long", Request(hour, Duration("3000000h")), failed("InvalidDuration", `The duration param was invalid: time: invalid duration "3000000h"`)},
		{"negative", Request(hour, Duration("-1s")), failed("InvalidDuration", "The duration param was invalid: -1s is negative")},
		{"unexpected params", Request(hour, hostabi.Param{Name: "b", Value: hostabi.StringValue("1")}, Duration("1s"), hostabi.Param{Name: "a", Value: hostabi.ArrayValue()}),
			failed("UnexpectedParams", "unexpected params: [b a]; this plugin takes [duration]")},
		{"named ref", withRef, failed("UnexpectedName", "Found unexpected ref name: my-wait; use customRef with apiVersion and kind only")},
		{"spec", withSpec, failed("UnexpectedSpec", "Wait takes no spec; pass the duration as the duration param")},
		{"no start time", Request(time.Time{}, Duration("1s")), failed("InvalidRequest", "the request has no startTime, so the elapsed time is unknown")},
	}
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
				// The plugin reads the wall clock: so does the bound
				// (Round(0) drops the monotonic reading, which may drift
				// from it by more than the call takes).
				start := time.Now().Round(0).Add(tt.start)
				got := p.Invoke(t, Request(start, Duration(tt.duration)))
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

// Benchmark measures one call of p in the host's engine: a fresh
// instance, an elapsed wait's request written and parsed, the response
// written and parsed. It reports the module's size too.
func Benchmark(b *testing.B, p *plugintest.Harness) {
	req := Request(time.Now().Add(-time.Hour), Duration("1s"))
	for b.Loop() {
		if got := p.Invoke(b, req); got.Status != hostabi.StatusSucceeded {
			b.Fatalf("got %+v", got)
		}
	}
	b.ReportMetric(float64(len(p.Wasm)), "module-bytes")
}
