package main

import (
	"errors"
	"testing"

	"github.com/tekton-wasm/tekton-wasm/hostabi"
	"github.com/tekton-wasm/tekton-wasm/hostabi/guest"
)

func param(name, value string) hostabi.Param {
	return hostabi.Param{Name: name, Value: hostabi.StringValue(value)}
}

func TestRender(t *testing.T) {
	resp, err := render(&hostabi.Request{Params: []hostabi.Param{param("template", "{{.name}} {{.version}} is out"), param("name", "x"), param("version", "v1")}})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != hostabi.StatusSucceeded || len(resp.Results) != 1 || resp.Results[0] != (hostabi.Result{Name: "rendered", Value: "x v1 is out"}) {
		t.Errorf("render = %+v", resp)
	}
}

func TestRenderFails(t *testing.T) {
	for _, tc := range []struct {
		name   string
		params []hostabi.Param
		reason string
	}{
		{"no template", []hostabi.Param{param("name", "x")}, reasonInvalidParam},
		{"an array", []hostabi.Param{param("template", "{{.a}}"), {Name: "a", Value: hostabi.ArrayValue("1")}}, reasonInvalidParam},
		{"does not parse", []hostabi.Param{param("template", "{{.a")}, reasonInvalidTemplate},
		{"missing key", []hostabi.Param{param("template", "{{.absent}}")}, reasonInvalidTemplate},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := render(&hostabi.Request{Params: tc.params})
			var gerr *guest.Error
			if !errors.As(err, &gerr) || gerr.Reason != tc.reason {
				t.Errorf("render = %v; want a failure with reason %s", err, tc.reason)
			}
		})
	}
}
