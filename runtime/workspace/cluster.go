package workspace

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/tekton-wasm/tekton-wasm/runtime/access"
	"github.com/tektoncd/pipeline/pkg/apis/pipeline/v1beta1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apipath "k8s.io/apimachinery/pkg/api/validation/path"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
)

// Preparer is the controller's Source: it reads configMap and secret
// workspaces from the cluster as the run's service account may, and
// creates every workspace under Dir.
//
// Prepare checks everything the run's owner controls before it writes
// anything: Check's rules, then access (ReasonForbidden,
// access.ReasonServiceAccountNotFound), objects and keys (ReasonNotFound)
// and MaxFiles and MaxBytes over what the objects hold (ReasonTooLarge).
//
// Cost per invocation with configMap or secret workspaces: one GET of the
// ServiceAccount, then one SubjectAccessReview and one GET per such
// workspace, and at most MaxBytes of files written under Dir (put it on a
// memory-backed emptyDir so that secret data never reaches a disk). Set
// the fields before the first Prepare; it is then safe for concurrent
// use.
type Preparer struct {
	// Kube reviews access and reads ServiceAccounts, ConfigMaps and Secrets.
	Kube kubernetes.Interface
	// Dir is where per-invocation directories are created ("" means
	// os.TempDir()).
	Dir string
}

// dirPrefix starts the name of every per-invocation directory of a
// Preparer.
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

// Prepare materialises run's workspaces for one invocation (see Source).
func (p *Preparer) Prepare(ctx context.Context, run *v1beta1.CustomRun) (*Prepared, error) {
	vols, perr := plan(run.Spec.Workspaces)
	if perr != nil {
		return nil, perr
	}
	if err := p.read(ctx, run, vols); err != nil {
		return nil, err
	}
	return materialise(p.Dir, dirPrefix+string(run.UID)+"-", vols)
}

// read reads the objects of vols and picks their files, within MaxFiles
// and MaxBytes. The run's service account is looked up once, at the
// first object.
func (p *Preparer) read(ctx context.Context, run *v1beta1.CustomRun, vols []volume) error {
	var account *access.Account
	files, bytes := 0, 0
	for i := range vols {
		v := &vols[i]
		if v.obj == nil {
			continue
		}
		if account == nil {
			var err error
			if account, err = access.Lookup(ctx, p.Kube, run.Namespace, run.Spec.ServiceAccountName); err != nil {
				return accessError(v.name, err)
			}
		}
		data, err := p.get(ctx, account, v.name, v.obj)
		if err != nil {
			return err
		}
		if v.files, err = v.obj.files(v.name, data, v.subPath); err != nil {
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

// object is the ConfigMap or Secret behind a workspace.
type object struct {
	resource schema.GroupResource // configmaps or secrets
	name     string
	items    []item // clean paths; nil: every key
	optional *bool
}

// item is a key written at path (clean, local, slash-separated).
type item struct{ key, path string }

func (o *object) String() string {
	return fmt.Sprintf("%s %q", strings.TrimSuffix(o.resource.Resource, "s"), o.name)
}

func (o *object) isOptional() bool { return o.optional != nil && *o.optional }

// plan checks the object's name and the items, and that they and subPath
// fit in one volume.
func (o *object) plan(workspace string, items []corev1.KeyToPath, subPath string) *Error {
	if msgs := apipath.IsValidPathSegmentName(o.name); o.name == "" || len(msgs) > 0 {
		if o.name == "" {
			msgs = []string{"it is empty"}
		}
		return invalid("workspace %q: %s name %q is not valid: %s", workspace, strings.TrimSuffix(o.resource.Resource, "s"), o.name, strings.Join(msgs, "; "))
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
		o.items = append(o.items, item{it.Key, p})
	}
	if err := layout(paths, "an item path", subPath); err != nil {
		return invalid("workspace %q: %s", workspace, err)
	}
	return nil
}

// get reviews whether account may get o, then reads it. A missing object
// of an optional workspace reads as empty.
func (p *Preparer) get(ctx context.Context, account *access.Account, workspace string, o *object) (map[string][]byte, error) {
	if err := account.May(ctx, "get", o.resource, o.name); err != nil {
		return nil, accessError(workspace, err)
	}
	var data map[string][]byte
	var err error
	switch o.resource.Resource {
	case "configmaps":
		var obj *corev1.ConfigMap
		if obj, err = p.Kube.CoreV1().ConfigMaps(account.Namespace).Get(ctx, o.name, metav1.GetOptions{}); err == nil {
			data = make(map[string][]byte, len(obj.Data)+len(obj.BinaryData))
			for k, v := range obj.Data {
				data[k] = []byte(v)
			}
			maps.Copy(data, obj.BinaryData)
		}
	default:
		var obj *corev1.Secret
		if obj, err = p.Kube.CoreV1().Secrets(account.Namespace).Get(ctx, o.name, metav1.GetOptions{}); err == nil {
			data = obj.Data
		}
	}
	switch {
	case apierrors.IsNotFound(err) && o.isOptional():
		return nil, nil
	case apierrors.IsNotFound(err):
		return nil, &Error{ReasonNotFound, fmt.Sprintf("workspace %q: %s does not exist in namespace %q", workspace, o, account.Namespace)}
	case apierrors.IsForbidden(err):
		return nil, &Error{ReasonForbidden, fmt.Sprintf("workspace %q: the controller may not get %s in namespace %q, although service account %q may; "+
			"grant the controller get on %s (the tekton-wasm-controller-workspaces ClusterRole)", workspace, o, account.Namespace, account.Name, o.resource)}
	case err != nil:
		return nil, fmt.Errorf("workspace %q: reading %s: %w", workspace, o, err)
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
func (o *object) files(workspace string, data map[string][]byte, subPath string) (map[string][]byte, error) {
	if o.items == nil {
		for key := range data {
			if err := checkKey(key); err != nil {
				return nil, invalid("workspace %q: %s has key %q, which %s", workspace, o, key, err)
			}
		}
		if err := layout(slices.Collect(maps.Keys(data)), "a key of "+o.String(), subPath); err != nil {
			return nil, invalid("workspace %q: %s", workspace, err)
		}
		return data, nil
	}
	files := make(map[string][]byte, len(o.items))
	for _, it := range o.items {
		v, ok := data[it.key]
		if !ok {
			if o.isOptional() {
				continue
			}
			keys := slices.Sorted(maps.Keys(data))
			return nil, &Error{ReasonNotFound, fmt.Sprintf("workspace %q: %s has no key %q (it has %q)", workspace, o, it.key, keys)}
		}
		files[it.path] = v
	}
	return files, nil
}
