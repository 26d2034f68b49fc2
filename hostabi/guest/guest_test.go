package guest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tekton-wasm/tekton-wasm/hostabi"
)

const validRequest = `{"abiVersion":"tekton-wasm/v1","run":{"name":"r"},"apiVersion":"x.dev/v1","kind":"X","attempt":1,"retries":0,"startTime":"2026-01-02T03:04:05Z"}`

func succeed(context.Context, *hostabi.Request) (*hostabi.Response, error) {
	return &hostabi.Response{Status: hostabi.StatusSucceeded, Results: []hostabi.Result{{Name: "a", Value: "b"}}}, nil
}

func TestServe(t *testing.T) {
	tests := []struct {
		name    string
		stdin   string
		handler Handler
		want    string // exact stdout
	}{{
		name:    "success",
		stdin:   validRequest,
		handler: succeed,
		want:    `{"abiVersion":"tekton-wasm/v1","status":"Succeeded","results":[{"name":"a","value":"b"}]}`,
	}, {
		name:  "running",
		stdin: validRequest,
		handler: func(context.Context, *hostabi.Request) (*hostabi.Response, error) {
			return &hostabi.Response{Status: hostabi.StatusRunning, Reason: "Waiting", RequeueAfter: hostabi.Duration{Duration: 1500 * time.Millisecond},
				ExtraFields: []byte(`{ "n" : 1 }`)}, nil
		},
		want: `{"abiVersion":"tekton-wasm/v1","status":"Running","reason":"Waiting","extraFields":{"n":1},"requeueAfter":"1.5s"}`,
	}, {
		name:    "not JSON",
		stdin:   `{"abiVersion":`,
		handler: succeed,
		want:    `{"abiVersion":"tekton-wasm/v1","status":"Failed","reason":"InvalidRequest","message":"stdin is not a JSON request: unexpected end of JSON input"}`,
	}, {
		name:    "empty stdin",
		stdin:   ``,
		handler: succeed,
		want:    `{"abiVersion":"tekton-wasm/v1","status":"Failed","reason":"InvalidRequest","message":"stdin is not a JSON request: unexpected end of JSON input"}`,
	}, {
		name:    "param of the wrong shape",
		stdin:   `{"abiVersion":"tekton-wasm/v1","params":[{"name":"p","value":1}]}`,
		handler: succeed,
		want:    `{"abiVersion":"tekton-wasm/v1","status":"Failed","reason":"InvalidRequest","message":"stdin is not a JSON request: param value must be a string, an array of strings or an object of strings, not 1"}`,
	}, {
		name:    "other ABI version",
		stdin:   `{"abiVersion":"tekton-wasm/v2"}`,
		handler: succeed,
		want:    `{"abiVersion":"tekton-wasm/v1","status":"Failed","reason":"UnsupportedABIVersion","message":"the host speaks ABI \"tekton-wasm/v2\" but this plugin was built for \"tekton-wasm/v1\"; rebuild it against the host's hostabi/guest"}`,
	}, {
		name:  "plain error",
		stdin: validRequest,
		handler: func(context.Context, *hostabi.Request) (*hostabi.Response, error) {
			return nil, errors.New("disk on fire")
		},
		want: `{"abiVersion":"tekton-wasm/v1","status":"Failed","reason":"Failed","message":"disk on fire"}`,
	}, {
		name:  "wrapped Fail keeps its reason",
		stdin: validRequest,
		handler: func(context.Context, *hostabi.Request) (*hostabi.Response, error) {
			return nil, fmt.Errorf("checking out: %w", Fail("NoSuchRef", "ref %q not found", "main"))
		},
		want: `{"abiVersion":"tekton-wasm/v1","status":"Failed","reason":"NoSuchRef","message":"checking out: ref \"main\" not found"}`,
	}, {
		name:  "Fail with an invalid reason",
		stdin: validRequest,
		handler: func(context.Context, *hostabi.Request) (*hostabi.Response, error) {
			return nil, Fail("not camel", "x")
		},
		want: `{"abiVersion":"tekton-wasm/v1","status":"Failed","reason":"InvalidResponse","message":"the plugin returned an invalid response: response reason \"not camel\" is not a CamelCase word of at most 64 bytes"}`,
	}, {
		name:  "Fail with a reason reserved for the host",
		stdin: validRequest,
		handler: func(context.Context, *hostabi.Request) (*hostabi.Response, error) {
			return nil, Fail("CustomRunCancelled", "x")
		},
		want: `{"abiVersion":"tekton-wasm/v1","status":"Failed","reason":"InvalidResponse","message":"the plugin returned an invalid response: response reason \"CustomRunCancelled\" is reserved for the host, which sets it itself; choose a reason of the plugin's own"}`,
	}, {
		name:  "extraFields with a number out of range",
		stdin: validRequest,
		handler: func(context.Context, *hostabi.Request) (*hostabi.Response, error) {
			return &hostabi.Response{Status: hostabi.StatusSucceeded, ExtraFields: []byte(`{"n":1e400}`)}, nil
		},
		want: `{"abiVersion":"tekton-wasm/v1","status":"Failed","reason":"InvalidResponse","message":"the plugin returned an invalid response: response extraFields: number 1e400 does not fit a 64-bit float"}`,
	}, {
		name:  "panic",
		stdin: validRequest,
		handler: func(context.Context, *hostabi.Request) (*hostabi.Response, error) {
			var m map[string]int
			m["x"] = 1
			return nil, nil
		},
		want: `{"abiVersion":"tekton-wasm/v1","status":"Failed","reason":"Panicked","message":"the plugin panicked: assignment to entry in nil map"}`,
	}, {
		name:  "neither response nor error",
		stdin: validRequest,
		handler: func(context.Context, *hostabi.Request) (*hostabi.Response, error) {
			return nil, nil
		},
		want: `{"abiVersion":"tekton-wasm/v1","status":"Failed","reason":"InvalidResponse","message":"the plugin's handler returned neither a response nor an error"}`,
	}, {
		name:  "invalid status",
		stdin: validRequest,
		handler: func(context.Context, *hostabi.Request) (*hostabi.Response, error) {
			return &hostabi.Response{Status: "Done"}, nil
		},
		want: `{"abiVersion":"tekton-wasm/v1","status":"Failed","reason":"InvalidResponse","message":"the plugin returned an invalid response: response status \"Done\" is not one of Succeeded, Failed, Running"}`,
	}, {
		name:  "too many results",
		stdin: validRequest,
		handler: func(context.Context, *hostabi.Request) (*hostabi.Response, error) {
			r := &hostabi.Response{Status: hostabi.StatusSucceeded}
			for i := range hostabi.MaxResults + 1 {
				r.Results = append(r.Results, hostabi.Result{Name: fmt.Sprint("r", i)})
			}
			return r, nil
		},
		want: `{"abiVersion":"tekton-wasm/v1","status":"Failed","reason":"ResultsTooLarge","message":"the plugin returned an invalid response: the plugin returned 65 results; the limit is 64"}`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := serve(strings.NewReader(tt.stdin), &stdout, &stderr, tt.handler); code != 0 {
				t.Fatalf("exit code %d, want 0; stderr:\n%s", code, stderr.String())
			}
			if got := stdout.String(); got != tt.want+"\n" {
				t.Errorf("stdout:\n got %s\nwant %s", got, tt.want)
			}
			if _, err := hostabi.ParseResponse(stdout.Bytes()); err != nil {
				t.Errorf("the host refuses the response: %v", err)
			}
		})
	}
}

