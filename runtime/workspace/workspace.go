// Package workspace owns every rule about a CustomRun's workspaces, and
// turns them into host directories for one plugin invocation. It is the
// one place that says:
//
//   - which volume types plugins support: emptyDir, configMap and secret.
//     Any other ends the run with Tekton's own reason
//     CustomRunWorkspaceNotSupported (ReasonNotSupported);
//   - which are read-only: configMap and secret (their files are the
//     object's); an emptyDir is writable;
//   - what a valid workspace is: its name (hostabi.ValidWorkspaceName),
//     unique in the run; subPath, object names, item paths and keys that
//     stay inside the volume (ReasonInvalid); at most MaxWorkspaces
//     workspaces, MaxFiles files and MaxBytes of content (ReasonTooLarge);
//   - how a prepared workspace reaches the plugin: mounted at
//     hostabi.WorkspacePath(name) (engine.Mount), and listed in the
//     request (hostabi.Workspace), both built by Prepared.
//
// Check applies the rules the run's spec alone decides, without reading
// or writing anything; every Source applies it first, and a caller may
// apply it early to end such a run before it waits for anything.
//
// A Source prepares the workspaces of one invocation. There are two:
//
//   - Preparer, the controller's: an emptyDir is a fresh, private, empty
//     directory that lives for one invocation (a Running plugin called
//     again later gets a new, empty one; keep state in extraFields). A
//     configMap or secret has the object's keys written as files
//     (honouring items and optional); the object is read only if the
//     run's serviceAccountName (default "default") exists and may get it
//     (runtime/access), so a run can never see what its own service
//     account could not. File modes (defaultMode, items[].mode) do not
//     apply: the sandbox has no users. subPath selects a directory inside
//     the volume.
//   - Local, tkn-wasm run's: workspaces bound to local directories
//     (--workspace NAME=DIR); an unbound emptyDir is created as the
//     Preparer creates it, an unbound configMap or secret is an error (no
//     cluster to read it from).
//
// Files are written through an os.Root per volume, so no name can lead
// outside it. No *Error names a host path.
package workspace

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"

	"github.com/tekton-wasm/tekton-wasm/hostabi"
	"github.com/tekton-wasm/tekton-wasm/runtime/engine"
	"github.com/tektoncd/pipeline/pkg/apis/pipeline/v1beta1"
	corev1 "k8s.io/api/core/v1"
)

// Reasons of the errors that end a run.
const (
	// ReasonNotSupported: a workspace is of a volume type plugins do not
	// support (Tekton's own CustomRunWorkspaceNotSupported).
	ReasonNotSupported = string(v1beta1.CustomRunReasonWorkspaceNotSupported)
	// ReasonForbidden: the run's service account may not get the
	// workspace's ConfigMap or Secret, or the controller may not.
	ReasonForbidden = "WorkspaceForbidden"
	// ReasonNotFound: the ConfigMap, Secret or item key does not exist
	// and the workspace is not optional.
	ReasonNotFound = "WorkspaceNotFound"
	// ReasonInvalid: a workspace name, object name, subPath, item path or
	// key is not a plain relative path inside the volume, or two of them
	// collide (the same file twice, or a file where a directory must be),
	// or two workspaces have one name.
	ReasonInvalid = "WorkspaceInvalid"
	// ReasonTooLarge: the run's workspaces exceed MaxWorkspaces, MaxFiles
	// or MaxBytes.
	ReasonTooLarge = "WorkspaceTooLarge"
)

// Limits of one invocation's workspaces. They bound what one run can
// make the controller write to its shared, memory-backed workspace
// volume (items may name one key many times, so the spec alone says
// little about the bytes), and are checked before anything is written.
const (
	// MaxWorkspaces is the number of workspaces of a run. A Task declares
	// a handful; each configMap or secret one costs a review and a GET.
	MaxWorkspaces = 16
	// MaxFiles is the number of files written for one invocation: items,
	// or the keys of configMap and secret workspaces without items. Items
	// are counted before any object is read.
	MaxFiles = 1024
	// MaxBytes is the file content written for one invocation, counted
	// per file (an item repeating a key counts each time). A ConfigMap or
	// Secret holds at most 1 MiB, so this is four full ones.
	MaxBytes = 4 << 20
	// MaxPath is the length in bytes of a subPath or item path: Linux's
	// PATH_MAX (4096) also holds the workspace directory's own path.
	MaxPath = 1024
	// maxName is the length in bytes of one path element (Linux's NAME_MAX).
	maxName = 255
)

