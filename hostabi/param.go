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

// UnmarshalJSON reads a string, an array of strings or an object of
// strings. null, a null element or member, and a key that appears twice
// in the object are errors: none is a value a CustomRun can hold.
func (v *ParamValue) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	*v = ParamValue{}
	if err := checkJSON(data, nil, 0); err != nil {
		return fmt.Errorf("param value: %v", err)
	}
	switch data[0] {
	case '[':
		var a []*string
		if err := json.Unmarshal(data, &a); err != nil {
			return fmt.Errorf("param value must be a string, an array of strings or an object of strings: %w", err)
		}
		v.Type, v.Array = ParamTypeArray, make([]string, len(a))
		for i, s := range a {
			if s == nil {
				return fmt.Errorf("param value: element %d of the array is null; use strings", i)
			}
			v.Array[i] = *s
		}
	case '{':
		var o map[string]*string
		if err := json.Unmarshal(data, &o); err != nil {
			return fmt.Errorf("param value must be a string, an array of strings or an object of strings: %w", err)
		}
		v.Type, v.Object = ParamTypeObject, make(map[string]string, len(o))
		for k, s := range o {
			if s == nil {
				return fmt.Errorf("param value: key %q of the object is null; use strings", head([]byte(k), 40))
			}
			v.Object[k] = *s
		}
	case '"':
		v.Type = ParamTypeString
		return json.Unmarshal(data, &v.String)
	default:
		return fmt.Errorf("param value must be a string, an array of strings or an object of strings, not %s", head(data, 40))
	}
	return nil
}
