package manifest

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/klauspost/compress/zstd"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	"github.com/tekton-wasm/tekton-wasm/runtime/wasmmodule"
)

// A plugin ConfigMap holds one plugin:
//
//	apiVersion: v1
//	kind: ConfigMap
//	metadata:
//	  name: wait
//	  namespace: tekton-wasm
//	  labels: {tekton-wasm.dev/plugin: "true"}
//	data:
//	  plugin.yaml: |
//	    name: wait
//	    apiVersion: wait.tekton-wasm.dev/v1alpha1
//	    kind: Wait
//	    module: wait.wasm.zst
//	    sha256: 9f2c…
//	    limits: {memory: 64Mi, timeout: 10m, concurrency: 4}
//	binaryData:
//	  wait.wasm.zst: KLUv/…
//
// data["plugin.yaml"] is one manifest, exactly as an entry of a plugin
// directory's index.yaml; binaryData[module] is the module, raw, gzip or
// zstd (Decode tells them apart by content).
const (
	// PluginLabel selects plugin ConfigMaps; its value must be
	// PluginLabelValue.
	PluginLabel      = "tekton-wasm.dev/plugin"
	PluginLabelValue = "true"
	// ManifestKey is the data key holding the manifest.
	ManifestKey = "plugin.yaml"
	// MaxConfigMapBytes is the apiserver's limit on the summed size of a
	// ConfigMap's data and binaryData values.
	MaxConfigMapBytes = 1 << 20
)

// FromConfigMap reads the plugin a ConfigMap holds: its manifest and its
// decoded module, which is nil when the manifest names a module in a
// registry (RegistryModule: the caller pulls it, and Decode checks it
// against the sha256 pin). Errors name the ConfigMap and say what to fix. When the
// manifest is valid but the module is not (missing key, not wasm, digest
// mismatch, too large), the manifest is returned with the error, so the
// caller knows which apiVersion/kind is broken; so is a manifest that
// names its apiVersion and kind but is invalid otherwise.
func FromConfigMap(cm *corev1.ConfigMap) (*Manifest, []byte, error) {
	p, stored, err := ReadConfigMap(cm)
	if err != nil {
		return p, nil, err
	}
	if _, remote := p.RegistryModule(); remote {
		return p, nil, nil
	}
	module, err := p.Decode(stored)
	if err != nil {
		return p, nil, fmt.Errorf("ConfigMap %s/%s: %w", cm.Namespace, cm.Name, err)
	}
	return p, module, nil
}

// ReadConfigMap is FromConfigMap without decoding the module: it returns
// the module as the ConfigMap stores it (compressed or not, unchecked:
// Decode checks it), nil for a module in a registry (RegistryModule).
func ReadConfigMap(cm *corev1.ConfigMap) (*Manifest, []byte, error) {
	where := fmt.Sprintf("ConfigMap %s/%s", cm.Namespace, cm.Name)
	text, ok := cm.Data[ManifestKey]
	if !ok {
		return nil, nil, fmt.Errorf("%s has no data[%q]; a plugin ConfigMap needs its manifest there (tkn-wasm pack writes one)", where, ManifestKey)
	}
	var p Manifest
	if err := yaml.UnmarshalStrict([]byte(text), &p); err != nil {
		return nil, nil, fmt.Errorf("%s: data[%q] is not a plugin manifest: %w", where, ManifestKey, err)
	}
	if err := p.Validate(); err != nil {
		if p.APIVersion == "" || p.Kind == "" {
			return nil, nil, fmt.Errorf("%s: %w", where, err)
		}
		return &p, nil, fmt.Errorf("%s: %w", where, err)
	}
	if _, remote := p.RegistryModule(); remote {
		return &p, nil, nil
	}
	stored, ok := cm.BinaryData[p.Module]
	if !ok {
		if _, inData := cm.Data[p.Module]; inData {
			return &p, nil, fmt.Errorf("%s: module %q is in data, which holds text only; put it in binaryData", where, p.Module)
		}
		return &p, nil, fmt.Errorf("%s: the manifest names module %q but binaryData has %s", where, p.Module, keys(cm.BinaryData))
	}
	return &p, stored, nil
}

