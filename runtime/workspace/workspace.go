// Package workspace materialises a CustomRun's workspaces as host
// directories for one plugin invocation:
//
//   - emptyDir: a fresh, private, empty directory, writable by the plugin.
//     It lives for one invocation: a Running plugin called again later
//     gets a new, empty one (keep state in extraFields).
//   - configMap and secret: the object's keys written as files (honouring
//     items and optional), mounted read-only. The object is read only if
//     the run's serviceAccountName (default "default") may get it, which
//     a SubjectAccessReview decides, so a run can never see what its own
//     service account could not. File modes (defaultMode, items[].mode)
//     do not apply: the sandbox has no users.
//
// Every workspace is mounted at /workspace/<name> (hostabi.Workspace.Path);
// subPath selects a directory inside the volume. Other volume types never
// get here: the state machine ends such runs (CustomRunWorkspaceNotSupported).
//
// Cost per invocation with configMap or secret workspaces: one
// SubjectAccessReview and one GET per workspace, and the files written
// under Preparer.Dir (put it on a memory-backed emptyDir so that secret
// data never reaches a disk).
package workspace

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/tekton-wasm/tekton-wasm/hostabi"
	"github.com/tekton-wasm/tekton-wasm/runtime/lifecycle"
	"github.com/tektoncd/pipeline/pkg/apis/pipeline/v1beta1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Reasons of the errors that end a run.
const (
	// ReasonForbidden: the run's service account may not get the
	// workspace's ConfigMap or Secret.
	ReasonForbidden = "WorkspaceForbidden"
	// ReasonNotFound: the ConfigMap, Secret or item key does not exist
	// and the workspace is not optional.
	ReasonNotFound = "WorkspaceNotFound"
	// ReasonInvalid: a workspace name, subPath or item path would leave
	// the workspace's directory.
	ReasonInvalid = "WorkspaceInvalid"
)

// Error is a workspace failure that ends the run: Reason is the condition
// reason, Error() the message.
type Error struct {
	Reason  string
	Message string
}

func (e *Error) Error() string { return e.Message }

// Preparer prepares workspaces.
type Preparer struct {
	// Kube reviews access and reads ConfigMaps and Secrets.
	Kube kubernetes.Interface
	// Dir is where per-invocation directories are created ("" means
	// os.TempDir()).
	Dir string
}

// dirPrefix starts the name of every per-invocation directory.
const dirPrefix = "run-"

// RemoveStale creates Dir if needed and removes the per-invocation
// directories an earlier process left in it (their invocations ended
// with that process). It does nothing when Dir is "": the system
// temporary directory is shared.
func (p *Preparer) RemoveStale() error {
	if p.Dir == "" {
		return nil
	}
	if err := os.MkdirAll(p.Dir, 0o700); err != nil {
		return err
	}
	stale, err := filepath.Glob(filepath.Join(p.Dir, dirPrefix+"*"))
	if err != nil {
		return err
	}
	for _, d := range stale {
		if err := os.RemoveAll(d); err != nil {
			return err
		}
	}
	return nil
}

// Mount is one prepared workspace: what the plugin is told, and the host
// directory behind it.
type Mount struct {
	hostabi.Workspace
	HostDir string
}

// Set is the workspaces of one invocation. Remove deletes them.
type Set struct {
	Mounts []Mount
	dir    string
}

// Remove deletes the invocation's directories. It is safe on a nil Set.
func (s *Set) Remove() error {
	if s == nil || s.dir == "" {
		return nil
	}
	return os.RemoveAll(s.dir)
}

// Prepare materialises run's workspaces for one invocation. It returns a
// nil Set when the run has none. A failure the run's owner must fix is an
// *Error; other errors (the apiserver could not be reached, the disk is
// full) are transient.
func (p *Preparer) Prepare(ctx context.Context, run *v1beta1.CustomRun) (_ *Set, err error) {
	if len(run.Spec.Workspaces) == 0 {
		return nil, nil
	}
	dir, err := os.MkdirTemp(p.Dir, dirPrefix+string(run.UID)+"-")
	if err != nil {
		return nil, fmt.Errorf("creating the workspace directory: %w", err)
	}
	set := &Set{dir: dir}
	defer func() {
		if err != nil {
			_ = set.Remove()
		}
	}()
	for _, ws := range run.Spec.Workspaces {
		m, err := p.prepare(ctx, run, ws, dir)
		if err != nil {
			return nil, err
		}
		set.Mounts = append(set.Mounts, m)
	}
	return set, nil
}

