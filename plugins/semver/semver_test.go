// The semver plugin is C; these tests build it with clang, as the Makefile
// does, and invoke the module in the host's engine.
package semver_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/tekton-wasm/tekton-wasm/hostabi"
	"github.com/tekton-wasm/tekton-wasm/internal/wasmtest"
	"github.com/tekton-wasm/tekton-wasm/runtime/plugintest"
)

// request builds a request with string params given as name, value pairs.
func request(nameValues ...string) *hostabi.Request {
	req := &hostabi.Request{
		ABIVersion: hostabi.Version,
		Run:        hostabi.RunIdentity{Name: "semver-run"},
		APIVersion: "semver.tekton-wasm.dev/v1alpha1",
		Kind:       "SemVer",
		Attempt:    1,
	}
	for i := 0; i < len(nameValues); i += 2 {
		req.Params = append(req.Params, hostabi.Param{Name: nameValues[i], Value: hostabi.StringValue(nameValues[i+1])})
	}
	return req
}

// succeeded is a Succeeded response with the results major, minor, patch,
// prerelease, build and, if given, satisfied.
func succeeded(reason, message string, values ...string) *hostabi.Response {
	r := &hostabi.Response{ABIVersion: hostabi.Version, Status: hostabi.StatusSucceeded, Reason: reason, Message: message}
	for i, name := range []string{"major", "minor", "patch", "prerelease", "build", "satisfied"}[:len(values)] {
		r.Results = append(r.Results, hostabi.Result{Name: name, Value: values[i]})
	}
	return r
}

func failed(reason, message string) *hostabi.Response {
	return &hostabi.Response{ABIVersion: hostabi.Version, Status: hostabi.StatusFailed, Reason: reason, Message: message}
}

func check(t *testing.T, got, want *hostabi.Response) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		t.Errorf("response\n got %s\nwant %s", g, w)
	}
}

func TestSemVer(t *testing.T) {
	p := plugintest.Load(t, ".", wasmtest.Plugin(t, "."))
	t.Run("versions", func(t *testing.T) { testVersions(t, p) })
	t.Run("constraints", func(t *testing.T) { testConstraints(t, p) })
	t.Run("precedence", func(t *testing.T) { testPrecedence(t, p) })
	t.Run("params", func(t *testing.T) { testParams(t, p) })
	t.Run("malformed requests", func(t *testing.T) { testMalformed(t, p) })
	t.Run("JSON values", func(t *testing.T) { testJSONValues(t, p) })
	t.Run("JSON strings", func(t *testing.T) { testJSONStrings(t, p) })
}

