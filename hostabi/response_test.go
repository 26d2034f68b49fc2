package hostabi

import (
	"errors"
	"strings"
	"testing"
)

func TestValidNames(t *testing.T) {
	for s, want := range map[string]bool{"Succeeded": true, "A1b2": true, "": false, "lower": false, "Two Words": false, "Dash-ed": false, strings.Repeat("A", 65): false} {
		if got := ValidReason(s); got != want {
			t.Errorf("ValidReason(%q) = %v; want %v", s, got, want)
		}
	}
	for s, want := range map[string]bool{"a": true, "image-digest": true, "a.b_c-9": true, "": false, "-a": false, "a-": false, "a b": false, "a/b": false} {
		if got := ValidResultName(s); got != want {
			t.Errorf("ValidResultName(%q) = %v; want %v", s, got, want)
		}
	}
}

func TestParseResponse(t *testing.T) {
	for _, tc := range []struct {
		name, in, err string
		limit         bool
	}{
		{name: "ok", in: `{"status":"Succeeded","results":[{"name":"a","value":"b"}],"extraFields":{"k": 1}}`},
		{name: "empty", in: " \n", err: "wrote no response"},
		{name: "garbage", in: "hello", err: "not a JSON response"},
		{name: "two documents", in: `{"status":"Failed"} {"status":"Failed"}`, err: "more than one JSON document"},
		{name: "unknown field", in: `{"status":"Failed","statsu":1}`, err: `unknown field "statsu"`},
		{name: "bad status", in: `{"status":"Done"}`, err: `status "Done" is not one of`},
		{name: "bad reason", in: `{"status":"Failed","reason":"not ok"}`, err: "is not a CamelCase word"},
		{name: "wrong abi", in: `{"abiVersion":"v0","status":"Failed"}`, err: `abiVersion "v0"`},
		{name: "negative requeue", in: `{"status":"Running","requeueAfter":"-1s"}`, err: "negative"},
		{name: "bad requeue", in: `{"status":"Running","requeueAfter":30}`, err: "duration string"},
		{name: "bad result name", in: `{"status":"Succeeded","results":[{"name":"a b","value":""}]}`, err: `result name "a b" is invalid`, limit: true},
		{name: "duplicate result", in: `{"status":"Succeeded","results":[{"name":"a","value":""},{"name":"a","value":""}]}`, err: "returned twice", limit: true},
		{name: "big result", in: `{"status":"Succeeded","results":[{"name":"a","value":"` + strings.Repeat("x", MaxResultValueBytes+1) + `"}]}`, err: "the limit is 16384", limit: true},
		{name: "big extraFields", in: `{"status":"Running","extraFields":"` + strings.Repeat("x", MaxExtraFieldsBytes) + `"}`, err: "extraFields are 65538 bytes", limit: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseResponse([]byte(tc.in))
			if tc.err == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("error = %v; want one containing %q", err, tc.err)
			}
			var le *LimitError
			if errors.As(err, &le) != tc.limit {
				t.Errorf("LimitError = %v; want %v", !tc.limit, tc.limit)
			}
		})
	}
}

func TestMessageTruncated(t *testing.T) {
	r, err := ParseResponse([]byte(`{"status":"Failed","message":"` + strings.Repeat("é", MaxMessageBytes) + `"}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Message) > MaxMessageBytes || !strings.HasSuffix(r.Message, "…") || !strings.HasPrefix(r.Message, "éé") {
		t.Errorf("message of %d bytes ends %q", len(r.Message), r.Message[len(r.Message)-8:])
	}
}
