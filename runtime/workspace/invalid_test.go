package workspace

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/tekton-wasm/tekton-wasm/runtime/access"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kubefake "k8s.io/client-go/kubernetes/fake"
)

// Every spec the owner must fix ends the run WorkspaceInvalid, before
// anything is read or written, and no message names a host path. What
// the spec alone shows, Check and both sources refuse alike.
func TestInvalidLayouts(t *testing.T) {
	for _, tc := range []struct {
		name, workspaces, want string
		read                   bool // only the object's keys show it
	}{{
		name:       "workspace named .",
		workspaces: `workspaces: [{name: ., emptyDir: {}}]`,
		want:       `workspace name "." must be 1 to 63 letters, digits, '-', '_' or '.', and not "." or ".."`,
	}, {
		name:       "workspace named ..",
		workspaces: `workspaces: [{name: .., emptyDir: {}}]`,
		want:       `workspace name ".." must be 1 to 63 letters, digits, '-', '_' or '.', and not "." or ".."`,
	}, {
		name:       "workspace name with a slash",
		workspaces: `workspaces: [{name: a/b, emptyDir: {}}]`,
		want:       `workspace name "a/b" must be 1 to 63 letters, digits, '-', '_' or '.', and not "." or ".."`,
	}, {
		name:       "two workspaces of one name",
		workspaces: `workspaces: [{name: a, emptyDir: {}}, {name: a, emptyDir: {}}]`,
		want:       `workspace name "a" is used twice`,
	}, {
		name:       "item path .",
		workspaces: `workspaces: [{name: conf, configMap: {name: settings, items: [{key: a.txt, path: .}]}}]`,
		want:       `workspace "conf": item path "." must be a relative path to a file inside the volume`,
	}, {
		name:       "item path that cleans to .",
		workspaces: `workspaces: [{name: conf, configMap: {name: settings, items: [{key: a.txt, path: a/..}]}}]`,
		want:       `workspace "conf": item path "a/.." must be a relative path to a file inside the volume`,
	}, {
		name:       "items a and a/b",
		workspaces: `workspaces: [{name: conf, configMap: {name: settings, items: [{key: a.txt, path: a}, {key: b.txt, path: a/b}]}}]`,
		want:       `workspace "conf": "a" is both a file (an item path) and a directory (holding "a/b")`,
	}, {
		name:       "items a/b and a",
		workspaces: `workspaces: [{name: conf, configMap: {name: settings, items: [{key: b.txt, path: a/b}, {key: a.txt, path: a}]}}]`,
		want:       `workspace "conf": "a" is both a file (an item path) and a directory (holding "a/b")`,
	}, {
		name:       "one item path twice",
		workspaces: `workspaces: [{name: conf, configMap: {name: settings, items: [{key: a.txt, path: x}, {key: b.txt, path: ./x}]}}]`,
		want:       `workspace "conf": two items have the path "x"`,
	}, {
		name:       "subPath naming an item",
		workspaces: `workspaces: [{name: conf, subPath: x, configMap: {name: settings, items: [{key: a.txt, path: x}]}}]`,
		want:       `workspace "conf": "x" is both a file (an item path) and a directory (subPath "x")`,
	}, {
		name:       "subPath below an item",
		workspaces: `workspaces: [{name: conf, subPath: x/y, configMap: {name: settings, items: [{key: a.txt, path: x}]}}]`,
		want:       `workspace "conf": "x" is both a file (an item path) and a directory (subPath "x/y")`,
	}, {
		name:       "subPath naming a key",
		workspaces: `workspaces: [{name: conf, subPath: a.txt, configMap: {name: settings}}]`,
		want:       `workspace "conf": "a.txt" is both a file (a key of configmap "settings") and a directory (subPath "a.txt")`,
		read:       true,
	}, {
		name:       "subPath with a NUL",
		workspaces: "workspaces: [{name: scratch, subPath: \"a\\0b\", emptyDir: {}}]",
		want:       `workspace "scratch": subPath "a\x00b" must not contain NUL`,
	}, {
		name:       "item path with a long element",
		workspaces: `workspaces: [{name: conf, configMap: {name: settings, items: [{key: a.txt, path: ` + strings.Repeat("x", 256) + `}]}}]`,
		want:       `workspace "conf": item path "` + strings.Repeat("x", 256) + `" has a name longer than 255 bytes`,
	}, {
		name:       "configMap name that is not a name",
		workspaces: `workspaces: [{name: conf, configMap: {name: a/b}}]`,
		want:       `workspace "conf": configmap name "a/b" is not valid: may not contain '/'`,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			want := &Error{ReasonInvalid, tc.want}
			r := run(t, tc.workspaces)
			if got := Check(r); tc.read != (got == nil) || (got != nil && *got != *want) {
				t.Errorf("Check = %v, want %v", got, want)
			}
			kube := kubefake.NewClientset(objects()...)
			var reviews []string
			allow(kube, &reviews, "configmaps/settings")
			dir := t.TempDir()
			sources := map[string]Source{"Preparer": &Preparer{Kube: kube, Dir: dir}}
			if !tc.read {
				sources["Local"] = &Local{Dir: dir, Bindings: map[string]string{}}
			}
			for name, src := range sources {
				set, err := src.Prepare(context.Background(), r)
				if set != nil {
					t.Errorf("%s: Prepare returned a set with its error", name)
				}
				if err != nil && strings.Contains(err.Error(), dir) {
					t.Errorf("%s: the error names a host path: %v", name, err)
				}
				if d := cmp.Diff(error(want), err); d != "" {
					t.Errorf("%s: error (-want +got):\n%s", name, d)
				}
				if left, _ := os.ReadDir(dir); len(left) != 0 {
					t.Errorf("%s: a failed Prepare left %v", name, left)
				}
			}
		})
	}
}