func testVersions(t *testing.T, p *plugintest.Harness) {
	valid := func(v, major, minor, patch, pre, build string) *hostabi.Response {
		return succeeded("ValidVersion", v+" is a valid semantic version", major, minor, patch, pre, build)
	}
	invalid := func(v, why string) *hostabi.Response {
		return failed("InvalidVersion", fmt.Sprintf("version %q is not a semantic version: %s", v, why))
	}
	long := "1.2.3-" + strings.Repeat("a", 251)
	tests := []struct {
		version string
		want    *hostabi.Response
	}{
		{"1.2.3", valid("1.2.3", "1", "2", "3", "", "")},
		{"0.0.0", valid("0.0.0", "0", "0", "0", "", "")},
		{"v1.2.3", valid("v1.2.3", "1", "2", "3", "", "")},
		{"V10.20.30", valid("V10.20.30", "10", "20", "30", "", "")},
		{" 1.2.3\n", valid("1.2.3", "1", "2", "3", "", "")},
		{"1.0.0-alpha.1+build.5", valid("1.0.0-alpha.1+build.5", "1", "0", "0", "alpha.1", "build.5")},
		{"1.0.0-0.3.7", valid("1.0.0-0.3.7", "1", "0", "0", "0.3.7", "")},
		{"1.0.0-x-y-z.--", valid("1.0.0-x-y-z.--", "1", "0", "0", "x-y-z.--", "")},
		{"1.0.0+001", valid("1.0.0+001", "1", "0", "0", "", "001")},
		{"1.0.0-rc.1+exp.sha.5114f85", valid("1.0.0-rc.1+exp.sha.5114f85", "1", "0", "0", "rc.1", "exp.sha.5114f85")},
		{"9223372036854775807.0.0", valid("9223372036854775807.0.0", "9223372036854775807", "0", "0", "", "")},
		{long[:256], valid(long[:256], "1", "2", "3", long[6:256], "")},
		{long, invalid(long[:80], "it is 257 bytes long; the limit is 256")},
		{"9223372036854775808.0.0", invalid("9223372036854775808.0.0", "MAJOR is too large (2^63 or more)")},
		{"1.2", invalid("1.2", "want MAJOR.MINOR.PATCH, such as 1.2.3")},
		{"1", invalid("1", "want MAJOR.MINOR.PATCH, such as 1.2.3")},
		{"1.2.", invalid("1.2.", "PATCH is missing")},
		{"v", invalid("v", "MAJOR is missing")},
		{"a.b.c", invalid("a.b.c", "MAJOR must be a number, not 'a'")},
		{"1.x.0", invalid("1.x.0", "MINOR must be a number, not 'x' (wildcards are not supported: write 1.2 for 1.2.x)")},
		{"01.2.3", invalid("01.2.3", "MAJOR has a leading zero")},
		{"1.02.3", invalid("1.02.3", "MINOR has a leading zero")},
		{"1.2.03", invalid("1.2.03", "PATCH has a leading zero")},
		{"1.2.3.4", invalid("1.2.3.4", "invalid character '.' at byte 5")},
		{"1.2.3 4", invalid("1.2.3 4", "invalid character byte 0x20 at byte 5")},
		{"1.2.3-", invalid("1.2.3-", "prerelease identifier 1 is empty (found the end)")},
		{"1.2.3-a..b", invalid("1.2.3-a..b", "prerelease identifier 2 is empty (found '.')")},
		{"1.2.3-01", invalid("1.2.3-01", `prerelease identifier "01" is a number with a leading zero`)},
		{"1.2.3+", invalid("1.2.3+", "build identifier 1 is empty (found the end)")},
		{"1.2.3-beta_1", invalid("1.2.3-beta_1", "invalid character '_' at byte 10; prerelease and build identifiers use only [0-9A-Za-z-]")},
		{"1.2.3+b+c", invalid("1.2.3+b+c", "invalid character '+' at byte 7; prerelease and build identifiers use only [0-9A-Za-z-]")},
		{"1.2.3\x00", invalid("1.2.3", "invalid character byte 0x00 at byte 5")},
		{"1.2.3é", invalid("1.2.3é", "invalid character byte 0xc3 at byte 5")},
	}
	for _, tt := range tests {
		t.Run(tt.version, func(t *testing.T) {
			check(t, p.Invoke(t, request("version", tt.version)), tt.want)
		})
	}
}