func TestServeLogsPanicStack(t *testing.T) {
	var stdout, stderr bytes.Buffer
	serve(strings.NewReader(validRequest), &stdout, &stderr, func(context.Context, *hostabi.Request) (*hostabi.Response, error) {
		panic("boom")
	})
	if log := stderr.String(); !strings.HasPrefix(log, "panic: boom\n\ngoroutine ") || !strings.Contains(log, "guest_test.go") {
		t.Errorf("stderr does not hold the panic and its stack:\n%s", log)
	}
}

func TestServeDeadline(t *testing.T) {
	deadline := time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		stdin string
		want  time.Time
	}{
		{"with deadline", strings.Replace(validRequest, `"attempt"`, `"deadline":"2100-01-01T00:00:00Z","attempt"`, 1), deadline},
		{"without deadline", validRequest, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got time.Time
			var stdout bytes.Buffer
			serve(strings.NewReader(tt.stdin), &stdout, &bytes.Buffer{}, func(ctx context.Context, req *hostabi.Request) (*hostabi.Response, error) {
				got, _ = ctx.Deadline()
				return succeed(ctx, req)
			})
			if !got.Equal(tt.want) {
				t.Errorf("ctx deadline %v, want %v (stdout %s)", got, tt.want, stdout.String())
			}
		})
	}
}

