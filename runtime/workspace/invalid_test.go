package workspace

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	kubefake "k8s.io/client-go/kubernetes/fake"
)

// Every spec the owner must fix ends the run WorkspaceInvalid, before
// anything is read or written, and no message names a host path.
func TestInvalidLayouts(t *testing.T) {
	for _, tc := range []struct {
		name, workspaces, want string
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
			kube := kubefake.NewClientset(objects()...)
			var reviews []string
			allow(kube, &reviews, "configmaps/settings")
			dir := t.TempDir()
			p := &Preparer{Kube: kube, Dir: dir}
			set, err := p.Prepare(context.Background(), run(t, tc.workspaces))
			if set != nil {
				t.Errorf("Prepare returned a set with its error")
			}
			if err != nil && strings.Contains(err.Error(), dir) {
				t.Errorf("the error names a host path: %v", err)
			}
			got, ok := errors.AsType[*Error](err)
			if !ok {
				t.Fatalf("err = %v, want %s %s", err, ReasonInvalid, tc.want)
			}
			if got.Reason != ReasonInvalid || got.Message != tc.want {
				t.Errorf("error = %s: %s\nwant    %s: %s", got.Reason, got.Message, ReasonInvalid, tc.want)
			}
			if left, _ := os.ReadDir(dir); len(left) != 0 {
				t.Errorf("a failed Prepare left %v", left)
			}
		})
	}
}
