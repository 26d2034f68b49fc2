package workspace

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/tekton-wasm/tekton-wasm/hostabi"
	"github.com/tektoncd/pipeline/pkg/apis/pipeline/v1beta1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	kubefake "k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"sigs.k8s.io/yaml"
)

// allow answers SubjectAccessReviews: the user may get the named
// resources ("configmaps/settings") and nothing else. Every review is
// recorded. "controller-forbidden" makes the controller's own get of
// secrets fail.
func allow(kube *kubefake.Clientset, reviews *[]string, allowed ...string) {
	if slices.Contains(allowed, "controller-forbidden") {
		kube.PrependReactor("get", "secrets", func(k8stesting.Action) (bool, runtime.Object, error) {
			return true, nil, apierrors.NewForbidden(corev1.Resource("secrets"), "token", errors.New("RBAC: access denied"))
		})
	}
	kube.PrependReactor("create", "subjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		sar := a.(k8stesting.CreateAction).GetObject().(*authorizationv1.SubjectAccessReview)
		ra := sar.Spec.ResourceAttributes
		what := ra.Resource + "/" + ra.Name
		*reviews = append(*reviews, sar.Spec.User+" "+strings.Join(sar.Spec.Groups, ",")+" "+ra.Verb+" "+ra.Namespace+"/"+what)
		for _, a := range allowed {
			if a == what {
				sar.Status.Allowed = true
			}
		}
		if !sar.Status.Allowed {
			sar.Status.Reason = "no RBAC policy matched"
		}
		return true, sar, nil
	})
}

func run(t *testing.T, s string) *v1beta1.CustomRun {
	t.Helper()
	var r v1beta1.CustomRun
	if err := yaml.UnmarshalStrict([]byte(`
metadata: {name: r, namespace: ns, uid: u1}
spec:
  customRef: {apiVersion: example.dev/v1, kind: Example}
  `+strings.ReplaceAll(s, "\n", "\n  ")), &r); err != nil {
		t.Fatal(err)
	}
	return &r
}

// tree lists the files under dir as path → content.
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		out[rel] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func objects() []runtime.Object {
	return []runtime.Object{
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "default"}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "builder"}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "settings"},
			Data: map[string]string{"a.txt": "A", "b.txt": "B"}, BinaryData: map[string][]byte{"c.bin": {0, 1}}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "token"},
			Data: map[string][]byte{"token": []byte("s3cr3t")}},
	}
}

