package hostabi

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// Responses as the repo's plugins write them (plugins/wait through the Go
// SDK, plugins/semver by hand in C) and hostile ones.
var responseSeeds = []string{
	`{"abiVersion":"tekton-wasm/v1","status":"Running","reason":"Waiting","message":"Waiting 1s","requeueAfter":"1s"}`,
	`{"abiVersion":"tekton-wasm/v1","status":"Succeeded","reason":"DurationElapsed","message":"The wait duration has elapsed"}`,
	`{"abiVersion":"tekton-wasm/v1","status":"Failed","reason":"InvalidDuration","message":"The duration param was invalid: time: invalid duration \"soon\""}`,
	`{"abiVersion":"tekton-wasm/v1","status":"Succeeded","reason":"ConstraintSatisfied","message":"1.2.3 satisfies \">=1.0.0\"","results":[{"name":"satisfied","value":"true"}]}`,
	`{"status":"Running","extraFields":{"n":1,"a":[1,"b",{"c":null,"d":true}]},"requeueAfter":"100ms"}`,
	`{"status":"Succeeded","extraFields":{"n":1e400}}`,
	`{"status":"Failed","status":"Succeeded"}`,
	`{"STATUS":"Succeeded"}`,
	`{"status":"Failed","reason":"CustomRunCancelled"}`,
	`{"status":"Succeeded","results":[{"name":"a","value":"1"},{"name":"a","value":"2"}]}`,
	`{"status":"Running","extraFields":` + strings.Repeat("[", 200) + strings.Repeat("]", 200) + `}`,
	`{"status":"Failed"} {"status":"Failed"}`,
	`{"st\u0061tus":"Succeeded","message":"\ud800"}`,
	"this is not json",
}

// FuzzParseResponse: no input panics, and an accepted response means one
// thing: written back as JSON it parses to a Response that is written the
// same, within the ABI's limits and with no reserved reason.
func FuzzParseResponse(f *testing.F) {
	for _, s := range responseSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseResponse(b)
		if err != nil {
			return
		}
		if Reserved(r.Reason) || len(r.Message) > MaxMessageBytes || len(r.ExtraFields) > MaxExtraFieldsBytes || len(r.Results) > MaxResults {
			t.Fatalf("accepted a response that breaks the ABI: %+v", r)
		}
		again, err := json.Marshal(r)
		if err != nil {
			t.Fatalf("an accepted response does not marshal: %v", err)
		}
		r2, err := ParseResponse(again)
		if err != nil {
			t.Fatalf("an accepted response, written back, is refused: %v\n%s", err, again)
		}
		if again2, _ := json.Marshal(r2); string(again) != string(again2) {
			t.Fatalf("an accepted response changes when written back:\n%s\n%s", again, again2)
		}
	})
}

// FuzzParamValue: no input panics, and an accepted value survives a round
// trip.
func FuzzParamValue(f *testing.F) {
	for _, s := range []string{`"x"`, `["a","b"]`, `{"k":"v"}`, `[]`, `{}`, `null`, `[null]`, `{"k":"a","k":"b"}`, `1`, `"\ud800"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var v ParamValue
		if json.Unmarshal(b, &v) != nil {
			return
		}
		out, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("an accepted value does not marshal: %v", err)
		}
		var v2 ParamValue
		if err := json.Unmarshal(out, &v2); err != nil || !reflect.DeepEqual(v, v2) {
			t.Fatalf("round trip of %s: %+v, %v; want %+v", out, v2, err, v)
		}
	})
}

// FuzzQuickCheck: checkJSON's fast path accepts only what reading token
// by token accepts, and accepts the plain responses the seeds hold.
func FuzzQuickCheck(f *testing.F) {
	for _, s := range responseSeeds {
		f.Add([]byte(s))
	}
	for _, s := range []string{`[1,-0.5e+3,"\u00e9\n",true,false,null,{}]`, `{"a":{"b":[]},"c":"é"}`, `-01`, `1.`, `"\x"`, `{"a" 1}`, `[1,]`, `01`, `1e`, "\"\x01\""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, s := range []*shape{nil, responseShape()} {
			for _, depth := range []int{0, MaxJSONDepth - 2} {
				if quickCheck(b, s, depth) {
					if err := checkTokens(b, s, depth); err != nil {
						t.Fatalf("quickCheck accepted %q (shape %v, depth %d), which checkTokens refuses: %v", b, s != nil, depth, err)
					}
				}
			}
		}
	})
}

// TestQuickCheckTakesPlainResponses checks that the fast path decides the
// responses plugins write, so that they skip the token-by-token reading.
func TestQuickCheckTakesPlainResponses(t *testing.T) {
	for _, s := range responseSeeds[:5] {
		if !quickCheck([]byte(s), responseShape(), 0) {
			t.Errorf("quickCheck refused %s", s)
		}
	}
}