func testConstraints(t *testing.T, p *plugintest.Harness) {
	tests := []struct {
		constraint string
		yes, no    []string
	}{
		{">=1.2.0 <2.0.0", []string{"1.2.0", "1.9.9", "1.2.0+build"}, []string{"1.1.9", "2.0.0", "2.0.0-rc.1", "1.5.0-rc.1"}},
		{">=1.2.0, <2.0.0", []string{"1.2.0", "1.9.9"}, []string{"1.1.9", "2.0.0"}},
		{" >= 1.2.0 ,< 2.0.0 ", []string{"1.2.0", "1.9.9"}, []string{"1.1.9", "2.0.0"}},
		{">=v1.2.0", []string{"1.2.0"}, []string{"1.1.0"}},
		{"=1.2.3", []string{"1.2.3", "v1.2.3", "1.2.3+build"}, []string{"1.2.4", "1.2.3-rc.1"}},
		{"1.2.3", []string{"1.2.3"}, []string{"1.2.2"}},
		{"=1.2", []string{"1.2.0", "1.2.99"}, []string{"1.1.9", "1.3.0"}},
		{"1", []string{"1.0.0", "1.99.99"}, []string{"0.9.9", "2.0.0"}},
		{">1.2.3", []string{"1.2.4"}, []string{"1.2.3"}},
		{">1.2", []string{"1.3.0"}, []string{"1.2.99"}},
		{">1", []string{"2.0.0"}, []string{"1.99.0"}},
		{"<1.2.3", []string{"1.2.2"}, []string{"1.2.3"}},
		{"<1.2", []string{"1.1.99"}, []string{"1.2.0"}},
		{"<=1.2.3", []string{"1.2.3"}, []string{"1.2.4"}},
		{"<=1.2", []string{"1.2.99"}, []string{"1.3.0"}},
		{"<=1", []string{"1.99.0"}, []string{"2.0.0"}},
		{">=1.2", []string{"1.2.0"}, []string{"1.1.99"}},
		{"~1.4.2", []string{"1.4.2", "1.4.9"}, []string{"1.4.1", "1.5.0"}},
		{"~1.4", []string{"1.4.0", "1.4.9"}, []string{"1.3.9", "1.5.0"}},
		{"~1", []string{"1.0.0", "1.9.0"}, []string{"0.9.0", "2.0.0"}},
		{"^1.4", []string{"1.4.0", "1.99.0"}, []string{"1.3.9", "2.0.0", "2.0.0-rc.1"}},
		{"^1.2.3", []string{"1.2.3", "1.9.0"}, []string{"1.2.2", "2.0.0"}},
		{"^0.2.3", []string{"0.2.3", "0.2.9"}, []string{"0.2.2", "0.3.0"}},
		{"^0.0.3", []string{"0.0.3"}, []string{"0.0.2", "0.0.4"}},
		{"^0.0.0", []string{"0.0.0"}, []string{"0.0.1"}},
		{"^0.2", []string{"0.2.0", "0.2.9"}, []string{"0.3.0"}},
		{"^0.0", []string{"0.0.0", "0.0.9"}, []string{"0.1.0"}},
		{"^0", []string{"0.0.0", "0.9.9"}, []string{"1.0.0"}},
		{"^1", []string{"1.0.0", "1.9.9"}, []string{"2.0.0"}},
		{">=1.3.0-beta.1", []string{"1.3.0-beta.2", "1.3.0", "1.4.0"}, []string{"1.3.0-alpha", "1.4.0-beta.2"}},
		{"~1.2.3-beta.2", []string{"1.2.3-beta.2", "1.2.3-beta.11", "1.2.3", "1.2.9"}, []string{"1.2.3-beta.1", "1.2.4-beta.1", "1.3.0"}},
		{"^1.2 || ^2.1", []string{"1.2.0", "2.1.0", "2.9.0"}, []string{"1.1.0", "2.0.0", "3.0.0"}},
	}
	for _, tt := range tests {
		for _, v := range tt.yes {
			t.Run(v+" "+tt.constraint, func(t *testing.T) {
				check(t, p.Invoke(t, request("version", v, "constraint", tt.constraint)), satisfiedResponse(v, tt.constraint, true))
			})
		}
		for _, v := range tt.no {
			t.Run(v+" not "+tt.constraint, func(t *testing.T) {
				check(t, p.Invoke(t, request("version", v, "constraint", tt.constraint)), satisfiedResponse(v, tt.constraint, false))
			})
		}
	}

	invalid := []struct{ constraint, why string }{
		{"", "it is empty"},
		{" \n", "it is empty"},
		{"||", "alternative 1 of the '||' is empty"},
		{"^1 ||", "alternative 2 of the '||' is empty"},
		{"^1 || || ^2", "alternative 2 of the '||' is empty"},
		{"^1 | ^2", "a single '|' at byte 3; write '||' between alternatives"},
		{">=1.2.0,", "a ',' must be followed by a comparator"},
		{">=1.2.0,,<2", "a ',' must be followed by a comparator"},
		{",>=1.2.0", "MAJOR must be a number, not ','"},
		{">=1.x", `in ">=1.x": MINOR must be a number, not 'x' (wildcards are not supported: write 1.2 for 1.2.x)`},
		{"*", `in "*": MAJOR must be a number, not '*' (wildcards are not supported: write 1.2 for 1.2.x)`},
		{"=>1.2", `in "=>1.2": MAJOR must be a number, not '>'`},
		{">>1", `in ">>1": MAJOR must be a number, not '>'`},
		{"!=1.2.3", `in "!=1.2.3": MAJOR must be a number, not '!'`},
		{">= <2", `in ">=": MAJOR must be a number, not '<'`},
		{"1.2.3-", `in "1.2.3-": prerelease identifier 1 is empty (found the end)`},
		{"1.2-rc.1", `in "1.2-rc.1": invalid character '-'`},
		{"1.2.3.4", `in "1.2.3.4": invalid character '.'`},
		{"01.2", `in "01.2": MAJOR has a leading zero`},
		{"<1 || >=2 <3, !=", `in "!=": MAJOR must be a number, not '!'`},
		{strings.Repeat(" ", 1025), "it is empty"},
		{strings.Repeat("^1 ", 342), "it is 1025 bytes long; the limit is 1024"},
	}
	for _, tt := range invalid {
		t.Run("invalid "+tt.constraint, func(t *testing.T) {
			c := strings.TrimSpace(tt.constraint)
			want := failed("InvalidConstraint", fmt.Sprintf("constraint \"%s\" is invalid: %s", c[:min(len(c), 200)], tt.why))
			check(t, p.Invoke(t, request("version", "1.2.3", "constraint", tt.constraint)), want)
		})
	}
}

