// Command plugin is the reconciler tests' plugin. Its "mode" param picks
// what a call does:
//
//   - echo: succeed with results describing the request (attempt, ref,
//     spec, metadata labels) and every file of its workspaces; it writes
//     and reads back a file in each writable workspace.
//   - fail: answer Failed (reason Boom) on every attempt before the
//     "succeedOn" param's attempt (default: never succeed).
//   - poll: answer Running with requeueAfter "every" (default 1s) and
//     extraFields {"calls": n}, and succeed on the "calls" param's call.
//   - hang: sleep for an hour, ignoring the deadline: the host must stop it.
//   - cleanup: log "started job-<attempt>" and answer Running with
//     requeueAfter "every" (default 1h) and extraFields
//     {"started": "job-<attempt>"}; a clean-up call logs
//     "clean-up <reason> <extraFields>" and, if the "hangInCleanup" param
//     is "true", then sleeps for an hour, ignoring the deadline.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/tekton-wasm/tekton-wasm/hostabi"
	"github.com/tekton-wasm/tekton-wasm/hostabi/guest"
)

func main() {
	guest.Run(func(_ context.Context, req *hostabi.Request) (*hostabi.Response, error) {
		p := guest.Params(req)
		mode, err := p.String("mode")
		if err != nil {
			return nil, err
		}
		switch mode {
		case "echo":
			return echo(req)
		case "fail":
			succeedOn, _ := p.OptionalString("succeedOn", "0")
			if n, _ := strconv.Atoi(succeedOn); n > 0 && req.Attempt >= n {
				return succeeded("attempt", strconv.Itoa(req.Attempt)), nil
			}
			return nil, guest.Fail("Boom", "attempt %d failed", req.Attempt)
		case "poll":
			return poll(req)
		case "cleanup":
			return cleanup(req)
		case "hang":
			time.Sleep(time.Hour)
			return succeeded("slept", "1h"), nil
		}
		return nil, guest.Fail("UnknownMode", "unknown mode %q", mode)
	})
}

func succeeded(kv ...string) *hostabi.Response {
	r := &hostabi.Response{Status: hostabi.StatusSucceeded}
	for i := 0; i < len(kv); i += 2 {
		r.Results = append(r.Results, hostabi.Result{Name: kv[i], Value: kv[i+1]})
	}
	return r
}

func echo(req *hostabi.Request) (*hostabi.Response, error) {
	labels := ""
	if req.Metadata != nil {
		b, _ := json.Marshal(req.Metadata.Labels)
		labels = string(b)
	}
	var files []string
	for _, ws := range req.Workspaces {
		if !ws.ReadOnly {
			f := filepath.Join(ws.Path, "written")
			if err := os.WriteFile(f, []byte("ok"), 0o600); err != nil {
				return nil, guest.Fail("WriteFailed", "%v", err)
			}
		} else if err := os.WriteFile(filepath.Join(ws.Path, "written"), nil, 0o600); err == nil {
			return nil, guest.Fail("ReadOnlyWritable", "wrote into read-only workspace %s", ws.Name)
		}
		err := filepath.WalkDir(ws.Path, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(path)
			files = append(files, path+"="+string(b))
			return err
		})
		if err != nil {
			return nil, guest.Fail("ReadFailed", "%v", err)
		}
	}
	return succeeded(
		"attempt", strconv.Itoa(req.Attempt),
		"ref", req.Ref,
		"spec", string(req.Spec),
		"labels", labels,
		"files", strings.Join(files, ","),
	), nil
}

func poll(req *hostabi.Request) (*hostabi.Response, error) {
	p := guest.Params(req)
	var state struct{ Calls int }
	if len(req.ExtraFields) > 0 {
		if err := json.Unmarshal(req.ExtraFields, &state); err != nil {
			return nil, guest.Fail("BadExtraFields", "%v", err)
		}
	}
	state.Calls++
	want, _ := p.OptionalString("calls", "2")
	if strconv.Itoa(state.Calls) == want {
		return succeeded("calls", want), nil
	}
	every, _ := p.OptionalString("every", "1s")
	d, err := time.ParseDuration(every)
	if err != nil {
		return nil, err
	}
	extra, _ := json.Marshal(map[string]int{"calls": state.Calls})
	return &hostabi.Response{Status: hostabi.StatusRunning, Reason: "Polling", Message: "call " + strconv.Itoa(state.Calls),
		ExtraFields: extra, RequeueAfter: hostabi.Duration{Duration: d}}, nil
}

func cleanup(req *hostabi.Request) (*hostabi.Response, error) {
	if req.Cleanup == nil {
		every, _ := guest.Params(req).OptionalString("every", "1h")
		d, err := time.ParseDuration(every)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(os.Stderr, "started job-%d\n", req.Attempt)
		return &hostabi.Response{Status: hostabi.StatusRunning, Reason: "JobRunning",
			ExtraFields: json.RawMessage(`{"started":"job-` + strconv.Itoa(req.Attempt) + `"}`), RequeueAfter: hostabi.Duration{Duration: d}}, nil
	}
	fmt.Fprintf(os.Stderr, "clean-up %s %s\n", req.Cleanup.Reason, req.ExtraFields)
	if hang, _ := guest.Params(req).OptionalString("hangInCleanup", "false"); hang == "true" {
		time.Sleep(time.Hour)
	}
	return succeeded("cleaned", "true"), nil
}
