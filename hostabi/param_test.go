package hostabi

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestParamValueUnmarshal(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want ParamValue
		err  string
	}{
		{in: `"x"`, want: StringValue("x")},
		{in: `[]`, want: ArrayValue([]string{}...)},
		{in: `["a","b"]`, want: ArrayValue("a", "b")},
		{in: `{"k":"v"}`, want: ObjectValue(map[string]string{"k": "v"})},
		{in: `null`, err: "must be a string, an array of strings or an object of strings, not null"},
		{in: `1`, err: "not 1"},
		{in: `["a",null]`, err: "element 1 of the array is null"},
		{in: `["a",1]`, err: "cannot unmarshal number"},
		{in: `{"k":null}`, err: `key "k" of the object is null`},
		{in: `{"k":"a","k":"b"}`, err: `key "k" appears twice`},
		{in: `{"k":"a","K":"b"}`, want: ObjectValue(map[string]string{"k": "a", "K": "b"})},
	} {
		var got ParamValue
		err := json.Unmarshal([]byte(tc.in), &got)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error = %v; want one containing %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}