func satisfiedResponse(version, constraint string, ok bool) *hostabi.Response {
	v, pre, build := version, "", ""
	if i := strings.IndexByte(v, '+'); i >= 0 {
		v, build = v[:i], v[i+1:]
	}
	if i := strings.IndexByte(v, '-'); i >= 0 {
		v, pre = v[:i], v[i+1:]
	}
	n := strings.Split(strings.TrimPrefix(v, "v"), ".")
	c := strings.TrimSpace(constraint)
	if ok {
		return succeeded("ConstraintSatisfied", fmt.Sprintf("%s satisfies \"%s\"", version, c), n[0], n[1], n[2], pre, build, "true")
	}
	return succeeded("ConstraintNotSatisfied", fmt.Sprintf("%s does not satisfy \"%s\"", version, c), n[0], n[1], n[2], pre, build, "false")
}

// testPrecedence checks semver.org's precedence example, and more, pair by
// pair through <, = and >. A prerelease version only matches comparators
// naming a prerelease of the same MAJOR.MINOR.PATCH.
func testPrecedence(t *testing.T, p *plugintest.Harness) {
	ordered := []string{
		"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11",
		"1.0.0-rc.1", "1.0.0", "1.0.1", "1.1.0", "1.10.0", "2.0.0", "10.0.0",
	}
	hasPre := func(v string) bool { return strings.Contains(v, "-") }
	for i, v := range ordered {
		for j, c := range ordered {
			allowed := !hasPre(v) || hasPre(c) // every prerelease here is of 1.0.0
			for _, op := range []struct {
				op   string
				want bool
			}{{"<", i < j}, {"=", i == j}, {">", i > j}} {
				got := p.Invoke(t, request("version", v, "constraint", op.op+c))
				if want := allowed && op.want; len(got.Results) != 6 || got.Results[5].Value != fmt.Sprint(want) {
					t.Errorf("%s %s%s: got %+v, want satisfied=%v", v, op.op, c, got, want)
				}
			}
		}
	}
}

