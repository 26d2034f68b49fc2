// Command template is the Template custom task the e2e suite serves from
// the rig's OCI registry (test/e2e/oci_test.go): a run renders the Go
// text/template in its template param, with the run's other string params
// as data ({{.name}}), and succeeds with the text as its result rendered.
//
// It is there for its size: text/template and the reflection it brings
// make the module too large for a plugin ConfigMap (over 1 MiB even zstd
// compressed), so it can only be registered from a registry.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -trimpath -buildmode=c-shared -o bin/e2e/template.wasm ./test/e2e/plugins/template
package main

import (
	"context"
	"strings"
	"text/template"

	"github.com/tekton-wasm/tekton-wasm/hostabi"
	"github.com/tekton-wasm/tekton-wasm/hostabi/guest"
)

const (
	reasonRendered        = "Rendered"
	reasonInvalidTemplate = "InvalidTemplate"
	reasonInvalidParam    = "InvalidParam"
)

func main() {
	guest.Run(func(_ context.Context, req *hostabi.Request) (*hostabi.Response, error) {
		return render(req)
	})
}

// render renders the template param with the other string params.
func render(req *hostabi.Request) (*hostabi.Response, error) {
	text, err := guest.Params(req).String("template")
	if err != nil {
		return nil, guest.Fail(reasonInvalidParam, "%v", err)
	}
	data := map[string]string{}
	for _, p := range req.Params {
		if p.Name == "template" {
			continue
		}
		if p.Value.Type != hostabi.ParamTypeString {
			return nil, guest.Fail(reasonInvalidParam, "param %q is an %s; the template's data are strings", p.Name, p.Value.Type)
		}
		data[p.Name] = p.Value.String
	}
	tmpl, err := template.New("template").Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, guest.Fail(reasonInvalidTemplate, "the template param does not parse: %v", err)
	}
	var out strings.Builder
	if err := tmpl.Execute(&out, data); err != nil {
		return nil, guest.Fail(reasonInvalidTemplate, "rendering the template: %v", err)
	}
	return &hostabi.Response{
		Status:  hostabi.StatusSucceeded,
		Reason:  reasonRendered,
		Message: "Rendered the template",
		Results: []hostabi.Result{{Name: "rendered", Value: out.String()}},
	}, nil
}
