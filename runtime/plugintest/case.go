// Package plugintest runs a plugin's test cases, the files
// DIR/tests/*.yaml of a plugin directory, through the runner of
// `tkn-wasm run` (runtime/local): each case names a CustomRun, params and
// workspaces as run's flags give them, and the outcome it expects
// (docs/plugins.md#testing-a-plugin). `tkn-wasm test` is its command;
// Harness is its form for `go test`, which also invokes the plugin with
// requests of a test's own making, as the host does.
//
// The runner is Tekton's CustomRun on the host's engine, so a Go module
// importing this package depends on the tekton-wasm module and, through
// it, on Tekton's and Kubernetes' API packages. A plugin's own module (the
// one built to wasm) needs only hostabi; keep tests that use this package
// in a module of their own, or run the cases with `tkn-wasm test`.
package plugintest

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/tekton-wasm/tekton-wasm/internal/boundedread"
	"github.com/tekton-wasm/tekton-wasm/runtime/local"
	"github.com/tektoncd/pipeline/pkg/apis/pipeline/v1beta1"
	"knative.dev/pkg/apis"
	"sigs.k8s.io/yaml"
)

// TestsDir is the directory of a plugin directory holding its cases.
const TestsDir = "tests"

// MaxCaseBytes caps a case file, and a CustomRun file a case names: as
// much as tkn-wasm run reads.
const MaxCaseBytes = 4 << 20

// Case is one test case, DIR/tests/NAME.yaml:
//
//	run: ../examples/greet.yaml   # a CustomRun file, relative to the case; or
//	customRun: {...}              # the CustomRun inline
//	params: {name: value}         # string params set, as with --param
//	workspaces: {name: dir}       # bindings, as with --workspace; dir relative to the case
//	expect:
//	  status: "True"              # the Succeeded condition's status: True, False or Unknown
//	  reason: Succeeded           # its reason (optional)
//	  message: "regexp"           # a pattern its message matches (optional)
//	  results: {name: value}      # results the run has, with exactly these values (optional)
type Case struct {
	// Name is the file's name without .yaml.
	Name string `json:"-"`
	// File is the case's path.
	File string `json:"-"`

	Run        string            `json:"run,omitempty"`
	CustomRun  json.RawMessage   `json:"customRun,omitempty"`
	Params     map[string]string `json:"params,omitempty"`
	Workspaces map[string]string `json:"workspaces,omitempty"`
	Expect     Expect            `json:"expect"`

	run      *v1beta1.CustomRun // parsed, with Params set
	bindings map[string]string  // Workspaces, with directories resolved
	message  *regexp.Regexp
}

// Expect is what a case expects of the run's end.
type Expect struct {
	Status  string            `json:"status"`
	Reason  string            `json:"reason,omitempty"`
	Message string            `json:"message,omitempty"`
	Results map[string]string `json:"results,omitempty"`
}

// LoadCases reads every case in dir/tests, in the order of their names,
// and checks each: its CustomRun is read and must be valid, its
// workspace directories must exist, its message pattern must compile. A
// directory without cases is an error.
func LoadCases(dir string) ([]*Case, error) {
	files, err := filepath.Glob(filepath.Join(dir, TestsDir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s has no test cases; write one as %s/NAME.yaml (see docs/plugins.md#testing-a-plugin)", dir, filepath.Join(dir, TestsDir))
	}
	slices.Sort(files)
	cases := make([]*Case, 0, len(files))
	for _, f := range files {
		c, err := ReadCase(f)
		if err != nil {
			return nil, err
		}
		cases = append(cases, c)
	}
	return cases, nil
}

// ReadCase reads and checks the case in file (see LoadCases).
func ReadCase(file string) (*Case, error) {
	b, err := boundedread.Open(file, MaxCaseBytes)
	if err != nil {
		return nil, err
	}
	c := &Case{Name: strings.TrimSuffix(filepath.Base(file), ".yaml"), File: file}
	if err := yaml.UnmarshalStrict(b, c); err != nil {
		return nil, fmt.Errorf("%s is not a test case: %w", file, err)
	}
	if err := c.check(); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return c, nil
}

// check validates c and prepares its CustomRun, bindings and pattern.
func (c *Case) check() error {
	base := filepath.Dir(c.File)
	switch {
	case (c.Run == "") == (len(c.CustomRun) == 0):
		return fmt.Errorf("give the CustomRun with exactly one of run: FILE and customRun: {…}")
	case c.Run != "":
		path := c.Run
		if !filepath.IsAbs(path) {
			path = filepath.Join(base, path)
		}
		b, err := boundedread.Open(path, MaxCaseBytes)
		if err != nil {
			return fmt.Errorf("run: %w", err)
		}
		if c.run, err = local.ParseCustomRun(path, b); err != nil {
			return err
		}
	default:
		var err error
		if c.run, err = local.ParseCustomRun("its customRun", c.CustomRun); err != nil {
			return err
		}
	}
	for _, name := range slices.Sorted(maps.Keys(c.Params)) {
		local.SetParam(c.run, name, c.Params[name])
	}
	c.bindings = map[string]string{}
	for name, dir := range c.Workspaces {
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(base, dir)
		}
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			return fmt.Errorf("workspaces: %s: %q is not a directory", name, dir)
		}
		c.bindings[name] = dir
	}
	switch c.Expect.Status {
	case "True", "False", "Unknown":
	default:
		return fmt.Errorf("expect.status %q is not \"True\", \"False\" or \"Unknown\" (quote it: YAML reads True as a boolean)", c.Expect.Status)
	}
	if c.Expect.Message != "" {
		re, err := regexp.Compile(c.Expect.Message)
		if err != nil {
			return fmt.Errorf("expect.message: %w", err)
		}
		c.message = re
	}
	return nil
}

// NewRun is a fresh copy of the case's CustomRun, its params set, ready
// to run.
func (c *Case) NewRun() *v1beta1.CustomRun { return c.run.DeepCopy() }

// Check compares the end of run with what the case expects and returns
// each difference, in words; none means the case passed.
func (c *Case) Check(run *v1beta1.CustomRun) []string {
	var diffs []string
	cond := run.Status.GetCondition(apis.ConditionSucceeded)
	if cond == nil {
		return []string{"the run has no Succeeded condition"}
	}
	if string(cond.Status) != c.Expect.Status {
		diffs = append(diffs, fmt.Sprintf("status %s, want %s (reason %s: %s)", cond.Status, c.Expect.Status, cond.Reason, cond.Message))
	}
	if c.Expect.Reason != "" && cond.Reason != c.Expect.Reason {
		diffs = append(diffs, fmt.Sprintf("reason %s, want %s (message: %s)", cond.Reason, c.Expect.Reason, cond.Message))
	}
	if c.message != nil && !c.message.MatchString(cond.Message) {
		diffs = append(diffs, fmt.Sprintf("message %q does not match %q", cond.Message, c.Expect.Message))
	}
	got := map[string]string{}
	for _, r := range run.Status.Results {
		got[r.Name] = r.Value
	}
	for _, name := range slices.Sorted(maps.Keys(c.Expect.Results)) {
		want := c.Expect.Results[name]
		if v, ok := got[name]; !ok {
			diffs = append(diffs, fmt.Sprintf("no result %s, want %q", name, want))
		} else if v != want {
			diffs = append(diffs, fmt.Sprintf("result %s = %q, want %q", name, v, want))
		}
	}
	return diffs
}