func (p *Preparer) prepare(ctx context.Context, run *v1beta1.CustomRun, ws v1beta1.WorkspaceBinding, dir string) (Mount, error) {
	if !filepath.IsLocal(ws.Name) || strings.ContainsAny(ws.Name, `/\`) {
		return Mount{}, &Error{ReasonInvalid, fmt.Sprintf("workspace name %q is not a plain directory name", ws.Name)}
	}
	if ws.SubPath != "" && !filepath.IsLocal(ws.SubPath) {
		return Mount{}, &Error{ReasonInvalid, fmt.Sprintf("workspace %q: subPath %q must be a relative path inside the volume", ws.Name, ws.SubPath)}
	}
	volume := filepath.Join(dir, ws.Name)
	if err := os.Mkdir(volume, 0o700); err != nil {
		return Mount{}, err
	}
	m := Mount{Workspace: hostabi.Workspace{Name: ws.Name, Path: hostabi.WorkspacePath(ws.Name)}, HostDir: filepath.Join(volume, ws.SubPath)}
	var src *source
	switch t := lifecycle.WorkspaceType(ws); t {
	case "emptyDir":
	case "configMap":
		cm := ws.ConfigMap
		src = &source{resource: "configmaps", name: cm.Name, items: cm.Items, optional: cm.Optional,
			get: func(ctx context.Context) (map[string][]byte, error) {
				obj, err := p.Kube.CoreV1().ConfigMaps(run.Namespace).Get(ctx, cm.Name, metav1.GetOptions{})
				if err != nil {
					return nil, err
				}
				data := make(map[string][]byte, len(obj.Data)+len(obj.BinaryData))
				for k, v := range obj.Data {
					data[k] = []byte(v)
				}
				maps.Copy(data, obj.BinaryData)
				return data, nil
			}}
	case "secret":
		s := ws.Secret
		src = &source{resource: "secrets", name: s.SecretName, items: s.Items, optional: s.Optional,
			get: func(ctx context.Context) (map[string][]byte, error) {
				obj, err := p.Kube.CoreV1().Secrets(run.Namespace).Get(ctx, s.SecretName, metav1.GetOptions{})
				if err != nil {
					return nil, err
				}
				return obj.Data, nil
			}}
	default:
		return Mount{}, &Error{lifecycle.ReasonWorkspaceNotSupported, fmt.Sprintf("workspace %q is a %s; plugins support emptyDir, configMap and secret workspaces", ws.Name, t)}
	}
	var files map[string][]byte
	if src != nil {
		m.ReadOnly = true
		data, err := p.read(ctx, run, ws.Name, src)
		if err != nil {
			return Mount{}, err
		}
		if files, err = src.files(ws.Name, data); err != nil {
			return Mount{}, err
		}
	}
	for name, content := range files {
		file := filepath.Join(volume, name)
		if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
			return Mount{}, err
		}
		if err := os.WriteFile(file, content, 0o600); err != nil {
			return Mount{}, err
		}
	}
	if err := os.MkdirAll(m.HostDir, 0o700); err != nil {
		return Mount{}, err
	}
	return m, nil
}

// source is the ConfigMap or Secret behind a workspace.
type source struct {
	resource string // "configmaps" or "secrets"
	name     string
	items    []corev1.KeyToPath
	optional *bool
	get      func(context.Context) (map[string][]byte, error)
}

func (s *source) String() string {
	return fmt.Sprintf("%s %q", strings.TrimSuffix(s.resource, "s"), s.name)
}

func (s *source) isOptional() bool { return s.optional != nil && *s.optional }

// read reviews whether the run's service account may get src, then reads
// it. A missing object of an optional workspace reads as empty.
func (p *Preparer) read(ctx context.Context, run *v1beta1.CustomRun, workspace string, src *source) (map[string][]byte, error) {
	sa := run.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	review, err := p.Kube.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{
		Spec: authorizationv1.SubjectAccessReviewSpec{
			User:   "system:serviceaccount:" + run.Namespace + ":" + sa,
			Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + run.Namespace, "system:authenticated"},
			ResourceAttributes: &authorizationv1.ResourceAttributes{
				Namespace: run.Namespace, Verb: "get", Resource: src.resource, Name: src.name,
			},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("workspace %q: reviewing access of service account %q to %s: %w", workspace, sa, src, err)
	}
	if !review.Status.Allowed {
		msg := fmt.Sprintf("workspace %q: service account %q may not get %s in namespace %q; "+
			"bind it to a Role that allows get on %s (resourceNames: [%s])", workspace, sa, src, run.Namespace, src.resource, src.name)
		if r := review.Status.Reason; r != "" {
			msg += " (" + r + ")"
		}
		return nil, &Error{ReasonForbidden, msg}
	}
	data, err := src.get(ctx)
	switch {
	case apierrors.IsNotFound(err) && src.isOptional():
		return nil, nil
	case apierrors.IsNotFound(err):
		return nil, &Error{ReasonNotFound, fmt.Sprintf("workspace %q: %s does not exist in namespace %q", workspace, src, run.Namespace)}
	case apierrors.IsForbidden(err):
		return nil, &Error{ReasonForbidden, fmt.Sprintf("workspace %q: the controller may not get %s in namespace %q, although service account %q may; "+
			"grant the controller get on %s (the tekton-wasm-controller-workspaces ClusterRole)", workspace, src, run.Namespace, sa, src.resource)}
	case err != nil:
		return nil, fmt.Errorf("workspace %q: reading %s: %w", workspace, src, err)
	}
	return data, nil
}

// files picks the files of the volume from data: every key, or only
// items (key → path). A missing item key is an error unless the workspace
// is optional, as with a Pod's volumes.
func (s *source) files(workspace string, data map[string][]byte) (map[string][]byte, error) {
	if len(s.items) == 0 {
		for key := range data {
			if !filepath.IsLocal(key) {
				return nil, &Error{ReasonInvalid, fmt.Sprintf("workspace %q: %s has key %q, which is not a file name", workspace, s, key)}
			}
		}
		return data, nil
	}
	files := make(map[string][]byte, len(s.items))
	for _, it := range s.items {
		if !filepath.IsLocal(it.Path) {
			return nil, &Error{ReasonInvalid, fmt.Sprintf("workspace %q: item path %q must be a relative path inside the volume", workspace, it.Path)}
		}
		v, ok := data[it.Key]
		if !ok {
			if s.isOptional() {
				continue
			}
			keys := slices.Sorted(maps.Keys(data))
			return nil, &Error{ReasonNotFound, fmt.Sprintf("workspace %q: %s has no key %q (it has %q)", workspace, s, it.Key, keys)}
		}
		files[it.Path] = v
	}
	return files, nil
}
