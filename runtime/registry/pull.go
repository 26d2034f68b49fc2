package registry

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tekton-wasm/tekton-wasm/runtime/manifest"
	"github.com/tekton-wasm/tekton-wasm/runtime/ociplugin"
)

// Defaults of pulling modules from registries (Options).
const (
	// DefaultPullTimeout bounds one pull: a registry that accepts
	// connections and never answers holds a load worker this long.
	DefaultPullTimeout = time.Minute
	// DefaultRetryBase and DefaultRetryMax are the backoff of loading a
	// plugin again after its pull failed: the first retry after
	// DefaultRetryBase, each next one twice as late, at most
	// DefaultRetryMax apart.
	DefaultRetryBase = time.Second
	DefaultRetryMax  = 5 * time.Minute
)

// Advice in errors of pulls by the controller (ociplugin.Client).
const (
	credentialsHint = "name a kubernetes.io/dockerconfigjson Secret with credentials for the registry in the manifest's pullSecrets"
	caHint          = "start the controller with -registry-ca naming the registry's CA (or set SSL_CERT_FILE)"
)

// errPull marks the errors of pulling a module, which are retried with
// backoff: a registry down, a Secret not created yet, an artifact not
// pushed yet may all heal without the ConfigMap changing.
type errPull struct{ error }

func (e errPull) Unwrap() error { return e.error }

// pull fetches the module p names in a registry (p.RegistryModule) with
// keychain, the credentials of its pullSecrets (pullSecrets), from the
// module cache if it holds it, and checks it against p's sha256 pin. Its
// errors are errPull, but for a pin mismatch; they name no host path.
func (r *Registry) pull(ctx context.Context, p *manifest.Manifest, keychain authn.Keychain) ([]byte, error) {
	ref, _ := p.RegistryModule()
	digest, err := name.NewDigest(ref, name.StrictValidation)
	if err != nil {
		return nil, err // Validate checked it
	}
	// ConfigMaps naming the same artifact and Secrets, loaded at once,
	// share one pull.
	v, err, _ := r.pulls.Do(ref+"\x00"+strings.Join(p.PullSecrets, ","), func() (any, error) {
		client := &ociplugin.Client{Keychain: keychain, Transport: r.opts.RegistryTransport, CredentialsHint: credentialsHint, CAHint: caHint}
		ctx, cancel := context.WithTimeout(ctx, r.opts.PullTimeout)
		defer cancel()
		if r.opts.ModuleCacheDir != "" {
			return (&ociplugin.Cache{Dir: r.opts.ModuleCacheDir, Client: client}).Pull(ctx, digest)
		}
		return client.Pull(ctx, ref)
	})
	if err != nil {
		var pathErr *fs.PathError
		var terr *transport.Error
		switch {
		case errors.As(err, &pathErr):
			r.opts.Logger.Errorw("The module cache failed", "error", err)
			err = fmt.Errorf("the controller's module cache failed (%v); see the controller's log", pathErr.Err)
		case errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound:
			err = fmt.Errorf("%w; the registry has no such artifact: push it (tkn-wasm push prints its digest) or correct the module's digest", err)
		}
		return nil, errPull{err}
	}
	return p.Decode(v.(*ociplugin.Artifact).Module)
}

// pullSecrets returns the keychain of the Secrets p's pullSecrets name,
// read from the registry's namespace whenever p is loaded, so that a
// changed Secret applies at the next load (a retry, or the ConfigMap
// applied again). Its errors are errPull.
func (r *Registry) pullSecrets(ctx context.Context, p *manifest.Manifest) (authn.Keychain, error) {
	k, err := r.readPullSecrets(ctx, p)
	if err != nil {
		return nil, errPull{err}
	}
	return k, nil
}

func (r *Registry) readPullSecrets(ctx context.Context, p *manifest.Manifest) (authn.Keychain, error) {
	keychains := make([]authn.Keychain, 0, len(p.PullSecrets))
	for _, s := range p.PullSecrets {
		where := fmt.Sprintf("pullSecrets: Secret %s/%s", r.opts.Namespace, s)
		secret, err := r.opts.Kube.CoreV1().Secrets(r.opts.Namespace).Get(ctx, s, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			return nil, fmt.Errorf("%s does not exist; create it in the controller's namespace (kubectl create secret docker-registry %s -n %s --docker-server=HOST …), or remove it from pullSecrets", where, s, r.opts.Namespace)
		case apierrors.IsForbidden(err):
			return nil, fmt.Errorf("%s: the controller may not read it; grant its service account get on secrets in %s (config/200-role.yaml)", where, r.opts.Namespace)
		case err != nil:
			return nil, fmt.Errorf("%s: %w", where, err)
		case secret.Type != corev1.SecretTypeDockerConfigJson:
			return nil, fmt.Errorf("%s is of type %q; a pull secret is of type %s (kubectl create secret docker-registry)", where, secret.Type, corev1.SecretTypeDockerConfigJson)
		}
		k, err := ociplugin.DockerConfigKeychain(secret.Data[corev1.DockerConfigJsonKey])
		if err != nil {
			return nil, fmt.Errorf("%s: its %s: %w", where, corev1.DockerConfigJsonKey, err)
		}
		keychains = append(keychains, k)
	}
	// The Secrets in order; none: no credentials.
	return authn.NewMultiKeychain(keychains...), nil
}