// Error is a workspace failure that no retry can fix: it ends the run
// (as a lifecycle.Failure) with Reason as the condition reason and
// Message, which names no host path, as its message.
type Error struct {
	Reason  string
	Message string
}

func (e *Error) Error() string { return e.Message }

func invalid(format string, args ...any) *Error {
	return &Error{ReasonInvalid, fmt.Sprintf(format, args...)}
}

// Source prepares the workspaces of one invocation of a run. Prepare
// returns nil, nil for a run without workspaces. An error no retry can
// fix is an *Error, and ends the run; any other error is the host's (an
// apiserver that could not be reached, a full disk, a missing local
// binding) and leaves the run as it is. The caller removes what Prepare
// returns (Prepared.Remove) once the invocation has ended. Both sources
// are safe for concurrent use.
type Source interface {
	Prepare(ctx context.Context, run *v1beta1.CustomRun) (*Prepared, error)
}

// Prepared is the workspaces of one invocation, ready to mount. Mounts
// and Entries describe the same workspaces in the same order, built
// together. A nil *Prepared has none. It does not change after Prepare;
// Remove is called once, after the invocation has ended.
type Prepared struct {
	mounts  []engine.Mount
	entries []hostabi.Workspace
	dir     string // created for the invocation and removed by Remove; "" if none
}

// Mounts is what the engine mounts for the invocation
// (engine.Invocation.Mounts).
func (p *Prepared) Mounts() []engine.Mount {
	if p == nil {
		return nil
	}
	return slices.Clone(p.mounts)
}

// Entries is what the request tells the plugin
// (hostabi.Request.Workspaces).
func (p *Prepared) Entries() []hostabi.Workspace {
	if p == nil {
		return nil
	}
	return slices.Clone(p.entries)
}

// Remove deletes the directories created for the invocation (never a
// bound one). It is safe on a nil *Prepared.
func (p *Prepared) Remove() error {
	if p == nil || p.dir == "" {
		return nil
	}
	return os.RemoveAll(p.dir)
}

// add appends the workspace name, whose directory is hostDir.
func (p *Prepared) add(name, hostDir string, readOnly bool) {
	guest := hostabi.WorkspacePath(name)
	p.mounts = append(p.mounts, engine.Mount{HostDir: hostDir, GuestPath: guest, ReadOnly: readOnly})
	p.entries = append(p.entries, hostabi.Workspace{Name: name, Path: guest, ReadOnly: readOnly})
}

// Check applies the rules run's workspaces must follow as written:
// supported volume types, names, paths and the limits the spec shows. It
// reads and writes nothing, and returns nil when they hold.
func Check(run *v1beta1.CustomRun) *Error {
	_, err := plan(run.Spec.Workspaces)
	return err
}

// volume is one workspace as a Source plans it.
type volume struct {
	name     string
	kind     string // the volume type: emptyDir, configMap or secret
	readOnly bool
	subPath  string  // clean and local; "" for the volume itself
	obj      *object // configMap or secret; nil for emptyDir
	files    map[string][]byte
	bound    string // a host directory standing for the volume (Local); "" to create one
}