func TestPrepare(t *testing.T) {
	for _, tc := range []struct {
		name        string
		workspaces  string
		allowed     []string
		wantMounts  []mounted // HostDir relative to the invocation's directory
		wantFiles   map[string]string
		wantReviews []string
	}{{
		name:       "emptyDir",
		workspaces: `workspaces: [{name: scratch, emptyDir: {}}]`,
		wantMounts: []mounted{{Workspace: ws("scratch", false), HostDir: "scratch"}},
		wantFiles:  map[string]string{},
	}, {
		name:        "configMap, all keys",
		workspaces:  "serviceAccountName: builder\nworkspaces: [{name: conf, configMap: {name: settings}}]",
		allowed:     []string{"configmaps/settings"},
		wantMounts:  []mounted{{Workspace: ws("conf", true), HostDir: "conf"}},
		wantFiles:   map[string]string{"conf/a.txt": "A", "conf/b.txt": "B", "conf/c.bin": "\x00\x01"},
		wantReviews: []string{"system:serviceaccount:ns:builder system:serviceaccounts,system:serviceaccounts:ns,system:authenticated get ns/configmaps/settings"},
	}, {
		name:        "configMap items and subPath",
		workspaces:  `workspaces: [{name: conf, subPath: sub, configMap: {name: settings, items: [{key: a.txt, path: sub/x/a}]}}]`,
		allowed:     []string{"configmaps/settings"},
		wantMounts:  []mounted{{Workspace: ws("conf", true), HostDir: "conf/sub"}},
		wantFiles:   map[string]string{"conf/sub/x/a": "A"},
		wantReviews: []string{"system:serviceaccount:ns:default system:serviceaccounts,system:serviceaccounts:ns,system:authenticated get ns/configmaps/settings"},
	}, {
		name:        "secret",
		workspaces:  `workspaces: [{name: creds, secret: {secretName: token}}, {name: tmp, emptyDir: {}}]`,
		allowed:     []string{"secrets/token"},
		wantMounts:  []mounted{{Workspace: ws("creds", true), HostDir: "creds"}, {Workspace: ws("tmp", false), HostDir: "tmp"}},
		wantFiles:   map[string]string{"creds/token": "s3cr3t"},
		wantReviews: []string{"system:serviceaccount:ns:default system:serviceaccounts,system:serviceaccounts:ns,system:authenticated get ns/secrets/token"},
	}, {
		name:        "optional secret that does not exist",
		workspaces:  `workspaces: [{name: creds, secret: {secretName: absent, optional: true}}]`,
		allowed:     []string{"secrets/absent"},
		wantMounts:  []mounted{{Workspace: ws("creds", true), HostDir: "creds"}},
		wantFiles:   map[string]string{},
		wantReviews: []string{"system:serviceaccount:ns:default system:serviceaccounts,system:serviceaccounts:ns,system:authenticated get ns/secrets/absent"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			kube := kubefake.NewClientset(objects()...)
			var reviews []string
			allow(kube, &reviews, tc.allowed...)
			p := &Preparer{Kube: kube, Dir: t.TempDir()}
			set, err := p.Prepare(context.Background(), run(t, tc.workspaces))
			if err != nil {
				t.Fatal(err)
			}
			mounts := mountsOf(t, set, set.dir)
			if d := cmp.Diff(tc.wantMounts, mounts); d != "" {
				t.Errorf("mounts (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tc.wantFiles, tree(t, set.dir)); d != "" {
				t.Errorf("files (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tc.wantReviews, reviews); d != "" {
				t.Errorf("reviews (-want +got):\n%s", d)
			}
			if err := set.Remove(); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(set.dir); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("Remove left %s: %v", set.dir, err)
			}
		})
	}
}

// mounted is one workspace of a Prepared: its entry and its host
// directory.
type mounted struct {
	Workspace hostabi.Workspace
	HostDir   string
}

// mountsOf returns p's workspaces, with host directories inside dir
// relative to it, after checking that Entries and Mounts describe the same workspaces and
// that every host directory exists.
func mountsOf(t *testing.T, p *Prepared, dir string) []mounted {
	t.Helper()
	entries, mounts := p.Entries(), p.Mounts()
	if len(entries) != len(mounts) {
		t.Fatalf("%d entries but %d mounts", len(entries), len(mounts))
	}
	var out []mounted
	for i, e := range entries {
		m := mounts[i]
		if m.GuestPath != e.Path || m.ReadOnly != e.ReadOnly || e.Path != hostabi.WorkspacePath(e.Name) {
			t.Errorf("entry %+v and mount %+v disagree", e, m)
		}
		if fi, err := os.Stat(m.HostDir); err != nil || !fi.IsDir() {
			t.Errorf("mount %q: host directory %s: %v", e.Name, m.HostDir, err)
		}
		rel, err := filepath.Rel(dir, m.HostDir)
		if dir == "" || err != nil || !filepath.IsLocal(rel) {
			rel = m.HostDir
		}
		out = append(out, mounted{e, rel})
	}
	return out
}

func ws(name string, readOnly bool) hostabi.Workspace {
	return hostabi.Workspace{Name: name, Path: "/workspace/" + name, ReadOnly: readOnly}
}

func TestPrepareErrors(t *testing.T) {
	for _, tc := range []struct {
		name       string
		workspaces string
		allowed    []string
		want       *Error
	}{{
		name:       "service account may not read the configMap",
		workspaces: `workspaces: [{name: scratch, emptyDir: {}}, {name: conf, configMap: {name: settings}}]`,
		want: &Error{ReasonForbidden, `workspace "conf": service account "default" may not get configmaps "settings" in namespace "ns"; ` +
			`bind it to a Role with the rule {apiGroups: [""], resources: [configmaps], verbs: [get], resourceNames: [settings]} (no RBAC policy matched)`},
	}, {
		name:       "service account may not read the secret",
		workspaces: `workspaces: [{name: creds, secret: {secretName: token}}]`,
		allowed:    []string{"configmaps/token"},
		want: &Error{ReasonForbidden, `workspace "creds": service account "default" may not get secrets "token" in namespace "ns"; ` +
			`bind it to a Role with the rule {apiGroups: [""], resources: [secrets], verbs: [get], resourceNames: [token]} (no RBAC policy matched)`},
	}, {
		name:       "the controller may not read the secret",
		workspaces: `workspaces: [{name: creds, secret: {secretName: token}}]`,
		allowed:    []string{"secrets/token", "controller-forbidden"},
		want: &Error{ReasonForbidden, `workspace "creds": the controller may not get secret "token" in namespace "ns", although service account "default" may; ` +
			`grant the controller get on secrets (the tekton-wasm-controller-workspaces ClusterRole)`},
	}, {
		name:       "missing configMap",
		workspaces: `workspaces: [{name: conf, configMap: {name: absent}}]`,
		allowed:    []string{"configmaps/absent"},
		want:       &Error{ReasonNotFound, `workspace "conf": configmap "absent" does not exist in namespace "ns"`},
	}, {
		name:       "missing item key",
		workspaces: `workspaces: [{name: conf, configMap: {name: settings, items: [{key: z, path: z}]}}]`,
		allowed:    []string{"configmaps/settings"},
		want:       &Error{ReasonNotFound, `workspace "conf": configmap "settings" has no key "z" (it has ["a.txt" "b.txt" "c.bin"])`},
	}, {
		name:       "item path escapes",
		workspaces: `workspaces: [{name: conf, configMap: {name: settings, items: [{key: a.txt, path: ../../etc/passwd}]}}]`,
		allowed:    []string{"configmaps/settings"},
		want:       &Error{ReasonInvalid, `workspace "conf": item path "../../etc/passwd" must be a relative path to a file inside the volume`},
	}, {
		name:       "subPath escapes",
		workspaces: `workspaces: [{name: scratch, subPath: /etc, emptyDir: {}}]`,
		want:       &Error{ReasonInvalid, `workspace "scratch": subPath "/etc" must be a relative path inside the volume`},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			kube := kubefake.NewClientset(objects()...)
			var reviews []string
			allow(kube, &reviews, tc.allowed...)
			dir := t.TempDir()
			p := &Preparer{Kube: kube, Dir: dir}
			set, err := p.Prepare(context.Background(), run(t, tc.workspaces))
			if set != nil {
				t.Errorf("Prepare returned a set with its error")
			}
			var got *Error
			if !errors.As(err, &got) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("error (-want +got):\n%s", d)
			}
			if left, _ := os.ReadDir(dir); len(left) != 0 {
				t.Errorf("a failed Prepare left %v", left)
			}
		})
	}
}

func TestNoWorkspaces(t *testing.T) {
	p := &Preparer{Kube: kubefake.NewClientset(), Dir: t.TempDir()}
	set, err := p.Prepare(context.Background(), run(t, ""))
	if set != nil || err != nil {
		t.Fatalf("Prepare = %v, %v; want nil, nil", set, err)
	}
	if err := set.Remove(); err != nil {
		t.Fatal(err)
	}
}

func TestRemoveStale(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "workspaces")
	p := &Preparer{Kube: kubefake.NewClientset(), Dir: dir}
	if err := p.RemoveStale(); err != nil { // creates dir
		t.Fatal(err)
	}
	set, err := p.Prepare(context.Background(), run(t, "workspaces: [{name: scratch, emptyDir: {}}]"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "keep"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := p.RemoveStale(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(set.dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("stale workspace %s survived: %v", set.dir, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "keep")); err != nil {
		t.Errorf("RemoveStale removed a file it does not own: %v", err)
	}
}