// A service account that does not exist reads nothing, even when a
// RoleBinding for its name would allow it.
func TestServiceAccountNotFound(t *testing.T) {
	kube := kubefake.NewClientset(objects()...)
	var reviews []string
	allow(kube, &reviews, "configmaps/settings")
	dir := t.TempDir()
	p := &Preparer{Kube: kube, Dir: dir}
	_, err := p.Prepare(context.Background(), run(t, "serviceAccountName: deleted\nworkspaces: [{name: conf, configMap: {name: settings}}]"))
	want := &Error{access.ReasonServiceAccountNotFound, `workspace "conf": service account "deleted" does not exist in namespace "ns"; ` +
		`create it, or set the run's serviceAccountName to an account that exists (the default is "default")`}
	if d := cmp.Diff(error(want), err); d != "" {
		t.Errorf("error (-want +got):\n%s", d)
	}
	if len(reviews) != 0 {
		t.Errorf("reviewed access for an account that does not exist: %q", reviews)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("a failed Prepare left %v", left)
	}
}

// The limits end the run before anything is written; the items of the
// issue (200 items naming one 1 MiB key, 200 MiB from a 4 KB spec) among
// them.
func TestLimits(t *testing.T) {
	big := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "big"},
		Data: map[string]string{"k": strings.Repeat("x", 1<<20)}}
	many := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "many"}, Data: map[string]string{}}
	for i := range MaxFiles + 1 {
		many.Data[fmt.Sprintf("k%d", i)] = ""
	}
	items := func(n int, key string) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, "{key: %s, path: f%d},", key, i)
		}
		return "[" + strings.TrimSuffix(b.String(), ",") + "]"
	}
	emptyDirs := func(n int) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, "{name: w%d, emptyDir: {}},", i)
		}
		return "[" + strings.TrimSuffix(b.String(), ",") + "]"
	}
	for _, tc := range []struct {
		name, workspaces, want string
		reviewed               bool // the limit is known only after reading
	}{{
		name:       "200 items naming one 1 MiB key",
		workspaces: `[{name: conf, configMap: {name: big, items: ` + items(200, "k") + `}}]`,
		want: fmt.Sprintf(`workspace "conf": the run's workspaces hold at least %d bytes of files (an item counts each time it names a key); at most %d are allowed`,
			200<<20, MaxBytes),
		reviewed: true,
	}, {
		name:       "bytes over several workspaces",
		workspaces: `[{name: a, configMap: {name: big}}, {name: b, configMap: {name: big}}, {name: c, configMap: {name: big}}, {name: d, configMap: {name: big}}, {name: e, configMap: {name: big}}]`,
		want: fmt.Sprintf(`workspace "e": the run's workspaces hold at least %d bytes of files (an item counts each time it names a key); at most %d are allowed`,
			5<<20, MaxBytes),
		reviewed: true,
	}, {
		name:       "too many items",
		workspaces: `[{name: conf, configMap: {name: big, items: ` + items(MaxFiles+1, "k") + `}}]`,
		want:       fmt.Sprintf(`the run's workspaces have %d items; at most %d files are allowed`, MaxFiles+1, MaxFiles),
	}, {
		name:       "too many keys",
		workspaces: `[{name: conf, configMap: {name: many}}]`,
		want:       fmt.Sprintf(`workspace "conf": the run's workspaces have at least %d files; at most %d are allowed`, MaxFiles+1, MaxFiles),
		reviewed:   true,
	}, {
		name:       "too many workspaces",
		workspaces: emptyDirs(MaxWorkspaces + 1),
		want:       fmt.Sprintf(`the run has %d workspaces; at most %d are allowed`, MaxWorkspaces+1, MaxWorkspaces),
	}} {
		t.Run(tc.name, func(t *testing.T) {
			kube := kubefake.NewClientset(append(objects(), big, many)...)
			var reviews []string
			allow(kube, &reviews, "configmaps/big", "configmaps/many")
			dir := t.TempDir()
			p := &Preparer{Kube: kube, Dir: dir}
			_, err := p.Prepare(context.Background(), run(t, "workspaces: "+tc.workspaces))
			if d := cmp.Diff(error(&Error{ReasonTooLarge, tc.want}), err); d != "" {
				t.Errorf("error (-want +got):\n%s", d)
			}
			if got := len(reviews) > 0; got != tc.reviewed {
				t.Errorf("reviewed = %v, want %v: a limit the spec shows must be checked before any request", got, tc.reviewed)
			}
			if left, _ := os.ReadDir(dir); len(left) != 0 {
				t.Errorf("a failed Prepare left %v", left)
			}
		})
	}
	t.Run("at the limits", func(t *testing.T) {
		fits := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "fits"},
			Data: map[string]string{"k": strings.Repeat("x", MaxBytes/MaxFiles)}}
		kube := kubefake.NewClientset(append(objects(), fits)...)
		var reviews []string
		allow(kube, &reviews, "configmaps/fits")
		p := &Preparer{Kube: kube, Dir: t.TempDir()}
		set, err := p.Prepare(context.Background(), run(t, `workspaces: [{name: conf, configMap: {name: fits, items: `+items(MaxFiles, "k")+`}}]`))
		if err != nil {
			t.Fatal(err)
		}
		if n := len(tree(t, set.dir)); n != MaxFiles {
			t.Errorf("%d files, want %d", n, MaxFiles)
		}
	})
}

// An error of the host's filesystem is transient and names no host path.
func TestHostErrorsNameNoPath(t *testing.T) {
	file := filepath.Join(t.TempDir(), "not-a-directory")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	p := &Preparer{Kube: kubefake.NewClientset(), Dir: file}
	_, err := p.Prepare(context.Background(), run(t, "workspaces: [{name: scratch, emptyDir: {}}]"))
	if err == nil || strings.Contains(err.Error(), file) {
		t.Fatalf("err = %v, want an error without the host path %s", err, file)
	}
	if _, ok := errors.AsType[*Error](err); ok {
		t.Errorf("err = %v, want a transient error", err)
	}
}
