package guest

import (
	"slices"

	"github.com/tekton-wasm/tekton-wasm/hostabi"
)

// Reasons of the errors ParamSet returns.
const (
	// ReasonMissingParam: a required param is absent.
	ReasonMissingParam = "MissingParam"
	// ReasonInvalidParam: a param has the wrong type.
	ReasonInvalidParam = "InvalidParam"
	// ReasonUnexpectedParams: the run passes params the plugin does not
	// take.
	ReasonUnexpectedParams = "UnexpectedParams"
)

// ParamSet gives typed access to a request's params. Its errors are
// *Error values with the reasons above, ready to be returned by a
// handler; a plugin that wants its own reasons checks Has first or
// replaces the error.
type ParamSet struct{ req *hostabi.Request }

// Params returns the params of req.
func Params(req *hostabi.Request) ParamSet { return ParamSet{req: req} }

// Has reports whether the run passes the param name.
func (p ParamSet) Has(name string) bool { return p.req.Param(name) != nil }

// String returns the string param name, which must be present.
func (p ParamSet) String(name string) (string, error) {
	v, err := p.get(name, hostabi.ParamTypeString, true)
	if err != nil {
		return "", err
	}
	return v.String, nil
}

// OptionalString returns the string param name, or def when it is absent.
func (p ParamSet) OptionalString(name, def string) (string, error) {
	v, err := p.get(name, hostabi.ParamTypeString, false)
	if err != nil || v == nil {
		return def, err
	}
	return v.String, nil
}

// Array returns the array param name, which must be present.
func (p ParamSet) Array(name string) ([]string, error) {
	v, err := p.get(name, hostabi.ParamTypeArray, true)
	if err != nil {
		return nil, err
	}
	return v.Array, nil
}

// OptionalArray returns the array param name, or nil when it is absent.
func (p ParamSet) OptionalArray(name string) ([]string, error) {
	v, err := p.get(name, hostabi.ParamTypeArray, false)
	if err != nil || v == nil {
		return nil, err
	}
	return v.Array, nil
}

// Object returns the object param name, which must be present.
func (p ParamSet) Object(name string) (map[string]string, error) {
	v, err := p.get(name, hostabi.ParamTypeObject, true)
	if err != nil {
		return nil, err
	}
	return v.Object, nil
}

// OptionalObject returns the object param name, or nil when it is absent.
func (p ParamSet) OptionalObject(name string) (map[string]string, error) {
	v, err := p.get(name, hostabi.ParamTypeObject, false)
	if err != nil || v == nil {
		return nil, err
	}
	return v.Object, nil
}

// Only fails with ReasonUnexpectedParams, naming them in order, if the run
// passes any param not in names:
//
//	unexpected params: [colour size]; this plugin takes [name]
func (p ParamSet) Only(names ...string) error {
	var extra []string
	for _, prm := range p.req.Params {
		if !slices.Contains(names, prm.Name) {
			extra = append(extra, prm.Name)
		}
	}
	if extra == nil {
		return nil
	}
	return Fail(ReasonUnexpectedParams, "unexpected params: %v; this plugin takes %v", extra, names)
}

// get returns the value of name, checking its type; nil (and no error)
// when it is absent and not required.
func (p ParamSet) get(name string, typ hostabi.ParamType, required bool) (*hostabi.ParamValue, error) {
	prm := p.req.Param(name)
	switch {
	case prm == nil && required:
		return nil, Fail(ReasonMissingParam, "param %q is required", name)
	case prm == nil:
		return nil, nil
	}
	got := prm.Value.Type
	if got == "" {
		got = hostabi.ParamTypeString
	}
	if got != typ {
		return nil, Fail(ReasonInvalidParam, "param %q must be %s %s, not %s %s", name, article(typ), typ, article(got), got)
	}
	return &prm.Value, nil
}

func article(t hostabi.ParamType) string {
	if t == hostabi.ParamTypeArray || t == hostabi.ParamTypeObject {
		return "an"
	}
	return "a"
}
