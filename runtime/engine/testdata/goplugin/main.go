// Command goplugin is the engine's Go test plugin (GOOS=wasip1
// GOARCH=wasm). It reads the request from stdin and behaves as its "mode"
// param says:
//
//	ok      Succeeded, with results describing the request and sandbox
//	panic   panics
//	oom     allocates until the Go runtime runs out of memory
//	sleep   sleeps forever
//	clock   Succeeded, with the wall clock, a measured 20ms sleep and
//	        random bytes
//	fs      reads the file named by the "read" param, writes the one named
//	        by "write", lists "/"; reports each outcome
//	count   increments a global counter and reports it
package main

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/tekton-wasm/tekton-wasm/hostabi"
)

var (
	hoard [][]byte
	calls int
)

func main() {
	var req hostabi.Request
	if err := json.NewDecoder(os.Stdin).Decode(&req); err != nil {
		fmt.Fprintln(os.Stderr, "decode request:", err)
		os.Exit(3)
	}
	results := map[string]string{}
	switch mode := str(&req, "mode"); mode {
	case "ok":
		var params []string
		for _, p := range req.Params {
			params = append(params, p.Name+":"+string(p.Value.Type))
		}
		results["params"] = strings.Join(params, ",")
		results["attempt"] = strconv.Itoa(req.Attempt)
		results["run"] = req.Run.Namespace + "/" + req.Run.Name
		results["args"] = strings.Join(os.Args, " ")
		results["env"] = strconv.Itoa(len(os.Environ()))
		if req.Deadline != nil {
			results["deadline"] = req.Deadline.Format(time.RFC3339Nano)
		}
		fmt.Fprintln(os.Stderr, "all good")
	case "panic":
		panic("boom")
	case "oom":
		for {
			b := make([]byte, 1<<20)
			b[len(b)-1] = 1
			hoard = append(hoard, b)
		}
	case "sleep":
		time.Sleep(1 << 62)
	case "clock":
		results["now"] = time.Now().Format(time.RFC3339Nano)
		start := time.Now()
		time.Sleep(20 * time.Millisecond)
		results["slept"] = time.Since(start).String()
		b := make([]byte, 16)
		if _, err := rand.Read(b); err != nil {
			results["random"] = err.Error()
		} else {
			results["random"] = hex.EncodeToString(b)
		}
	case "fs":
		results["read"] = outcome(func() (string, error) {
			b, err := os.ReadFile(str(&req, "read"))
			return string(b), err
		})
		results["write"] = outcome(func() (string, error) {
			return "written", os.WriteFile(str(&req, "write"), []byte("x"), 0o644)
		})
		results["root"] = outcome(func() (string, error) {
			entries, err := os.ReadDir("/")
			names := make([]string, len(entries))
			for i, e := range entries {
				names[i] = e.Name()
			}
			return strings.Join(names, ","), err
		})
	case "count":
		calls++
		results["count"] = strconv.Itoa(calls)
	default:
		fmt.Fprintf(os.Stderr, "unknown mode %q\n", mode)
		os.Exit(4)
	}
	resp := hostabi.Response{Status: hostabi.StatusSucceeded}
	for name, value := range results {
		resp.Results = append(resp.Results, hostabi.Result{Name: name, Value: value})
	}
	if err := json.NewEncoder(os.Stdout).Encode(resp); err != nil {
		fmt.Fprintln(os.Stderr, "encode response:", err)
		os.Exit(3)
	}
}

func str(req *hostabi.Request, name string) string {
	if p := req.Param(name); p != nil {
		return p.Value.String
	}
	return ""
}

func outcome(f func() (string, error)) string {
	s, err := f()
	if err != nil {
		return "error: " + err.Error()
	}
	return s
}
