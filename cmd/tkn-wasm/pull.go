package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/tekton-wasm/tekton-wasm/runtime/manifest"
	"github.com/tekton-wasm/tekton-wasm/runtime/ociplugin"
)

func newPullCmd() *cobra.Command {
	var (
		output string
		reg    *registryFlags
	)
	cmd := &cobra.Command{
		Use:   "pull [oci://]HOST/REPO(:TAG|@sha256:DIGEST) -o FILE [flags]",
		Short: "Fetch a plugin's module from an OCI registry",
		Long: "Fetches a plugin artifact, checks its digests and that it is a module of at most\n" +
			"64 MiB, writes the module to FILE and prints the artifact by digest.\n" + registryHelp,
		Example: "  tkn-wasm pull registry.example/plugins/wait@sha256:5d0e… -o wait.wasm\n" +
			"  tkn-wasm pull localhost:5000/plugins/wait:v1 -o wait.wasm",
		RunE: func(cmd *cobra.Command, args []string) error {
			return pull(cmd.Context(), args, output, reg, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "the file to write the module to (required)")
	reg = newRegistryFlags(cmd)
	return cmd
}

func pull(ctx context.Context, positional []string, output string, reg *registryFlags, stdout io.Writer) error {
	if len(positional) != 1 || output == "" {
		return usagef("pull takes a reference and -o FILE; run \"tkn-wasm pull --help\"")
	}
	client, err := reg.client()
	if err != nil {
		return err
	}
	a, err := client.Pull(ctx, trimOCI(positional[0]))
	if err != nil {
		return err
	}
	if err := writeFile(output, a.Module); err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, a.Ref)
	return err
}

// pullPlugin fetches the module `run --plugin oci://HOST/REPO@sha256:…`
// names (pullModule). The manifest the module carries, if any, gives the
// plugin's name and limits; the run gives its apiVersion and kind.
func pullPlugin(ctx context.Context, module, apiVersion, kind string) (*manifest.Manifest, []byte, error) {
	a, err := pullModule(ctx, module)
	if err != nil {
		return nil, nil, usagef("--plugin: %v", err)
	}
	p := &manifest.Manifest{Name: a.Ref.RepositoryStr(), APIVersion: apiVersion, Kind: kind, Module: module}
	if a.Manifest != nil {
		p.Name, p.Limits = a.Manifest.Name, a.Manifest.Limits
	}
	return p, a.Module, nil
}

// pullModule fetches the artifact module, oci://HOST/REPO@sha256:…, names,
// as a plugin ConfigMap would name it (a digest is required), with the
// docker config's credentials and the CAs of $SSL_CERT_FILE, once: the
// per-user module cache (moduleCacheDir) keeps it by digest.
func pullModule(ctx context.Context, module string) (*ociplugin.Artifact, error) {
	ref, err := manifest.ParseRegistryModule(module)
	if err != nil {
		return nil, err
	}
	client, err := (&registryFlags{}).client()
	if err != nil {
		return nil, err
	}
	digest, err := name.NewDigest(ref)
	if err != nil {
		return nil, err
	}
	if dir := moduleCacheDir(); dir != "" {
		return (&ociplugin.Cache{Dir: dir, Client: client}).Pull(ctx, digest)
	}
	return client.Pull(ctx, ref)
}

// moduleCacheDir is the per-user cache of pulled modules, or "" when the
// user has no cache directory.
func moduleCacheDir() string {
	d, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(d, "tekton-wasm", "modules")
}

// writeFile writes b to name through a temporary file in the same
// directory, so that name is either what it was or all of b.
func writeFile(name string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), name)
}
