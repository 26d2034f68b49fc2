// Package manifest owns the plugin manifest: the one description of a
// plugin — the custom task apiVersion/kind it serves, where its module is,
// an optional digest pin, its limits and the host capabilities it grants
// (capabilities.go) — used unchanged by the local runner's plugin
// directory (index.yaml), by plugin ConfigMaps (data["plugin.yaml"]), by
// what `tkn-wasm pack` writes and inside a module, in a custom section
// (Embed, Embedded). It also reads modules, compressed or not, and checks
// them against their pin. How a module is named (its digest) and bounded
// is package wasmmodule's, which the engine shares; a limit the manifest
// leaves unset is the engine's default, so the manifest does not depend
// on the engine.
package manifest

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/tekton-wasm/tekton-wasm/runtime/wasmmodule"
)

// Manifest describes one plugin (a plugin.yaml, one of index.yaml's plugins):
// the custom task it serves, its module and the limits of its calls.
type Manifest struct {
	// Name identifies the plugin in logs, events and metrics, and names
	// the ConfigMap `tkn-wasm pack` writes: a lowercase RFC 1123 subdomain
	// (letters, digits, '-' and '.'), so that the same manifest serves in a
	// plugin directory and in a cluster.
	Name string `json:"name"`
	// APIVersion and Kind are the custom task this plugin serves: a
	// CustomRun whose customRef or customSpec names them runs it.
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	// Module is the module's file name, relative to the index (plugin
	// directory) or the binaryData key (ConfigMap). A ".gz" or ".zst"
	// suffix means the module is compressed that way. A module in an OCI
	// registry is oci://HOST/REPO@sha256:DIGEST (RegistryModule).
	Module string `json:"module,omitempty"`
	// SHA256, when set, pins the hex sha256 of the uncompressed module;
	// a module with another digest is refused.
	SHA256 string `json:"sha256,omitempty"`
	// PullSecrets name the kubernetes.io/dockerconfigjson Secrets, in the
	// controller's namespace, holding the credentials to pull a module in
	// a registry (RegistryModule) with: at most MaxPullSecrets Secret
	// names. Only a registry module may have them; the local runner uses
	// the docker config instead.
	PullSecrets []string `json:"pullSecrets,omitempty"`
	// Limits bound every invocation of this plugin.
	Limits Limits `json:"limits,omitempty"`
	// Capabilities grant the plugin host capabilities (capabilities.go);
	// none by default.
	Capabilities Capabilities `json:"capabilities,omitzero"`
}

// Limits bound a plugin's invocations.
type Limits struct {
	// Memory caps the linear memory of one instance: a whole number of
	// bytes from one wasm page (64Ki) to 4Gi (CheckMemory). Unset means
	// the engine's default (engine.DefaultMemory, 64Mi).
	Memory *resource.Quantity `json:"memory,omitempty"`
	// Timeout is the per-attempt timeout of runs that set no
	// spec.timeout (default: Tekton's 60 minutes).
	Timeout *metav1.Duration `json:"timeout,omitempty"`
	// Concurrency caps how many invocations of this plugin run at once
	// in the controller (0: only the controller's global limit applies).
	Concurrency int `json:"concurrency,omitempty"`
	// Cleanup is the grace period of a clean-up call, the call made when
	// a run is cancelled or an attempt times out after a call of it
	// answered Running (see runtime/lifecycle): positive and at most
	// MaxCleanup; unset means lifecycle.DefaultCleanupGrace (10s).
	Cleanup *metav1.Duration `json:"cleanup,omitempty"`
}

// MaxCleanup is the longest limits.cleanup: a cancelled run, or a timed-out
// attempt, ends only after its clean-up call, and whatever waits for it (a
// PipelineRun being cancelled, the next attempt) should not wait longer.
const MaxCleanup = 5 * time.Minute

// CleanupGrace is the grace period of a clean-up call; 0 means the state
// machine's default.
func (l Limits) CleanupGrace() time.Duration {
	if l.Cleanup == nil {
		return 0
	}
	return l.Cleanup.Duration
}

// MemoryBytes is the memory limit in bytes; 0 when unset, which the
// engine reads as its default (engine.Limits). It is meaningful for
// validated limits only (Manifest.Validate).
func (l Limits) MemoryBytes() uint64 {
	if l.Memory == nil {
		return 0
	}
	return uint64(l.Memory.Value())
}

// CheckMemory reports whether q is a valid memory limit: a whole number of
// bytes (not "100m", a thousandth of a byte) from wasmmodule.PageSize to
// wasmmodule.MaxMemory (not "10E", which no int64 holds).
func CheckMemory(q resource.Quantity) error {
	n, ok := q.AsInt64()
	if !ok || n < wasmmodule.PageSize || n > wasmmodule.MaxMemory {
		return fmt.Errorf("%s is not a whole number of bytes from 64Ki to 4Gi; write it like 64Mi", q.String())
	}
	return nil
}

