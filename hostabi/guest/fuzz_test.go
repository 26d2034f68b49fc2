package guest

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/tekton-wasm/tekton-wasm/hostabi"
)

// FuzzServe: whatever stdin holds, the SDK answers with exactly one
// response the host accepts. The handler echoes what it read from the
// request's params into the response.
func FuzzServe(f *testing.F) {
	for _, s := range []string{validRequest, sampleRequest, "", `{"abiVersion":`, `{"abiVersion":"tekton-wasm/v1","params":[{"name":"p","value":1}]}`,
		`{"abiVersion":"tekton-wasm/v1","params":[{"name":"p","value":{"a":"1","a":"2"}}]}`, `{"abiVersion":"tekton-wasm/v1","params":[{"name":"p","value":[null]}]}`,
		`{"abiVersion":"tekton-wasm/v1","deadline":"2026-01-02T04:04:05Z","extraFields":{"n":1e400}}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, stdin string) {
		var stdout, stderr bytes.Buffer
		code := serve(strings.NewReader(stdin), &stdout, &stderr, func(_ context.Context, req *hostabi.Request) (*hostabi.Response, error) {
			p := Params(req)
			var vals []string
			for _, prm := range req.Params {
				v, err := p.OptionalString(prm.Name, "")
				if err != nil {
					return nil, err
				}
				vals = append(vals, v)
			}
			return &hostabi.Response{Status: hostabi.StatusRunning, Reason: req.Kind, Message: strings.Join(vals, ","), ExtraFields: req.ExtraFields}, nil
		})
		if code != 0 {
			t.Fatalf("exit code %d; stderr:\n%s", code, stderr.String())
		}
		if _, err := hostabi.ParseResponse(stdout.Bytes()); err != nil {
			t.Fatalf("the host refuses the SDK's response %s: %v", stdout.Bytes(), err)
		}
	})
}
