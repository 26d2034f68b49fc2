package engine

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDescribe(t *testing.T) {
	wasi := func(name string) Import {
		return Import{Module: "wasi_snapshot_preview1", Name: name, Type: "func (i32, i32, i32, i32) -> (i32)"}
	}
	for _, tc := range []struct {
		name    string
		want    *Description
		refused string // a part of Refused
	}{
		{"ok", &Description{Kind: "command", Imports: []Import{wasi("fd_read"), wasi("fd_write")}, Exports: []string{"_start"}, Memory: &MemoryLimits{Min: 2}}, ""},
		{"import_tekton", &Description{
			Imports: []Import{{Module: "tekton", Name: "http_get", Type: "func (i32, i32) -> (i32)"}}, Exports: []string{"_start"}, Memory: &MemoryLimits{Min: 1}},
			"the plugin imports tekton.http_get"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := Describe(context.Background(), wat(t, tc.name))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(d.Refused, tc.refused) || (tc.refused == "") != (d.Refused == "") {
				t.Errorf("Refused %q; want it to contain %q", d.Refused, tc.refused)
			}
			d.Refused = ""
			if diff := cmp.Diff(tc.want, d); diff != "" {
				t.Errorf("Describe (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDescribeReactor(t *testing.T) {
	d, err := Describe(context.Background(), wat(t, "reactor_counter"))
	if err != nil {
		t.Fatal(err)
	}
	if d.Kind != "reactor" || d.Refused != "" {
		t.Errorf("Describe = %+v; want a reactor", d)
	}
}

// Describe admits a module as Compile does: a bomb is refused before
// wazero decodes it.
func TestDescribeRefusesWhatCompileRefuses(t *testing.T) {
	bomb := wasmModule(bytes.Repeat(section(sectionCustom, []byte{1, 'x'}), MaxCustomSections+1))
	if d, err := Describe(context.Background(), bomb); err == nil || !strings.Contains(err.Error(), "custom sections; the host accepts at most 100") {
		t.Errorf("Describe = %+v, %v; want the module refused", d, err)
	}
}
