package hostabi

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// ParamType is the type of a param value, as in Tekton.
type ParamType string

const (
	ParamTypeString ParamType = "string"
	ParamTypeArray  ParamType = "array"
	ParamTypeObject ParamType = "object"
)

// Param is one named param of the run.
type Param struct {
	Name  string     `json:"name"`
	Value ParamValue `json:"value"`
}

// ParamValue is a string, an array of strings, or an object of string
// values. On the wire it is the bare JSON value, exactly as in a CustomRun:
// "1s", ["a","b"] or {"k":"v"}; Type is implied by the JSON.
type ParamValue struct {
	Type   ParamType
	String string
	Array  []string
	Object map[string]string
}

// StringValue, ArrayValue and ObjectValue build a ParamValue.
func StringValue(s string) ParamValue            { return ParamValue{Type: ParamTypeString, String: s} }
func ArrayValue(a ...string) ParamValue          { return ParamValue{Type: ParamTypeArray, Array: a} }
func ObjectValue(o map[string]string) ParamValue { return ParamValue{Type: ParamTypeObject, Object: o} }

// MarshalJSON writes the bare JSON value.
func (v ParamValue) MarshalJSON() ([]byte, error) {
	switch v.Type {
	case ParamTypeArray:
		if v.Array == nil {
			return []byte("[]"), nil
		}
		return json.Marshal(v.Array)
	case ParamTypeObject:
		if v.Object == nil {
			return []byte("{}"), nil
		}
		return json.Marshal(v.Object)
	case ParamTypeString, "":
		return json.Marshal(v.String)
	default:
		return nil, fmt.Errorf("param value has unknown type %q", v.Type)
	}
}

// UnmarshalJSON reads a string, an array of strings or an object of strings.
func (v *ParamValue) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return fmt.Errorf("empty param value")
	}
	*v = ParamValue{}
	switch data[0] {
	case '[':
		v.Type = ParamTypeArray
		return json.Unmarshal(data, &v.Array)
	case '{':
		v.Type = ParamTypeObject
		return json.Unmarshal(data, &v.Object)
	default:
		v.Type = ParamTypeString
		if err := json.Unmarshal(data, &v.String); err != nil {
			return fmt.Errorf("param value must be a string, an array of strings or an object of strings: %w", err)
		}
		return nil
	}
}
