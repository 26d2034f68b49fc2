package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/tekton-wasm/tekton-wasm/internal/boundedread"
	"github.com/tekton-wasm/tekton-wasm/runtime/manifest"
	"github.com/tekton-wasm/tekton-wasm/runtime/ociplugin"
	"github.com/tekton-wasm/tekton-wasm/runtime/wasmmodule"
)

// pluginFlags are the flags describing a plugin, shared by pack and push:
// a manifest file, the manifest the module carries, or flags, each
// overriding the one before.
type pluginFlags struct {
	command      string
	fs           *pflag.FlagSet
	p            manifest.Manifest
	memory       string
	timeout      time.Duration
	allow        []string
	manifestFile string
}

// newPluginFlags adds the flags to the command's.
func newPluginFlags(cmd *cobra.Command) *pluginFlags {
	fs := cmd.Flags()
	f := &pluginFlags{command: cmd.Name(), fs: fs}
	fs.StringVar(&f.manifestFile, "manifest", "", "a plugin manifest (plugin.yaml, as in a plugin ConfigMap) to start from; flags override its fields")
	fs.StringVar(&f.p.APIVersion, "api-version", "", "the custom task apiVersion the plugin serves (required unless a manifest gives it)")
	fs.StringVar(&f.p.Kind, "kind", "", "the custom task kind the plugin serves (required unless a manifest gives it)")
	fs.StringVar(&f.p.Name, "name", "", "the plugin's (and ConfigMap's) name; default: the module's file name")
	fs.StringVar(&f.memory, "memory", "", "memory limit per instance in bytes, from 64Ki to 4Gi, e.g. 128Mi (default 64Mi)")
	fs.DurationVar(&f.timeout, "timeout", 0, "per-attempt timeout for runs without spec.timeout (default: Tekton's 60m)")
	fs.IntVar(&f.p.Limits.Concurrency, "concurrency", 0, "most concurrent invocations of this plugin (default: the controller's global limit only)")
	fs.StringArrayVar(&f.allow, "allow-host", nil, "`HOST[:PORT]`: grant the HTTP capability and let the plugin reach this host, besides those the manifest allows (repeatable; capabilities.http.allow, see docs/plugins.md)")
	cmd.MarkFlagFilename("manifest", "yaml", "yml")
	return f
}

// MaxManifestFileBytes caps a --manifest file: as much as a ConfigMap
// holds, far more than any manifest needs.
const MaxManifestFileBytes = manifest.MaxConfigMapBytes