// plan checks the run's workspaces as written, without reading or
// writing anything.
func plan(bindings []v1beta1.WorkspaceBinding) ([]volume, *Error) {
	if len(bindings) > MaxWorkspaces {
		return nil, &Error{ReasonTooLarge, fmt.Sprintf("the run has %d workspaces; at most %d are allowed", len(bindings), MaxWorkspaces)}
	}
	vols := make([]volume, 0, len(bindings))
	seen := map[string]bool{}
	items := 0
	for _, ws := range bindings {
		if err := checkName(ws.Name); err != nil {
			return nil, err
		}
		if seen[ws.Name] {
			return nil, invalid("workspace name %q is used twice", ws.Name)
		}
		seen[ws.Name] = true
		v := volume{name: ws.Name, kind: volumeType(ws)}
		if ws.SubPath != "" {
			sub, err := cleanPath(ws.SubPath, false)
			if err != nil {
				return nil, invalid("workspace %q: subPath %q %s", ws.Name, ws.SubPath, err)
			}
			if sub != "." {
				v.subPath = sub
			}
		}
		var list []corev1.KeyToPath
		switch v.kind {
		case "emptyDir":
		case "configMap":
			v.obj = &object{resource: corev1.Resource("configmaps"), name: ws.ConfigMap.Name, optional: ws.ConfigMap.Optional}
			list = ws.ConfigMap.Items
		case "secret":
			v.obj = &object{resource: corev1.Resource("secrets"), name: ws.Secret.SecretName, optional: ws.Secret.Optional}
			list = ws.Secret.Items
		default:
			return nil, &Error{ReasonNotSupported, fmt.Sprintf("workspace %q is a %s; plugins support emptyDir, configMap and secret workspaces", ws.Name, v.kind)}
		}
		if v.obj != nil {
			v.readOnly = true
			if err := v.obj.plan(ws.Name, list, v.subPath); err != nil {
				return nil, err
			}
			items += len(list)
		}
		vols = append(vols, v)
	}
	if items > MaxFiles {
		return nil, &Error{ReasonTooLarge, fmt.Sprintf("the run's workspaces have %d items; at most %d files are allowed", items, MaxFiles)}
	}
	return vols, nil
}

// volumeType names the volume type of a workspace binding.
func volumeType(ws v1beta1.WorkspaceBinding) string {
	switch {
	case ws.EmptyDir != nil:
		return "emptyDir"
	case ws.ConfigMap != nil:
		return "configMap"
	case ws.Secret != nil:
		return "secret"
	case ws.PersistentVolumeClaim != nil:
		return "persistentVolumeClaim"
	case ws.VolumeClaimTemplate != nil:
		return "volumeClaimTemplate"
	case ws.Projected != nil:
		return "projected"
	case ws.CSI != nil:
		return "csi"
	}
	return "binding with no volume"
}

// materialise returns vols as Prepared: a volume bound to a directory is
// mounted as it is; the others are created (with their files and
// subPath) in one new directory in parent, named by pattern as
// os.MkdirTemp names it, which Remove deletes. On error it leaves nothing
// behind.
func materialise(parent, pattern string, vols []volume) (_ *Prepared, err error) {
	if len(vols) == 0 {
		return nil, nil
	}
	p := &Prepared{}
	defer func() {
		if err != nil {
			_ = p.Remove()
		}
	}()
	for _, v := range vols {
		if v.bound != "" {
			p.add(v.name, v.bound, v.readOnly)
			continue
		}
		if p.dir == "" {
			if p.dir, err = os.MkdirTemp(parent, pattern); err != nil {
				return nil, fmt.Errorf("creating the invocation's workspace directory: %w", hostless(err))
			}
		}
		hostDir := filepath.Join(p.dir, v.name)
		if err := v.write(hostDir); err != nil {
			return nil, fmt.Errorf("workspace %q: %w", v.name, hostless(err))
		}
		p.add(v.name, filepath.Join(hostDir, filepath.FromSlash(v.subPath)), v.readOnly)
	}
	return p, nil
}

// write creates v's directory at hostDir, its files and its subPath,
// through an os.Root: nothing is written outside hostDir.
func (v *volume) write(hostDir string) error {
	if err := os.Mkdir(hostDir, 0o700); err != nil {
		return err
	}
	root, err := os.OpenRoot(hostDir)
	if err != nil {
		return err
	}
	defer root.Close()
	for name, content := range v.files {
		if d := path.Dir(name); d != "." {
			if err := root.MkdirAll(d, 0o700); err != nil {
				return err
			}
		}
		if err := root.WriteFile(name, content, 0o600); err != nil {
			return err
		}
	}
	if v.subPath != "" {
		return root.MkdirAll(v.subPath, 0o700)
	}
	return nil
}
