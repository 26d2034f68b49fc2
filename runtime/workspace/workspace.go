// Package workspace materialises a CustomRun's workspaces as host
// directories for one plugin invocation:
//
//   - emptyDir: a fresh, private, empty directory, writable by the plugin.
//     It lives for one invocation: a Running plugin called again later
//     gets a new, empty one (keep state in extraFields).
//   - configMap and secret: the object's keys written as files (honouring
//     items and optional), mounted read-only. The object is read only if
//     the run's serviceAccountName (default "default") exists and may get
//     it (runtime/access), so a run can never see what its own service
//     account could not. File modes (defaultMode, items[].mode) do not
//     apply: the sandbox has no users.
//
// Every workspace is mounted at /workspace/<name> (hostabi.Workspace.Path);
// subPath selects a directory inside the volume. Other volume types never
// get here: the state machine ends such runs (CustomRunWorkspaceNotSupported).
//
// Prepare checks everything the run's owner controls before it writes
// anything: names and paths (ReasonInvalid), access (ReasonForbidden,
// access.ReasonServiceAccountNotFound), objects and keys (ReasonNotFound)
// and the limits MaxWorkspaces, MaxFiles and MaxBytes (ReasonTooLarge).
// Files are then written through an os.Root per volume, so no name can
// lead outside it. No error it returns names a host path.
//
// Cost per invocation with configMap or secret workspaces: one GET of the
// ServiceAccount, then one SubjectAccessReview and one GET per such
// workspace, and at most MaxBytes of files written under Preparer.Dir
// (put it on a memory-backed emptyDir so that secret data never reaches
// a disk).
package workspace

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/tekton-wasm/tekton-wasm/hostabi"
	"github.com/tekton-wasm/tekton-wasm/runtime/access"
	"github.com/tekton-wasm/tekton-wasm/runtime/lifecycle"
	"github.com/tektoncd/pipeline/pkg/apis/pipeline/v1beta1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apipath "k8s.io/apimachinery/pkg/api/validation/path"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
)