func TestServeExpiredDeadlineCancelsContext(t *testing.T) {
	stdin := strings.Replace(validRequest, `"attempt"`, `"deadline":"2000-01-01T00:00:00Z","attempt"`, 1)
	var stdout bytes.Buffer
	serve(strings.NewReader(stdin), &stdout, &bytes.Buffer{}, func(ctx context.Context, _ *hostabi.Request) (*hostabi.Response, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	})
	want := `{"abiVersion":"tekton-wasm/v1","status":"Failed","reason":"Failed","message":"context deadline exceeded"}` + "\n"
	if stdout.String() != want {
		t.Errorf("stdout:\n got %s\nwant %s", stdout.String(), want)
	}
}

type brokenWriter struct{}

func (brokenWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

func TestServeUnwritableStdout(t *testing.T) {
	var stderr bytes.Buffer
	if code := serve(strings.NewReader(validRequest), brokenWriter{}, &stderr, succeed); code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	if want := "guest: writing the response: broken pipe\n"; stderr.String() != want {
		t.Errorf("stderr %q, want %q", stderr.String(), want)
	}
}

// TestRun runs Run in a child process (this test binary) to check what
// only the real process shows: the exit code and that whatever the handler
// prints goes to stderr, leaving stdout to the response.
func TestRun(t *testing.T) {
	if os.Getenv("GUEST_TEST_RUN") == "1" {
		Run(func(ctx context.Context, req *hostabi.Request) (*hostabi.Response, error) {
			fmt.Println("stray print")
			fmt.Fprintln(os.Stdout, "stray write")
			return succeed(ctx, req)
		})
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestRun$")
	cmd.Env = append(os.Environ(), "GUEST_TEST_RUN=1")
	cmd.Stdin = strings.NewReader(validRequest)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("child: %v; stderr:\n%s", err, stderr.String())
	}
	if want := `{"abiVersion":"tekton-wasm/v1","status":"Succeeded","results":[{"name":"a","value":"b"}]}` + "\n"; stdout.String() != want {
		t.Errorf("stdout:\n got %q\nwant %q", stdout.String(), want)
	}
	if want := "stray print\nstray write\n"; stderr.String() != want {
		t.Errorf("stderr %q, want %q", stderr.String(), want)
	}
}

// warmUp runs a call's code paths on a request with every field set.
func TestWarmUp(t *testing.T) {
	var req hostabi.Request
	dec := json.NewDecoder(strings.NewReader(sampleRequest))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		t.Fatalf("sampleRequest: %v", err)
	}
	v := reflect.ValueOf(req)
	for i := range v.NumField() {
		if v.Field(i).IsZero() {
			t.Errorf("sampleRequest leaves %s unset", v.Type().Field(i).Name)
		}
	}
	if code := warmUp(); code != 0 {
		t.Errorf("warmUp = %d, want 0", code)
	}
}

// A handler tells a clean-up call by req.Cleanup, and why it is made.
func TestServeCleanup(t *testing.T) {
	for _, tt := range []struct {
		name  string
		stdin string
		want  *hostabi.Cleanup
	}{
		{"a call", validRequest, nil},
		{"cancelled", validRequest[:len(validRequest)-1] + `,"cleanup":{"reason":"Cancelled"}}`, &hostabi.Cleanup{Reason: hostabi.CleanupCancelled}},
		{"timed out", validRequest[:len(validRequest)-1] + `,"cleanup":{"reason":"TimedOut"}}`, &hostabi.Cleanup{Reason: hostabi.CleanupTimedOut}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got *hostabi.Cleanup
			serve(strings.NewReader(tt.stdin), &bytes.Buffer{}, &bytes.Buffer{}, func(ctx context.Context, req *hostabi.Request) (*hostabi.Response, error) {
				got = req.Cleanup
				return succeed(ctx, req)
			})
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("req.Cleanup = %+v, want %+v", got, tt.want)
			}
		})
	}
}
