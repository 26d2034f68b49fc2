package workspace

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/tektoncd/pipeline/pkg/apis/pipeline/v1beta1"
)

// Local is the Source of a runner with no cluster (tkn-wasm run): the
// run's workspaces bound to local directories (--workspace NAME=DIR).
//
// Prepare applies Check's rules as the controller does, so a run tkn-wasm
// accepts passes the controller's checks of its spec. Then:
//
//   - a bound workspace is its directory, mounted as it is: the
//     workspace's subPath and items do not apply (bind the directory the
//     plugin should see). A bound configMap or secret is read-only, as in
//     the cluster;
//   - an unbound emptyDir is created as the controller creates it, fresh
//     for each invocation, under Dir; Prepared.Remove deletes it;
//   - an unbound configMap or secret is an error (not an *Error: the run
//     is fine, the runner lacks a binding) telling the user to bind it;
//   - a binding that names no workspace of the run is an error too (a
//     mistyped name would otherwise go unnoticed).
//
// Set the fields before the first Prepare; it is then safe for concurrent
// use.
type Local struct {
	// Bindings maps workspace names to host directories.
	Bindings map[string]string
	// Dir is where the directories of unbound emptyDir workspaces are
	// created ("" means os.TempDir()).
	Dir string
}

// localPattern names the per-invocation directory of a Local
// (os.MkdirTemp), in a temporary directory other programs share.
const localPattern = "tkn-wasm-workspaces-"

// Prepare binds or creates run's workspaces for one invocation (see
// Source).
func (l *Local) Prepare(_ context.Context, run *v1beta1.CustomRun) (*Prepared, error) {
	vols, perr := plan(run.Spec.Workspaces)
	if perr != nil {
		return nil, perr
	}
	for _, name := range slices.Sorted(maps.Keys(l.Bindings)) {
		if !slices.ContainsFunc(vols, func(v volume) bool { return v.name == name }) {
			return nil, fmt.Errorf("--workspace %s: the CustomRun has no workspace %q; bind only the workspaces in its spec.workspaces", name, name)
		}
	}
	for i := range vols {
		v := &vols[i]
		dir, ok := l.Bindings[v.name]
		switch {
		case ok && dir == "":
			return nil, fmt.Errorf("--workspace %s: no directory given; bind it with --workspace %s=DIR", v.name, v.name)
		case ok:
			v.bound = dir
		case v.obj != nil:
			return nil, fmt.Errorf("workspace %q is a %s and there is no cluster to read it from; bind it to a local directory with --workspace %s=DIR", v.name, v.kind, v.name)
		}
	}
	return materialise(l.Dir, localPattern, vols)
}
