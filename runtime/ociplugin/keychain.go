package ociplugin

import (
	"encoding/json"
	"errors"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
)

// DockerConfigKeychain returns a keychain holding the credentials of a
// docker config JSON document ({"auths": {"HOST": {"auth": …}}}: the
// .dockerconfigjson of a kubernetes.io/dockerconfigjson Secret); a
// registry it has no entry for is pulled from anonymously. An entry's
// key may be a host ("registry.example:5000") or a URL
// ("https://index.docker.io/v1/"). Unlike authn.DefaultKeychain it never
// runs a credential helper (credsStore, credHelpers) nor reads files or
// the environment: the document is all it trusts. authn.NewMultiKeychain
// joins several, the first with credentials for a registry winning.
func DockerConfigKeychain(config []byte) (authn.Keychain, error) {
	var c struct {
		Auths map[string]authn.AuthConfig `json:"auths"`
	}
	// The error is left out: it may quote the document.
	if err := json.Unmarshal(config, &c); err != nil {
		return nil, errors.New(`it is not a docker config JSON document ({"auths": {"HOST": {"auth": "BASE64(USER:PASSWORD)"}}}: kubectl create secret docker-registry writes one)`)
	}
	k := dockerConfigKeychain{}
	for key, a := range c.Auths {
		k[registryHost(key)] = a
	}
	return k, nil
}

// dockerConfigKeychain is the credentials of a docker config, by
// registry host.
type dockerConfigKeychain map[string]authn.AuthConfig

func (k dockerConfigKeychain) Resolve(target authn.Resource) (authn.Authenticator, error) {
	if a, ok := k[target.RegistryStr()]; ok {
		return authn.FromConfig(a), nil
	}
	return authn.Anonymous, nil
}

// registryHost is the registry host a docker config key names: the key
// without a URL scheme and path. Docker Hub's legacy key
// https://index.docker.io/v1/ names index.docker.io, as
// go-containerregistry names Docker Hub.
func registryHost(key string) string {
	if _, rest, ok := strings.Cut(key, "://"); ok {
		key = rest
	}
	host, _, _ := strings.Cut(key, "/")
	if host == "docker.io" || host == "registry-1.docker.io" {
		return "index.docker.io"
	}
	return host
}