// DefaultTimeout is the timeout for runs without spec.timeout; 0 means
// the state machine's default.
func (l Limits) DefaultTimeout() time.Duration {
	if l.Timeout == nil {
		return 0
	}
	return l.Timeout.Duration
}

// Validate reports the first missing or invalid field, naming it.
func (p *Manifest) Validate() error { return p.validate(true) }

// validate is Validate; a manifest a module carries (Embed) names no
// module, so withModule is false for it.
func (p *Manifest) validate(withModule bool) error {
	var missing []string
	for _, f := range []struct{ name, v string }{{"name", p.Name}, {"apiVersion", p.APIVersion}, {"kind", p.Kind}, {"module", p.Module}} {
		if f.v == "" && (withModule || f.name != "module") {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("plugin manifest %q is missing %s", p.Name, strings.Join(missing, ", "))
	}
	if errs := validation.IsDNS1123Subdomain(p.Name); len(errs) > 0 {
		return fmt.Errorf("plugin name %q cannot name a ConfigMap: %s; rename the plugin", p.Name, strings.Join(errs, "; "))
	}
	if strings.HasPrefix(p.Module, ModuleScheme) {
		if _, err := ParseRegistryModule(p.Module); err != nil {
			return fmt.Errorf("plugin %q: %w", p.Name, err)
		}
	}
	if err := p.validatePullSecrets(); err != nil {
		return err
	}
	if p.SHA256 != "" {
		if b, err := hex.DecodeString(p.SHA256); err != nil || len(b) != sha256.Size {
			return fmt.Errorf("plugin %q: sha256 %q is not 64 hex digits", p.Name, p.SHA256)
		}
	}
	if m := p.Limits.Memory; m != nil {
		if err := CheckMemory(*m); err != nil {
			return fmt.Errorf("plugin %q: limits.memory %v", p.Name, err)
		}
	}
	if t := p.Limits.Timeout; t != nil && t.Duration < 0 {
		return fmt.Errorf("plugin %q: limits.timeout %s is negative", p.Name, t.Duration)
	}
	if c := p.Limits.Cleanup; c != nil && (c.Duration <= 0 || c.Duration > MaxCleanup) {
		return fmt.Errorf("plugin %q: limits.cleanup %s is not from 1ns to %s; give the clean-up call a grace period such as 10s", p.Name, c.Duration, MaxCleanup)
	}
	if p.Limits.Concurrency < 0 {
		return fmt.Errorf("plugin %q: limits.concurrency %d is negative", p.Name, p.Limits.Concurrency)
	}
	return p.Capabilities.validate(p.Name)
}

// Serves reports whether the plugin serves the given custom task.
func (p *Manifest) Serves(apiVersion, kind string) bool {
	return p.APIVersion == apiVersion && p.Kind == kind
}

// Decode turns the stored bytes of p's module into the module itself:
// it decompresses by content (gzip, zstd or raw wasm, whatever the file
// name says), checks the wasm magic, the size limit and the sha256 pin.
func (p *Manifest) Decode(stored []byte) ([]byte, error) {
	module, err := decompress(stored)
	if err != nil {
		return nil, fmt.Errorf("plugin %q: module %q: %w", p.Name, p.Module, err)
	}
	if !wasmmodule.IsWasm(module) {
		return nil, fmt.Errorf("plugin %q: module %q is %w", p.Name, p.Module, wasmmodule.ErrNotWasm)
	}
	if p.SHA256 != "" {
		if got := wasmmodule.Digest(module); !strings.EqualFold(got, p.SHA256) {
			return nil, fmt.Errorf("plugin %q: module %q has sha256 %s but the manifest pins %s", p.Name, p.Module, got, p.SHA256)
		}
	}
	return module, nil
}

var (
	gzipMagic = []byte{0x1f, 0x8b}
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

func decompress(b []byte) ([]byte, error) {
	var r io.Reader
	switch {
	case bytes.HasPrefix(b, gzipMagic):
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("bad gzip data: %w", err)
		}
		r = zr
	case bytes.HasPrefix(b, zstdMagic):
		zr, err := zstd.NewReader(bytes.NewReader(b), zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(wasmmodule.MaxBytes))
		if err != nil {
			return nil, fmt.Errorf("bad zstd data: %w", err)
		}
		defer zr.Close()
		r = zr
	default:
		if len(b) > wasmmodule.MaxBytes {
			return nil, fmt.Errorf("module is %d bytes; the limit is %d", len(b), wasmmodule.MaxBytes)
		}
		return b, nil
	}
	out, err := io.ReadAll(io.LimitReader(r, wasmmodule.MaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("decompressing: %w", err)
	}
	if len(out) > wasmmodule.MaxBytes {
		return nil, fmt.Errorf("module decompresses to more than %d bytes", wasmmodule.MaxBytes)
	}
	return out, nil
}
