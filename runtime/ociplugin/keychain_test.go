package ociplugin

import (
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

func TestDockerConfigKeychain(t *testing.T) {
	// credsStore would run docker-credential-evil with the default keychain.
	first, err := DockerConfigKeychain([]byte(`{"credsStore": "evil", "auths": {"https://registry.example/v1/": {"auth": "YTpi"}, "https://index.docker.io/v1/": {"username": "hub", "password": "p"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	second, err := DockerConfigKeychain([]byte(`{"auths": {"registry.example": {"username": "second", "password": "p"}, "localhost:5000": {"username": "local", "password": "p"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	k := authn.NewMultiKeychain(first, second)
	for ref, want := range map[string]string{
		"registry.example/plugins/wait:v1": "a", // the first keychain naming the host wins
		"localhost:5000/wait:v1":           "local",
		"docker.io/library/wait:v1":        "hub",
		"other.example/wait:v1":            "", // anonymous
	} {
		r, err := name.ParseReference(ref)
		if err != nil {
			t.Fatal(err)
		}
		a, err := k.Resolve(r.Context())
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := a.Authorization()
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Username != want || (want == "" && a != authn.Anonymous) {
			t.Errorf("%s: user %q; want %q", ref, cfg.Username, want)
		}
	}
}

func TestDockerConfigKeychainRefuses(t *testing.T) {
	for _, b := range []string{`not json s3cr3t`, `{"auths": {"h": {"auth": "s3cr3t!!"}}}`, `{"auths": []}`} {
		_, err := DockerConfigKeychain([]byte(b))
		if err == nil || strings.Contains(err.Error(), "s3cr3t") || !strings.Contains(err.Error(), "not a docker config JSON document") {
			t.Errorf("DockerConfigKeychain(%q) = %v; want an error that does not quote it", b, err)
		}
	}
}