// Reasons of the errors that end a run.
const (
	// ReasonForbidden: the run's service account may not get the
	// workspace's ConfigMap or Secret, or the controller may not.
	ReasonForbidden = "WorkspaceForbidden"
	// ReasonNotFound: the ConfigMap, Secret or item key does not exist
	// and the workspace is not optional.
	ReasonNotFound = "WorkspaceNotFound"
	// ReasonInvalid: a workspace name, object name, subPath, item path or
	// key is not a plain relative path inside the volume, or two of them
	// collide (the same file twice, or a file where a directory must be).
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

// Error is a workspace failure that ends the run: Reason is the condition
// reason, Error() the message.
type Error struct {
	Reason  string
	Message string
}

func (e *Error) Error() string { return e.Message }

func invalid(format string, args ...any) *Error {
	return &Error{ReasonInvalid, fmt.Sprintf(format, args...)}
}

// Preparer prepares workspaces.
type Preparer struct {
	// Kube reviews access and reads ServiceAccounts, ConfigMaps and Secrets.
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

// volume is one workspace as Prepare plans it.
type volume struct {
	name    string
	subPath string  // clean and local; "" for the volume itself
	src     *source // nil for emptyDir
	files   map[string][]byte
}

// Prepare materialises run's workspaces for one invocation. It returns a
// nil Set when the run has none. A failure the run's owner must fix is an
// *Error; other errors (the apiserver could not be reached, the disk is
// full) are transient.
func (p *Preparer) Prepare(ctx context.Context, run *v1beta1.CustomRun) (*Set, error) {
	if len(run.Spec.Workspaces) == 0 {
		return nil, nil
	}
	vols, err := plan(run.Spec.Workspaces)
	if err != nil {
		return nil, err
	}
	if err := p.read(ctx, run, vols); err != nil {
		return nil, err
	}
	return p.write(run, vols)
}

// plan checks the run's workspaces as written, without reading or
// writing anything.
func plan(bindings []v1beta1.WorkspaceBinding) ([]volume, error) {
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
		v := volume{name: ws.Name}
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
		switch t := lifecycle.WorkspaceType(ws); t {
		case "emptyDir":
		case "configMap":
			v.src = &source{resource: corev1.Resource("configmaps"), name: ws.ConfigMap.Name, optional: ws.ConfigMap.Optional}
			list = ws.ConfigMap.Items
		case "secret":
			v.src = &source{resource: corev1.Resource("secrets"), name: ws.Secret.SecretName, optional: ws.Secret.Optional}
			list = ws.Secret.Items
		default:
			return nil, &Error{lifecycle.ReasonWorkspaceNotSupported, fmt.Sprintf("workspace %q is a %s; plugins support emptyDir, configMap and secret workspaces", ws.Name, t)}
		}
		if v.src != nil {
			if err := v.src.plan(ws.Name, list, v.subPath); err != nil {
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

// read reads the objects of vols and picks their files, within MaxFiles
// and MaxBytes. The run's service account is looked up once, at the
// first object.
func (p *Preparer) read(ctx context.Context, run *v1beta1.CustomRun, vols []volume) error {
	var account *access.Account
	files, bytes := 0, 0
	for i := range vols {
		v := &vols[i]
		if v.src == nil {
			continue
		}
		if account == nil {
			var err error
			if account, err = access.Lookup(ctx, p.Kube, run.Namespace, run.Spec.ServiceAccountName); err != nil {
				return accessError(v.name, err)
			}
		}
		data, err := p.get(ctx, account, v.name, v.src)
		if err != nil {
			return err
		}
		if v.files, err = v.src.files(v.name, data, v.subPath); err != nil {
			return err
		}
		files += len(v.files)
		for _, b := range v.files {
			bytes += len(b)
		}
		if files > MaxFiles {
			return &Error{ReasonTooLarge, fmt.Sprintf("workspace %q: the run's workspaces have at least %d files; at most %d are allowed", v.name, files, MaxFiles)}
		}
		if bytes > MaxBytes {
			return &Error{ReasonTooLarge, fmt.Sprintf("workspace %q: the run's workspaces hold at least %d bytes of files (an item counts each time it names a key); "+
				"at most %d are allowed", v.name, bytes, MaxBytes)}
		}
	}
	return nil
}

// write creates the invocation's directory and vols in it.
func (p *Preparer) write(run *v1beta1.CustomRun, vols []volume) (_ *Set, err error) {
	dir, err := os.MkdirTemp(p.Dir, dirPrefix+string(run.UID)+"-")
	if err != nil {
		return nil, fmt.Errorf("creating the invocation's workspace directory: %w", hostless(err))
	}
	set := &Set{dir: dir}
	defer func() {
		if err != nil {
			_ = set.Remove()
		}
	}()
	for _, v := range vols {
		hostDir := filepath.Join(dir, v.name)
		if err := v.write(hostDir); err != nil {
			return nil, fmt.Errorf("workspace %q: %w", v.name, hostless(err))
		}
		m := Mount{Workspace: hostabi.Workspace{Name: v.name, Path: hostabi.WorkspacePath(v.name), ReadOnly: v.src != nil},
			HostDir: filepath.Join(hostDir, filepath.FromSlash(v.subPath))}
		set.Mounts = append(set.Mounts, m)
	}
	return set, nil
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

// hostless returns err without the host paths that *fs.PathError and
// *os.LinkError carry: what failed, not where.
func hostless(err error) error {
	if pe, ok := errors.AsType[*fs.PathError](err); ok {
		return fmt.Errorf("%s: %w", pe.Op, pe.Err)
	}
	if le, ok := errors.AsType[*os.LinkError](err); ok {
		return fmt.Errorf("%s: %w", le.Op, le.Err)
	}
	return err
}

// source is the ConfigMap or Secret behind a workspace.
type source struct {
	resource schema.GroupResource // configmaps or secrets
	name     string
	items    []item // clean paths; nil: every key
	optional *bool
}

// item is a key written at path (clean, local, slash-separated).
type item struct{ key, path string }

func (s *source) String() string {
	return fmt.Sprintf("%s %q", strings.TrimSuffix(s.resource.Resource, "s"), s.name)
}

func (s *source) isOptional() bool { return s.optional != nil && *s.optional }

// plan checks the object's name and the items, and that they and subPath
// fit in one volume.
func (s *source) plan(workspace string, items []corev1.KeyToPath, subPath string) error {
	if msgs := apipath.IsValidPathSegmentName(s.name); s.name == "" || len(msgs) > 0 {
		if s.name == "" {
			msgs = []string{"it is empty"}
		}
		return invalid("workspace %q: %s name %q is not valid: %s", workspace, strings.TrimSuffix(s.resource.Resource, "s"), s.name, strings.Join(msgs, "; "))
	}
	paths := make([]string, len(items))
	for i, it := range items {
		if err := checkKey(it.Key); err != nil {
			return invalid("workspace %q: item key %q %s", workspace, it.Key, err)
		}
		p, err := cleanPath(it.Path, true)
		if err != nil {
			return invalid("workspace %q: item path %q %s", workspace, it.Path, err)
		}
		paths[i] = p
		s.items = append(s.items, item{it.Key, p})
	}
	if err := layout(paths, "an item path", subPath); err != nil {
		return invalid("workspace %q: %s", workspace, err)
	}
	return nil
}

// get reviews whether account may get s, then reads it. A missing object
// of an optional workspace reads as empty.
func (p *Preparer) get(ctx context.Context, account *access.Account, workspace string, s *source) (map[string][]byte, error) {
	if err := account.May(ctx, "get", s.resource, s.name); err != nil {
		return nil, accessError(workspace, err)
	}
	var data map[string][]byte
	var err error
	switch s.resource.Resource {
	case "configmaps":
		var obj *corev1.ConfigMap
		if obj, err = p.Kube.CoreV1().ConfigMaps(account.Namespace).Get(ctx, s.name, metav1.GetOptions{}); err == nil {
			data = make(map[string][]byte, len(obj.Data)+len(obj.BinaryData))
			for k, v := range obj.Data {
				data[k] = []byte(v)
			}
			maps.Copy(data, obj.BinaryData)
		}
	default:
		var obj *corev1.Secret
		if obj, err = p.Kube.CoreV1().Secrets(account.Namespace).Get(ctx, s.name, metav1.GetOptions{}); err == nil {
			data = obj.Data
		}
	}
	switch {
	case apierrors.IsNotFound(err) && s.isOptional():
		return nil, nil
	case apierrors.IsNotFound(err):
		return nil, &Error{ReasonNotFound, fmt.Sprintf("workspace %q: %s does not exist in namespace %q", workspace, s, account.Namespace)}
	case apierrors.IsForbidden(err):
		return nil, &Error{ReasonForbidden, fmt.Sprintf("workspace %q: the controller may not get %s in namespace %q, although service account %q may; "+
			"grant the controller get on %s (the tekton-wasm-controller-workspaces ClusterRole)", workspace, s, account.Namespace, account.Name, s.resource)}
	case err != nil:
		return nil, fmt.Errorf("workspace %q: reading %s: %w", workspace, s, err)
	}
	return data, nil
}

// accessError is err of runtime/access about workspace.
func accessError(workspace string, err error) error {
	if ae, ok := errors.AsType[*access.Error](err); ok {
		return &Error{ae.Reason(ReasonForbidden), fmt.Sprintf("workspace %q: %s", workspace, ae.Message)}
	}
	return fmt.Errorf("workspace %q: %w", workspace, err)
}

// files picks the files of the volume from data: every key, or only
// items (key → path). A missing item key is an error unless the workspace
// is optional, as with a Pod's volumes.
func (s *source) files(workspace string, data map[string][]byte, subPath string) (map[string][]byte, error) {
	if s.items == nil {
		for key := range data {
			if err := checkKey(key); err != nil {
				return nil, invalid("workspace %q: %s has key %q, which %s", workspace, s, key, err)
			}
		}
		if err := layout(slices.Collect(maps.Keys(data)), "a key of "+s.String(), subPath); err != nil {
			return nil, invalid("workspace %q: %s", workspace, err)
		}
		return data, nil
	}
	files := make(map[string][]byte, len(s.items))
	for _, it := range s.items {
		v, ok := data[it.key]
		if !ok {
			if s.isOptional() {
				continue
			}
			keys := slices.Sorted(maps.Keys(data))
			return nil, &Error{ReasonNotFound, fmt.Sprintf("workspace %q: %s has no key %q (it has %q)", workspace, s, it.key, keys)}
		}
		files[it.path] = v
	}
	return files, nil
}

// checkName returns an *Error (ReasonInvalid) unless n can name a
// workspace (hostabi.ValidWorkspaceName), so /workspace/<n> is a directory
// of its own.
func checkName(n string) error {
	if !hostabi.ValidWorkspaceName(n) {
		return invalid(`workspace name %q must be 1 to %d letters, digits, '-', '_' or '.', and not "." or ".."`, n, hostabi.MaxWorkspaceName)
	}
	return nil
}

// checkKey returns why key cannot be a file name, or nil.
func checkKey(key string) error {
	switch {
	case key == "" || key == "." || key == "..":
		return errors.New(`is not a file name (it is empty, "." or "..")`)
	case strings.ContainsAny(key, "/\x00"):
		return errors.New("is not a file name (it contains '/' or NUL)")
	case len(key) > maxName:
		return fmt.Errorf("is longer than %d bytes", maxName)
	}
	return nil
}

// cleanPath returns p cleaned, or why it is not a relative path inside
// the volume. A file may not be the volume itself (".").
func cleanPath(p string, file bool) (string, error) {
	if len(p) > MaxPath {
		return "", fmt.Errorf("is longer than %d bytes", MaxPath)
	}
	if strings.ContainsRune(p, 0) {
		return "", errors.New("must not contain NUL")
	}
	c := path.Clean(p)
	if !filepath.IsLocal(c) || (file && c == ".") {
		if file {
			return "", errors.New("must be a relative path to a file inside the volume")
		}
		return "", errors.New("must be a relative path inside the volume")
	}
	for e := range strings.SplitSeq(c, "/") {
		if len(e) > maxName {
			return "", fmt.Errorf("has a name longer than %d bytes", maxName)
		}
	}
	return c, nil
}

// layout returns an error unless files (clean paths, what says what they
// are) can all be written in one volume that also has the directory
// subPath: no file twice, and no file where a directory must be.
func layout(files []string, what, subPath string) error {
	dirs := map[string]string{} // directory → why it must be one
	need := func(p, why string) {
		for d := p; d != "." && d != ""; d = path.Dir(d) {
			if _, ok := dirs[d]; !ok {
				dirs[d] = why
			}
		}
	}
	if subPath != "" {
		need(subPath, fmt.Sprintf("subPath %q", subPath))
	}
	files = slices.Sorted(slices.Values(files))
	for _, f := range files {
		need(path.Dir(f), fmt.Sprintf("holding %q", f))
	}
	seen := make(map[string]bool, len(files))
	for _, f := range files {
		if seen[f] {
			return fmt.Errorf("two items have the path %q", f)
		}
		seen[f] = true
		if why, ok := dirs[f]; ok {
			return fmt.Errorf("%q is both a file (%s) and a directory (%s)", f, what, why)
		}
	}
	return nil
}
