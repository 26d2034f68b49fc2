package workspace

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/tekton-wasm/tekton-wasm/hostabi"
	kubefake "k8s.io/client-go/kubernetes/fake"
)

var (
	_ Source = (*Preparer)(nil)
	_ Source = (*Local)(nil)
)

func TestLocal(t *testing.T) {
	bound, conf := t.TempDir(), t.TempDir()
	for _, tc := range []struct {
		name       string
		workspaces string
		bindings   map[string]string
		want       []mounted // HostDir relative to the invocation's directory, or "<name>" for a binding
	}{{
		name:       "unbound emptyDir: created, writable",
		workspaces: `workspaces: [{name: scratch, emptyDir: {}}]`,
		want:       []mounted{{ws("scratch", false), "scratch"}},
	}, {
		name:       "unbound emptyDir with subPath",
		workspaces: `workspaces: [{name: scratch, subPath: a/b, emptyDir: {}}]`,
		want:       []mounted{{ws("scratch", false), "scratch/a/b"}},
	}, {
		name:       "bound emptyDir: the directory, writable, subPath not applied",
		workspaces: `workspaces: [{name: scratch, subPath: a, emptyDir: {}}]`,
		bindings:   map[string]string{"scratch": bound},
		want:       []mounted{{ws("scratch", false), "<scratch>"}},
	}, {
		name:       "bound configMap and secret: read-only; spec order kept",
		workspaces: `workspaces: [{name: creds, secret: {secretName: token}}, {name: tmp, emptyDir: {}}, {name: conf, configMap: {name: settings, items: [{key: a, path: b}]}}]`,
		bindings:   map[string]string{"creds": bound, "conf": conf},
		want:       []mounted{{ws("creds", true), "<creds>"}, {ws("tmp", false), "tmp"}, {ws("conf", true), "<conf>"}},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			l := &Local{Bindings: tc.bindings, Dir: t.TempDir()}
			p, err := l.Prepare(context.Background(), run(t, tc.workspaces))
			if err != nil {
				t.Fatal(err)
			}
			got := mountsOf(t, p, p.dir)
			for i, m := range got {
				if dir, ok := tc.bindings[m.Workspace.Name]; ok && m.HostDir == dir {
					got[i].HostDir = "<" + m.Workspace.Name + ">"
				}
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("workspaces (-want +got):\n%s", d)
			}
			if err := p.Remove(); err != nil {
				t.Fatal(err)
			}
			if left, _ := os.ReadDir(l.Dir); len(left) != 0 {
				t.Errorf("Remove left %v", left)
			}
			for _, dir := range []string{bound, conf} {
				if _, err := os.Stat(dir); err != nil {
					t.Errorf("Remove removed a bound directory: %v", err)
				}
			}
		})
	}
}