func testParams(t *testing.T, p *plugintest.Harness) {
	withParam := func(req *hostabi.Request, name string, v hostabi.ParamValue) *hostabi.Request {
		req.Params = append(req.Params, hostabi.Param{Name: name, Value: v})
		return req
	}
	tests := []struct {
		name string
		req  *hostabi.Request
		want *hostabi.Response
	}{
		{"no params", request(), failed("MissingVersion", "The version param was not passed")},
		{"empty version", request("version", ""), failed("MissingVersion", "The version param was not passed")},
		{"blank version", request("version", " \t\n"), failed("MissingVersion", "The version param was not passed")},
		{"missing version before unexpected params", request("colour", "red"), failed("MissingVersion", "The version param was not passed")},
		{"version is an array", withParam(request(), "version", hostabi.ArrayValue("1.2.3")),
			failed("InvalidParam", `param "version" must be a string, not an array`)},
		{"unexpected params", withParam(request("colour", "red", "version", "1.2.3"), "size", hostabi.ObjectValue(nil)),
			failed("UnexpectedParams", "unexpected params: [colour size]; this plugin takes [version constraint require]")},
		{"constraint is an object", withParam(request("version", "1.2.3"), "constraint", hostabi.ObjectValue(map[string]string{"min": "1"})),
			failed("InvalidParam", `param "constraint" must be a string, not an object`)},
		{"require is not a boolean", request("version", "1.2.3", "constraint", "^1", "require", "yes"),
			failed("InvalidParam", `param "require" must be "true" or "false", not "yes"`)},
		{"require without constraint", request("version", "1.2.3", "require", "true"),
			failed("InvalidParam", `param "require" is "true" but there is no constraint to require; pass the constraint param`)},
		{"required and satisfied", request("version", "1.4.2", "constraint", "^1.4", "require", "true"),
			succeeded("ConstraintSatisfied", `1.4.2 satisfies "^1.4"`, "1", "4", "2", "", "", "true")},
		{"required and not satisfied", request("version", "2.0.0", "constraint", "^1.4", "require", "true"),
			failed("ConstraintNotSatisfied", `2.0.0 does not satisfy "^1.4"`)},
		{"not required and not satisfied", request("version", "2.0.0", "constraint", "^1.4", "require", "false"),
			succeeded("ConstraintNotSatisfied", `2.0.0 does not satisfy "^1.4"`, "2", "0", "0", "", "", "false")},
		{"invalid version and constraint", request("version", "1.2", "constraint", "^^"),
			failed("InvalidVersion", `version "1.2" is not a semantic version: want MAJOR.MINOR.PATCH, such as 1.2.3`)},
		{"first of a repeated param", request("version", "1.2.3", "version", "junk"),
			succeeded("ValidVersion", "1.2.3 is a valid semantic version", "1", "2", "3", "", "")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { check(t, p.Invoke(t, tt.req), tt.want) })
	}

	var many []string
	for i := range 300 {
		many = append(many, fmt.Sprintf("extra-param-%03d", i), "x")
	}
	got := p.Invoke(t, request(append([]string{"version", "1.2.3"}, many...)...))
	if got.Reason != "UnexpectedParams" || !strings.HasPrefix(got.Message, "unexpected params: [extra-param-000 extra-param-001 ") ||
		!strings.HasSuffix(got.Message, " ...]; this plugin takes [version constraint require]") || len(got.Message) > 1100 {
		t.Errorf("300 unexpected params: got %+v; want their list cut to about 1 KiB", got)
	}
}

