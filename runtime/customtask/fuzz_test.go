package customtask

import (
	"encoding/json"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// FuzzSpecOf decodes an object as the dynamic client does and extracts
// its spec: never a panic or an error, and the spec the plugin receives
// is valid JSON, nil only when the object has no spec.
func FuzzSpecOf(f *testing.F) {
	for _, seed := range []string{
		`{"apiVersion":"wait.tekton-wasm.dev/v1alpha1","kind":"Wait","metadata":{"name":"w"},"spec":{"duration":"5s","reason":{"text":"x"}}}`,
		`{"apiVersion":"v1","kind":"Wait","spec":null}`,
		`{"apiVersion":"v1","kind":"Wait","spec":[1,2.5,"a",true,null,{"n":1e300}]}`,
		`{"apiVersion":"v1","kind":"Wait","spec":{"a":{"b":{"c":[]}}},"status":{}}`,
		`{"apiVersion":"v1","kind":"Wait","spec":"\u0000\ud800"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var obj unstructured.Unstructured
		if err := obj.UnmarshalJSON(data); err != nil {
			return
		}
		got, err := specOf(&obj)
		if err != nil {
			t.Fatalf("specOf: %v", err)
		}
		if spec, found := obj.Object["spec"]; !found || spec == nil {
			if got != nil {
				t.Fatalf("spec %s of an object without spec", got)
			}
			return
		}
		if !json.Valid(got) {
			t.Fatalf("spec %q is not JSON", got)
		}
	})
}
