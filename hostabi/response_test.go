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

// A response must mean one thing: encoding/json alone let the last of two
// equal keys win, matched "STATUS" to status, and kept numbers the
// apiserver refuses (so every status write failed until the deadline).
func TestParseResponseStrict(t *testing.T) {
	deep := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	for _, tc := range []struct{ name, in, err string }{
		{name: "duplicate status", in: `{"status":"Failed","status":"Succeeded"}`, err: `key "status" appears twice`},
		{name: "case-variant key", in: `{"STATUS":"Succeeded"}`, err: `unknown field "STATUS"`},
		{name: "case-variant second key", in: `{"status":"Failed","Status":"Succeeded"}`, err: `unknown field "Status"`},
		{name: "duplicate result name key", in: `{"status":"Succeeded","results":[{"name":"a","name":"b","value":""}]}`, err: `key "name" appears twice`},
		{name: "case-variant result key", in: `{"status":"Succeeded","results":[{"Name":"a","value":""}]}`, err: `unknown field "Name"`},
		{name: "duplicate key in extraFields", in: `{"status":"Running","extraFields":{"a":1,"a":2}}`, err: `key "a" appears twice`},
		{name: "huge number in extraFields", in: `{"status":"Succeeded","extraFields":{"n":1e400}}`, err: "number 1e400 does not fit a 64-bit float"},
		{name: "huge negative number deep in extraFields", in: `{"status":"Succeeded","extraFields":[{"a":[-1e309]}]}`, err: "number -1e309 does not fit"},
		{name: "too deep", in: `{"status":"Running","extraFields":` + deep(MaxJSONDepth) + `}`, err: "nested more than 100 deep"},
		{name: "escaped key is the key", in: `{"st\u0061tus":"Succeeded"}`},
		{name: "deep enough", in: `{"status":"Running","extraFields":` + deep(MaxJSONDepth-1) + `}`},
		{name: "large but finite numbers", in: `{"status":"Succeeded","extraFields":[1e308,-1.7e308,1e-400,123456789012345678901234567890]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseResponse([]byte(tc.in))
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("error = %v; want one containing %q", err, tc.err)
			}
		})
	}
}

// Validate, which the guest SDK runs on a handler's Response, checks
// extraFields the same way.
func TestValidateExtraFieldsNumbers(t *testing.T) {
	r := &Response{Status: StatusSucceeded, ExtraFields: []byte(`{"n": 1e400}`)}
	if err := r.Validate(); err == nil || !strings.Contains(err.Error(), "does not fit a 64-bit float") {
		t.Fatalf("Validate = %v; want the number refused", err)
	}
}

// A plugin may not answer with a reason the host sets itself.
func TestReservedReasons(t *testing.T) {
	for _, reason := range []string{"CustomRunCancelled", "CustomRunTimedOut", "CustomRunValidationFailed", "CustomRunWorkspaceNotSupported",
		ReasonExited, ReasonTrapped, ReasonOutOfMemory, ReasonOutputTooLarge, ReasonLogTooLarge, ReasonInvalidResponse, ReasonResultsTooLarge, ReasonLoadFailed,
		"PluginUnavailable", "StatusUpdateRejected", "Started", "Retrying", "CustomTaskNotFound", "WorkspaceForbidden", "WorkspaceInvalid"} {
		_, err := ParseResponse([]byte(`{"status":"Failed","reason":"` + reason + `"}`))
		want := `response reason "` + reason + `" is reserved for the host`
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error = %v; want one containing %q", reason, err, want)
		}
		var le *LimitError
		if errors.As(err, &le) {
			t.Errorf("%s: a LimitError; want an invalid response", reason)
		}
	}
	for _, reason := range []string{"Succeeded", "Failed", "Running", "Waiting", "Panicked", "InvalidResponse", "Plugged", "StartedUp"} {
		if _, err := ParseResponse([]byte(`{"status":"Failed","reason":"` + reason + `"}`)); err != nil {
			t.Errorf("%s: %v; want it accepted", reason, err)
		}
	}
}