// load reads the module at path (raw, gzip or zstd) and returns it,
// uncompressed, with its manifest: the --manifest file's, else the one
// the module carries (manifest.Embedded), with the flags given on the
// command line over it. The manifest names the module by its file name.
func (f *pluginFlags) load(path string) (*manifest.Manifest, []byte, error) {
	stored, err := boundedread.Open(path, wasmmodule.MaxBytes)
	if err != nil {
		return nil, nil, usagef("reading the module: %v", tooLarge(err, path, "a module"))
	}
	defaultName := strings.ToLower(strings.TrimSuffix(filepath.Base(path), ".wasm"))
	base := &manifest.Manifest{Name: defaultName, Module: filepath.Base(path)}
	module, err := base.Decode(stored)
	if err != nil {
		return nil, nil, usagef("%v", err)
	}
	var p manifest.Manifest
	if f.manifestFile != "" {
		b, err := boundedread.Open(f.manifestFile, MaxManifestFileBytes)
		if err != nil {
			return nil, nil, usagef("reading the manifest: %v", tooLarge(err, f.manifestFile, "a manifest"))
		}
		if err := yaml.UnmarshalStrict(b, &p); err != nil {
			return nil, nil, usagef("%s is not a plugin manifest: %v", f.manifestFile, err)
		}
	} else if embedded, err := manifest.Embedded(module); err != nil {
		return nil, nil, usagef("%s: %v", path, err)
	} else if embedded != nil {
		p = *embedded
	}
	var bad error
	f.fs.Visit(func(fl *pflag.Flag) {
		switch fl.Name {
		case "api-version":
			p.APIVersion = f.p.APIVersion
		case "kind":
			p.Kind = f.p.Kind
		case "name":
			p.Name = f.p.Name
		case "concurrency":
			p.Limits.Concurrency = f.p.Limits.Concurrency
		case "timeout":
			p.Limits.Timeout = &metav1.Duration{Duration: f.timeout}
		case "allow-host":
			if p.Capabilities.HTTP == nil {
				p.Capabilities.HTTP = &manifest.HTTPCapability{}
			}
			p.Capabilities.HTTP.Allow = append(p.Capabilities.HTTP.Allow, f.allow...)
		case "memory":
			q, err := resource.ParseQuantity(f.memory)
			if err == nil {
				err = manifest.CheckMemory(q)
			}
			if err != nil {
				bad = usagef("--memory %q: %v", f.memory, err)
			}
			p.Limits.Memory = &q
		}
	})
	if bad != nil {
		return nil, nil, bad
	}
	if p.APIVersion == "" || p.Kind == "" {
		return nil, nil, usagef("%s needs --api-version and --kind (the custom task the plugin serves), or a manifest that gives them (--manifest, or one the module carries)", f.command)
	}
	if p.Name == "" {
		p.Name = defaultName
	}
	if p.SHA256 != "" && !strings.EqualFold(p.SHA256, wasmmodule.Digest(module)) {
		return nil, nil, usagef("plugin %q: the module has sha256 %s but the manifest pins %s", p.Name, wasmmodule.Digest(module), p.SHA256)
	}
	p.Module = base.Module
	return &p, module, nil
}

// registryFlags are the flags of the commands that talk to a registry.
type registryFlags struct {
	caFiles []string
}

// newRegistryFlags adds the flags to the command's.
func newRegistryFlags(cmd *cobra.Command) *registryFlags {
	f := &registryFlags{}
	cmd.Flags().StringArrayVar(&f.caFiles, "ca-file", nil, "`PEM` file of CA certificates to trust besides the system's and $SSL_CERT_FILE (repeatable)")
	cmd.MarkFlagFilename("ca-file", "pem", "crt")
	return f
}

// client returns a registry client with the docker config's credentials
// ($DOCKER_CONFIG, default ~/.docker) and the trusted CAs.
func (f *registryFlags) client() (*ociplugin.Client, error) {
	t, err := ociplugin.Transport(f.caFiles...)
	if err != nil {
		return nil, usagef("%v", err)
	}
	return &ociplugin.Client{Transport: t}, nil
}

// registryHelp is the part of the usage of the commands that talk to a
// registry about credentials and CAs.
const registryHelp = "Credentials come from the docker config ($DOCKER_CONFIG/config.json, default\n" +
	"~/.docker/config.json: docker login writes it); a registry with a private CA\n" +
	"needs --ca-file or SSL_CERT_FILE. Registries on localhost may use plain HTTP.\n"

// progressFlag is --progress: how run shows a PipelineRun's tasks on
// stderr (live.go): auto, live or plain.
type progressFlag string

const (
	progressAuto  progressFlag = "auto"
	progressLive  progressFlag = "live"
	progressPlain progressFlag = "plain"
)

// progressUsage is --progress's help.
const progressUsage = "with a PipelineRun: `auto`, live or plain; live redraws one line per running task in place on a terminal, plain prints a line per change of a task's state; auto is live when stderr is a terminal"

func (p *progressFlag) String() string { return string(*p) }

// Type names the flag's value in --help (pflag.Value).
func (p *progressFlag) Type() string { return "mode" }

func (p *progressFlag) Set(v string) error {
	switch progressFlag(v) {
	case progressAuto, progressLive, progressPlain:
		*p = progressFlag(v)
		return nil
	}
	return fmt.Errorf("%q is not auto, live or plain", v)
}
