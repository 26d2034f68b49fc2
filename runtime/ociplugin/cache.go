package ociplugin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/tekton-wasm/tekton-wasm/internal/boundedread"
)

// Cache keeps pulled artifacts on disk, keyed by their digest, so that an
// artifact named by digest is fetched once per directory: not again after
// a restart, nor for a second manifest naming the same digest. An entry,
// DIR/sha256/HEX/ (the artifact's OCI manifest and its module), is checked
// on every read as Pull checks a registry (the manifest against the
// digest, the module against its layer's digest and size); an entry that
// fails the check is fetched again and replaced. Entries are written to a
// temporary directory and renamed, so readers never see a partial entry.
//
// A Cache's fields are set before first use; it is then safe for
// concurrent use, also by processes sharing Dir. Nothing is evicted: an
// entry costs about the size of its module.
type Cache struct {
	// Dir holds the entries; it is created if missing.
	Dir string
	// Client fetches what the cache does not hold.
	Client *Client
}

const (
	manifestFile = "manifest.json"
	moduleFile   = "module.wasm"
)

// Pull returns the artifact ref names by digest, from Dir if an entry
// there passes the checks, else from the registry (and then stores it).
func (c *Cache) Pull(ctx context.Context, ref name.Digest) (*Artifact, error) {
	h, err := v1.NewHash(ref.DigestStr())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ref, err)
	}
	entry := filepath.Join(c.Dir, h.Algorithm, h.Hex)
	if a, err := c.Client.readEntry(entry, h); err == nil {
		a.Ref = ref
		return a, nil
	}
	a, err := c.Client.Pull(ctx, ref.String())
	if err != nil {
		return nil, err
	}
	if err := writeEntry(entry, a); err != nil {
		return nil, fmt.Errorf("caching %s: %w", ref, err)
	}
	return a, nil
}

// readEntry reads and checks the entry of the artifact with digest h.
func (c *Client) readEntry(entry string, h v1.Hash) (*Artifact, error) {
	raw, err := boundedread.Open(filepath.Join(entry, manifestFile), MaxManifestBytes)
	if err != nil {
		return nil, err
	}
	if got, _, err := v1.SHA256(bytes.NewReader(raw)); err != nil || got != h {
		return nil, fmt.Errorf("the cached manifest has digest %s, not %s", got, h)
	}
	return c.checkArtifact(raw, func(v1.Descriptor) (io.ReadCloser, error) {
		return os.Open(filepath.Join(entry, moduleFile))
	})
}

// writeEntry stores a at entry, replacing what is there.
func writeEntry(entry string, a *Artifact) error {
	parent := filepath.Dir(entry)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(parent, ".tmp-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	for name, b := range map[string][]byte{manifestFile: a.ociManifest, moduleFile: a.Module} {
		if err := os.WriteFile(filepath.Join(tmp, name), b, 0o644); err != nil {
			return err
		}
	}
	// A damaged entry is moved aside first: rename does not replace a
	// directory that is not empty.
	if err := os.Rename(entry, tmp+"-old"); err == nil {
		defer os.RemoveAll(tmp + "-old")
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.Rename(tmp, entry); err != nil {
		// Another writer stored the same entry first: keep theirs.
		if _, statErr := os.Stat(filepath.Join(entry, moduleFile)); statErr == nil {
			return nil
		}
		return err
	}
	return nil
}