// testMalformed sends what the host never does.
func testMalformed(t *testing.T, p *plugintest.Harness) {
	const v1 = `{"abiVersion":"tekton-wasm/v1"`
	tests := []struct{ stdin, reason, message string }{
		{``, "InvalidRequest", "stdin is not a JSON request: unexpected end of input looking for the beginning of a value (at byte 0)"},
		{v1, "InvalidRequest", "stdin is not a JSON request: unexpected end of input after an object member (at byte 30)"},
		{v1 + `} {}`, "InvalidRequest", "stdin is not a JSON request: invalid character '{' after the top-level value (at byte 32)"},
		{`["tekton-wasm/v1"]`, "InvalidRequest", "stdin is not a JSON request: the top-level value is not an object"},
		{`{"abiVersion":"tekton-wasm/v2"}`, "UnsupportedABIVersion", `the host speaks ABI "tekton-wasm/v2" but this plugin was built for "tekton-wasm/v1"; rebuild it against the host's ABI`},
		{`{"abiVersion":1}`, "UnsupportedABIVersion", `the host speaks ABI "" but this plugin was built for "tekton-wasm/v1"; rebuild it against the host's ABI`},
		{`{}`, "UnsupportedABIVersion", `the host speaks ABI "" but this plugin was built for "tekton-wasm/v1"; rebuild it against the host's ABI`},
		{v1 + `,"params":{}}`, "InvalidRequest", "the request's params are not a list"},
		{v1 + `,"params":[{"name":"version","value":1}]}`, "InvalidRequest", "the request has a param without a name, or whose value is not a string, an array of strings or an object of strings"},
		{v1 + `,"params":[{"name":"version","value":["1",2]}]}`, "InvalidRequest", "the request has a param without a name, or whose value is not a string, an array of strings or an object of strings"},
		{v1 + `,"params":[{"value":"1.2.3"}]}`, "InvalidRequest", "the request has a param without a name, or whose value is not a string, an array of strings or an object of strings"},
		{v1 + `,"params":null}`, "MissingVersion", "The version param was not passed"},
	}
	for _, tt := range tests {
		t.Run(tt.stdin, func(t *testing.T) {
			check(t, p.InvokeRaw(t, []byte(tt.stdin)), failed(tt.reason, tt.message))
		})
	}
}

// testJSONValues checks the C JSON reader against Go's encoding/json: a
// request whose spec is a valid JSON value must be read, one whose spec is
// not must be refused as InvalidRequest.
func testJSONValues(t *testing.T, p *plugintest.Harness) {
	valid := []string{
		`null`, `true`, `false`, `0`, `-0`, `1.5`, `-1.5e+10`, `1E-2`, `123456789012345678901234567890`,
		`""`, `"\"\\\/\b\f\n\r\t"`, `"\u00e9\u20AC\ud83d\ude00"`, `"é€😀"`, `"\ud800"`,
		`[]`, `{}`, `[1, [2, [3]], {"a": {"b": null}}]`, " \t\r\n[ 1 , 2 ] ",
		`{"a":1,"a":2}`, strings.Repeat("[", 127) + strings.Repeat("]", 127),
	}
	invalid := []string{
		``, `01`, `1.`, `.5`, `+1`, `-`, `1e`, `1e+`, `0x10`, `NaN`, `tru`, `nul`, `True`,
		`"abc`, `"\x"`, `"\u12G4"`, `"\u123"`, "\"a\tb\"", "\"\x01\"", `'a'`,
		`[1,]`, `[,1]`, `[1 2]`, `{"a":1,}`, `{"a"}`, `{a:1}`, `{"a":1 "b":2}`, `{1:2}`, `[`, `{`, `]`,
		strings.Repeat("[", 128) + strings.Repeat("]", 128),
	}
	wrap := func(spec string) []byte {
		return []byte(`{"abiVersion":"tekton-wasm/v1","spec":` + spec + `,"params":[{"name":"version","value":"1.2.3"}]}`)
	}
	ok := succeeded("ValidVersion", "1.2.3 is a valid semantic version", "1", "2", "3", "", "")
	for _, spec := range valid {
		t.Run("valid "+spec, func(t *testing.T) {
			in := wrap(spec)
			if !json.Valid(in) {
				t.Fatalf("Go's encoding/json refuses %s", in)
			}
			check(t, p.InvokeRaw(t, in), ok)
		})
	}
	for _, spec := range invalid {
		t.Run("invalid "+spec, func(t *testing.T) {
			in := wrap(spec)
			if json.Valid(in) && !strings.HasPrefix(spec, "[[[") {
				t.Fatalf("Go's encoding/json accepts %s", in)
			}
			if got := p.InvokeRaw(t, in); got.Status != hostabi.StatusFailed || got.Reason != "InvalidRequest" {
				t.Errorf("got %+v, want Failed InvalidRequest", got)
			}
		})
	}
	check(t, p.InvokeRaw(t, wrap(strings.Repeat("[", 128)+strings.Repeat("]", 128))),
		failed("InvalidRequest", "stdin is not a JSON request: arrays and objects nest deeper than 128 levels (at byte 166)"))
	check(t, p.InvokeRaw(t, wrap("\"\xff\"")), failed("InvalidRequest", "stdin is not a JSON request: invalid UTF-8 in a string (at byte 39)"))
	check(t, p.InvokeRaw(t, wrap("\"\xed\xa0\x80\"")), failed("InvalidRequest", "stdin is not a JSON request: invalid UTF-8 in a string (at byte 39)"))
	check(t, p.InvokeRaw(t, wrap("\"\xc0\xaf\"")), failed("InvalidRequest", "stdin is not a JSON request: invalid UTF-8 in a string (at byte 39)"))
}