// ToConfigMap builds the ConfigMap that registers plugin p with the given
// module (uncompressed wasm) in namespace. The ConfigMap is named after
// the plugin and labelled PluginLabel. The module is stored raw when the
// ConfigMap fits the apiserver's 1 MiB limit that way, else zstd-compressed
// at the best ratio (zstd beats gzip on both size and decoding speed; gzip
// remains accepted for hand-made ConfigMaps); module is renamed to match
// ("wait.wasm" or "wait.wasm.zst"). The manifest gets the module's sha256
// pin. It refuses a module that does not fit even compressed, a pin that
// does not match, and a plugin name that is not a valid ConfigMap name.
func ToConfigMap(p *Manifest, module []byte, namespace string) (*corev1.ConfigMap, error) {
	m := *p
	if m.Module == "" {
		m.Module = m.Name + ".wasm"
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	if errs := validation.IsDNS1123Subdomain(m.Name); len(errs) > 0 {
		return nil, fmt.Errorf("plugin name %q cannot name a ConfigMap: %s", m.Name, strings.Join(errs, "; "))
	}
	if !wasmmodule.IsWasm(module) {
		return nil, fmt.Errorf("plugin %q: the module is %w", m.Name, wasmmodule.ErrNotWasm)
	}
	digest := wasmmodule.Digest(module)
	if m.SHA256 != "" && !strings.EqualFold(m.SHA256, digest) {
		return nil, fmt.Errorf("plugin %q: the module has sha256 %s but the manifest pins %s", m.Name, digest, m.SHA256)
	}
	m.SHA256 = digest
	base := strings.TrimSuffix(strings.TrimSuffix(path.Base(m.Module), ".gz"), ".zst")
	if errs := validation.IsConfigMapKey(base + ".zst"); len(errs) > 0 {
		return nil, fmt.Errorf("plugin %q: module name %q cannot be a ConfigMap key: %s", m.Name, base, strings.Join(errs, "; "))
	}

	m.Module = base
	cm, err := configMap(&m, module, namespace)
	if err != nil {
		return nil, err
	}
	rawSize := ConfigMapBytes(cm)
	if rawSize <= MaxConfigMapBytes {
		return cm, nil
	}
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedBestCompression), zstd.WithEncoderConcurrency(1))
	if err != nil {
		return nil, err
	}
	defer enc.Close()
	m.Module = base + ".zst"
	if cm, err = configMap(&m, enc.EncodeAll(module, nil), namespace); err != nil {
		return nil, err
	}
	if size := ConfigMapBytes(cm); size > MaxConfigMapBytes {
		return nil, fmt.Errorf("plugin %q does not fit in a ConfigMap: %d bytes raw, %d bytes zstd-compressed, and the limit is %d bytes; "+
			"make the module smaller (build Go plugins with -ldflags=\"-s -w\", run wasm-opt -Oz)",
			m.Name, rawSize, size, MaxConfigMapBytes)
	}
	return cm, nil
}

func configMap(p *Manifest, stored []byte, namespace string) (*corev1.ConfigMap, error) {
	text, err := yaml.Marshal(p)
	if err != nil {
		return nil, err
	}
	return &corev1.ConfigMap{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{
			Name:      p.Name,
			Namespace: namespace,
			Labels:    map[string]string{PluginLabel: PluginLabelValue},
		},
		Data:       map[string]string{ManifestKey: string(text)},
		BinaryData: map[string][]byte{p.Module: stored},
	}, nil
}

// ConfigMapBytes is the size the apiserver holds against
// MaxConfigMapBytes: the summed length of all values.
func ConfigMapBytes(cm *corev1.ConfigMap) int {
	n := 0
	for _, v := range cm.Data {
		n += len(v)
	}
	for _, v := range cm.BinaryData {
		n += len(v)
	}
	return n
}

func keys(m map[string][]byte) string {
	if len(m) == 0 {
		return "no keys"
	}
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, fmt.Sprintf("%q", k))
	}
	slices.Sort(ks)
	return "only " + strings.Join(ks, ", ")
}