// An unbound emptyDir is fresh for each invocation, as in the cluster.
func TestLocalEmptyDirPerInvocation(t *testing.T) {
	l := &Local{Dir: t.TempDir()}
	r := run(t, `workspaces: [{name: scratch, emptyDir: {}}]`)
	first, err := l.Prepare(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Remove()
	if err := os.WriteFile(filepath.Join(first.Mounts()[0].HostDir, "state"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	second, err := l.Prepare(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Remove()
	if left, _ := os.ReadDir(second.Mounts()[0].HostDir); len(left) != 0 {
		t.Errorf("the second invocation's emptyDir holds %v", left)
	}
}

// What the runner lacks is an error of the runner, not of the run: not an
// *Error, and nothing is left behind.
func TestLocalErrors(t *testing.T) {
	for _, tc := range []struct {
		name, workspaces string
		bindings         map[string]string
		want             string
	}{{
		name:       "unbound configMap",
		workspaces: `workspaces: [{name: scratch, emptyDir: {}}, {name: config, configMap: {name: settings}}]`,
		want:       `workspace "config" is a configMap and there is no cluster to read it from; bind it to a local directory with --workspace config=DIR`,
	}, {
		name:       "unbound secret",
		workspaces: `workspaces: [{name: creds, secret: {secretName: token}}]`,
		want:       `workspace "creds" is a secret and there is no cluster to read it from; bind it to a local directory with --workspace creds=DIR`,
	}, {
		name:       "binding of no workspace",
		workspaces: `workspaces: [{name: config, configMap: {name: settings}}]`,
		bindings:   map[string]string{"config": "/x", "confg": "/y"},
		want:       `--workspace confg: the CustomRun has no workspace "confg"; bind only the workspaces in its spec.workspaces`,
	}, {
		name:     "binding of a run without workspaces",
		bindings: map[string]string{"scratch": "/x"},
		want:     `--workspace scratch: the CustomRun has no workspace "scratch"; bind only the workspaces in its spec.workspaces`,
	}, {
		name:       "binding to no directory",
		workspaces: `workspaces: [{name: config, configMap: {name: settings}}]`,
		bindings:   map[string]string{"config": ""},
		want:       `--workspace config: no directory given; bind it with --workspace config=DIR`,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			l := &Local{Bindings: tc.bindings, Dir: t.TempDir()}
			p, err := l.Prepare(context.Background(), run(t, tc.workspaces))
			if p != nil || err == nil || err.Error() != tc.want {
				t.Fatalf("Prepare = %v, %v; want nil, %s", p, err, tc.want)
			}
			if _, ok := errors.AsType[*Error](err); ok {
				t.Errorf("err is an *Error, which would end the run")
			}
			if left, _ := os.ReadDir(l.Dir); len(left) != 0 {
				t.Errorf("a failed Prepare left %v", left)
			}
		})
	}
}

// Only emptyDir, configMap and secret workspaces are supported: Check and
// both sources end any other with Tekton's CustomRunWorkspaceNotSupported,
// bound or not, before reading or writing anything.
func TestNotSupported(t *testing.T) {
	for _, tc := range []struct{ volume, kind string }{
		{"persistentVolumeClaim: {claimName: src}", "persistentVolumeClaim"},
		{"volumeClaimTemplate: {spec: {}}", "volumeClaimTemplate"},
		{"projected: {sources: []}", "projected"},
		{"csi: {driver: x}", "csi"},
		{"subPath: x", "binding with no volume"},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			r := run(t, "workspaces: [{name: scratch, emptyDir: {}}, {name: conf, configMap: {name: settings}}, {name: source, "+tc.volume+"}]")
			want := &Error{"CustomRunWorkspaceNotSupported", `workspace "source" is a ` + tc.kind + `; plugins support emptyDir, configMap and secret workspaces`}
			if got := Check(r); got == nil || *got != *want {
				t.Errorf("Check = %v, want %v", got, want)
			}
			kube := kubefake.NewClientset(objects()...)
			var reviews []string
			allow(kube, &reviews, "configmaps/settings")
			dir := t.TempDir()
			for name, src := range map[string]Source{
				"Preparer": &Preparer{Kube: kube, Dir: dir},
				"Local":    &Local{Dir: dir, Bindings: map[string]string{"source": dir}},
			} {
				p, err := src.Prepare(context.Background(), r)
				if d := cmp.Diff(error(want), err); p != nil || d != "" {
					t.Errorf("%s: Prepare = %v, error (-want +got):\n%s", name, p, d)
				}
			}
			if len(reviews) != 0 || len(kube.Actions()) != 0 {
				t.Errorf("asked the apiserver %v", kube.Actions())
			}
			if left, _ := os.ReadDir(dir); len(left) != 0 {
				t.Errorf("a failed Prepare left %v", left)
			}
		})
	}
	if got := Check(run(t, "workspaces: [{name: scratch, emptyDir: {}}, {name: conf, configMap: {name: settings}}, {name: creds, secret: {secretName: token}}]")); got != nil {
		t.Errorf("Check of supported workspaces = %v", got)
	}
}

// A plugin may not answer with a reason of this package's (hostabi.Reserved
// holds the one list).
func TestReasonsReserved(t *testing.T) {
	for _, r := range []string{ReasonNotSupported, ReasonForbidden, ReasonNotFound, ReasonInvalid, ReasonTooLarge} {
		if !hostabi.Reserved(r) {
			t.Errorf("reason %q is not reserved in hostabi", r)
		}
	}
}

// A nil Prepared has no workspaces.
func TestNilPrepared(t *testing.T) {
	var p *Prepared
	if p.Mounts() != nil || p.Entries() != nil || p.Remove() != nil {
		t.Errorf("a nil Prepared is not empty")
	}
	for _, src := range []Source{&Preparer{Kube: kubefake.NewClientset()}, &Local{}} {
		if p, err := src.Prepare(context.Background(), run(t, "")); p != nil || err != nil {
			t.Errorf("%T: Prepare of a run without workspaces = %v, %v; want nil, nil", src, p, err)
		}
	}
}