// testJSONStrings checks that the C reader decodes strings as Go does and
// that the C writer escapes them so Go reads them back unchanged: an
// unexpected param's name comes back in the message.
func testJSONStrings(t *testing.T, p *plugintest.Harness) {
	literals := []string{
		`"plain"`, `"a\"b"`, `"back\\slash"`, `"\/"`, `"\b\f\n\r\t"`, `"\u0001\u001f\u007f"`, `"\u00e9"`, `"é"`,
		`"\u20ac"`, `"\ud83d\ude00"`, `"😀"`, `"\ud800"`, `"\udc00"`, `"\ud800\u0041"`, `"\ud800\ud800\udc00"`, `"\uDBFF\uDFFF"`,
	}
	for _, lit := range literals {
		t.Run(lit, func(t *testing.T) {
			var name string
			if err := json.Unmarshal([]byte(lit), &name); err != nil {
				t.Fatal(err)
			}
			in := `{"abiVersion":"tekton-wasm/v1","params":[{"name":"version","value":"1.2.3"},{"name":` + lit + `,"value":"x"}]}`
			want := failed("UnexpectedParams", "unexpected params: ["+name+"]; this plugin takes [version constraint require]")
			check(t, p.InvokeRaw(t, []byte(in)), want)
		})
	}
	// The version itself, escaped.
	check(t, p.InvokeRaw(t, []byte(`{"abiVersion":"tekton-wasm/v1","params":[{"name":"\u0076ersion","value":"\u0031.\u0032.3-\u0072c"}]}`)),
		succeeded("ValidVersion", "1.2.3-rc is a valid semantic version", "1", "2", "3", "rc", ""))
}

// BenchmarkInvoke measures one invocation in the host's engine: a fresh
// instance, the request written and parsed, the constraint checked, the
// response written and parsed.
func BenchmarkInvoke(b *testing.B) {
	p := plugintest.Load(b, ".", wasmtest.Plugin(b, "."))
	req := request("version", "1.4.2-rc.1+build.7", "constraint", ">=1.4.2-rc.1 <2.0.0 || ^3", "require", "true")
	for b.Loop() {
		if got := p.Invoke(b, req); got.Status != hostabi.StatusSucceeded {
			b.Fatalf("got %+v", got)
		}
	}
	b.ReportMetric(float64(len(p.Wasm)), "module-bytes")
}
