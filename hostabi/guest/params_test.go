package guest

import (
	"errors"
	"reflect"
	"testing"

	"github.com/tekton-wasm/tekton-wasm/hostabi"
)

func TestParams(t *testing.T) {
	p := Params(&hostabi.Request{Params: []hostabi.Param{
		{Name: "s", Value: hostabi.StringValue("v")},
		{Name: "empty", Value: hostabi.StringValue("")},
		{Name: "a", Value: hostabi.ArrayValue("x", "y")},
		{Name: "o", Value: hostabi.ObjectValue(map[string]string{"k": "v"})},
	}})
	tests := []struct {
		name       string
		get        func() (any, error)
		want       any
		wantReason string
		wantMsg    string
	}{
		{"String", func() (any, error) { return p.String("s") }, "v", "", ""},
		{"String empty", func() (any, error) { return p.String("empty") }, "", "", ""},
		{"String missing", func() (any, error) { return p.String("nope") }, "", ReasonMissingParam, `param "nope" is required`},
		{"String of an array", func() (any, error) { return p.String("a") }, "", ReasonInvalidParam, `param "a" must be a string, not an array`},
		{"OptionalString", func() (any, error) { return p.OptionalString("s", "d") }, "v", "", ""},
		{"OptionalString absent", func() (any, error) { return p.OptionalString("nope", "d") }, "d", "", ""},
		{"OptionalString of an object", func() (any, error) { return p.OptionalString("o", "d") }, "d", ReasonInvalidParam, `param "o" must be a string, not an object`},
		{"Array", func() (any, error) { return p.Array("a") }, []string{"x", "y"}, "", ""},
		{"Array missing", func() (any, error) { return p.Array("nope") }, []string(nil), ReasonMissingParam, `param "nope" is required`},
		{"Array of a string", func() (any, error) { return p.Array("s") }, []string(nil), ReasonInvalidParam, `param "s" must be an array, not a string`},
		{"OptionalArray absent", func() (any, error) { return p.OptionalArray("nope") }, []string(nil), "", ""},
		{"OptionalArray", func() (any, error) { return p.OptionalArray("a") }, []string{"x", "y"}, "", ""},
		{"Object", func() (any, error) { return p.Object("o") }, map[string]string{"k": "v"}, "", ""},
		{"Object of an array", func() (any, error) { return p.Object("a") }, map[string]string(nil), ReasonInvalidParam, `param "a" must be an object, not an array`},
		{"OptionalObject absent", func() (any, error) { return p.OptionalObject("nope") }, map[string]string(nil), "", ""},
		{"OptionalObject", func() (any, error) { return p.OptionalObject("o") }, map[string]string{"k": "v"}, "", ""},
		{"Only all", func() (any, error) { return nil, p.Only("s", "empty", "a", "o", "more") }, nil, "", ""},
		{"Only some", func() (any, error) { return nil, p.Only("a", "s") }, nil, ReasonUnexpectedParams, `unexpected params: [empty o]; this plugin takes [a s]`},
		{"Only none", func() (any, error) { return nil, p.Only() }, nil, ReasonUnexpectedParams, `unexpected params: [s empty a o]; this plugin takes []`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.get()
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("value %#v, want %#v", got, tt.want)
			}
			var e *Error
			switch {
			case tt.wantReason == "" && err != nil:
				t.Errorf("unexpected error %v", err)
			case tt.wantReason == "":
			case !errors.As(err, &e):
				t.Errorf("error %v is not a *guest.Error", err)
			case e.Reason != tt.wantReason || e.Message != tt.wantMsg:
				t.Errorf("error %s: %q, want %s: %q", e.Reason, e.Message, tt.wantReason, tt.wantMsg)
			}
		})
	}
}

func TestParamsHas(t *testing.T) {
	p := Params(&hostabi.Request{Params: []hostabi.Param{{Name: "s", Value: hostabi.StringValue("")}}})
	if !p.Has("s") || p.Has("t") {
		t.Errorf("Has(s)=%v Has(t)=%v, want true false", p.Has("s"), p.Has("t"))
	}
}
