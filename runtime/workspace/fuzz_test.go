package workspace

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tekton-wasm/tekton-wasm/hostabi"
	"github.com/tektoncd/pipeline/pkg/apis/pipeline/v1beta1"
	corev1 "k8s.io/api/core/v1"
)

// FuzzLayout plans a configMap workspace of any name, subPath, items and
// keys, and writes what it accepts: never a panic, a refusal is an *Error
// (it ends the run), and an accepted workspace is written without error,
// entirely inside its own directory, with subPath a directory.
func FuzzLayout(f *testing.F) {
	for _, s := range [][6]string{
		{"conf", "", "a.txt", "a.txt", "b.txt", "b.txt"},
		{"conf", "sub", "a.txt", "sub/x/a", "b.txt", "sub/y"},
		{".", "", "a", "a", "b", "b"},
		{"..", "", "a", "a", "b", "b"},
		{"conf", "", "a", ".", "b", "b"},
		{"conf", "", "a", "a", "b", "a/b"},
		{"conf", "x", "a", "x", "b", "b"},
		{"conf", "x/y", "a", "x", "b", "b"},
		{"conf", "a", "a", "../../etc/passwd", "b", "/etc/passwd"},
		{"conf", "a\x00b", "a", "a/../b", "b", "./b"},
		{"conf", "", "..", "x", "a/b", "y"},
		{"conf", strings.Repeat("d/", 600), "a", strings.Repeat("x", 300), "b", "b"},
	} {
		f.Add(s[0], s[1], s[2], s[3], s[4], s[5], true)
		f.Add(s[0], s[1], s[2], s[3], s[4], s[5], false)
	}
	f.Fuzz(func(t *testing.T, name, subPath, key1, path1, key2, path2 string, withItems bool) {
		ws := v1beta1.WorkspaceBinding{Name: name, SubPath: subPath,
			ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "settings"}}}
		if withItems {
			ws.ConfigMap.Items = []corev1.KeyToPath{{Key: key1, Path: path1}, {Key: key2, Path: path2}}
		}
		var err error
		vols, perr := plan([]v1beta1.WorkspaceBinding{ws})
		if perr != nil {
			err = perr
		} else {
			v := &vols[0]
			v.files, err = v.obj.files(name, map[string][]byte{key1: []byte("1"), key2: []byte("2")}, v.subPath)
		}
		if err != nil {
			if _, ok := errors.AsType[*Error](err); !ok {
				t.Fatalf("a refusal that does not end the run: %v", err)
			}
			return
		}
		v := vols[0]
		if guest := hostabi.WorkspacePath(name); path.Dir(path.Clean(guest)) != hostabi.WorkspaceRoot || path.Base(guest) != name {
			t.Fatalf("workspace %q is mounted at %q, not a directory of its own under %s", name, guest, hostabi.WorkspaceRoot)
		}
		dir := t.TempDir()
		hostDir := filepath.Join(dir, v.name)
		if filepath.Dir(hostDir) != dir {
			t.Fatalf("workspace %q: directory %s is not in %s", name, hostDir, dir)
		}
		if err := v.write(hostDir); err != nil {
			t.Fatalf("an accepted workspace failed to write: %v", err)
		}
		err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if p != dir && p != hostDir && !strings.HasPrefix(p, hostDir+string(filepath.Separator)) {
				t.Errorf("%s is outside the workspace's directory %s", p, hostDir)
			}
			if d.Type()&fs.ModeSymlink != 0 {
				t.Errorf("%s is a symlink", p)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Stat(filepath.Join(hostDir, v.subPath)); err != nil || !fi.IsDir() {
			t.Fatalf("subPath %q is not a directory: %v", subPath, err)
		}
		for p, want := range v.files {
			got, err := os.ReadFile(filepath.Join(hostDir, filepath.FromSlash(p)))
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("file %q = %q, %v; want %q", p, got, err, want)
			}
		}
	})
}
