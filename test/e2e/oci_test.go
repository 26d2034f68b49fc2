//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	pipelinev1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	"github.com/tektoncd/pipeline/pkg/apis/pipeline/v1beta1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/tekton-wasm/tekton-wasm/runtime/manifest"
)

// templateModule is the e2e suite's Template plugin
// (test/e2e/plugins/template), too large for a ConfigMap; the Makefile's
// e2e target builds it.
var templateModule = filepath.Join(repoRoot, "bin", "e2e", "template.wasm")

// ociRegistry is the rig's OCI registry, as `hack/cluster.sh env` exports
// it: its host, the docker config holding its credentials, and the CA
// that signed its certificate.
type ociRegistry struct{ host, dockerConfig, ca string }

func rigRegistry(t *testing.T) ociRegistry {
	t.Helper()
	r := ociRegistry{os.Getenv("TEKTON_WASM_REGISTRY"), os.Getenv("DOCKER_CONFIG"), os.Getenv("TEKTON_WASM_REGISTRY_CA")}
	if r.host == "" || r.dockerConfig == "" || r.ca == "" {
		t.Fatal("TEKTON_WASM_REGISTRY, DOCKER_CONFIG and TEKTON_WASM_REGISTRY_CA name the rig's registry: " +
			`run the suite with make e2e (hack/cluster.sh test), or after eval "$(hack/cluster.sh env)"`)
	}
	return r
}

// push pushes module with manifest p to ref with `tkn-wasm push` (the
// registry's credentials from DOCKER_CONFIG, its CA by --ca-file) and
// returns what it printed: the artifact by digest, HOST/REPO@sha256:….
func (r ociRegistry) push(t *testing.T, module, ref string, p manifest.Manifest) string {
	t.Helper()
	cmd := exec.Command(filepath.Join(repoRoot, "bin", "tkn-wasm"), "push", module, ref,
		"--name", p.Name, "--api-version", p.APIVersion, "--kind", p.Kind, "--ca-file", r.ca)
	cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+r.dockerConfig)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tkn-wasm push %s %s: %v: %s (run `make build`)", module, ref, err, stderr.String())
	}
	pushed := strings.TrimSpace(string(out))
	parsed, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if repo := parsed.Context().Name(); !strings.HasPrefix(pushed, repo+"@sha256:") {
		t.Fatalf("tkn-wasm push printed %q, want %s@sha256:…", pushed, repo)
	}
	return pushed
}

// pullSecret creates a kubernetes.io/dockerconfigjson Secret named name
// in the controller's namespace with the registry's credentials, and
// deletes it when t ends.
func (r ociRegistry) pullSecret(t *testing.T, name string) {
	t.Helper()
	config, err := os.ReadFile(filepath.Join(r.dockerConfig, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	secrets := kube.CoreV1().Secrets(controllerNamespace)
	_, err = secrets.Create(context.Background(), &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Type:       corev1.SecretTypeDockerConfigJson,
		Data:       map[string][]byte{corev1.DockerConfigJsonKey: config},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := secrets.Delete(context.Background(), name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("deleting Secret %s: %v", name, err)
		}
	})
}

// registerRegistryPlugin creates the plugin ConfigMap of p, whose module
// names an artifact (oci://…), in the controller's namespace, and deletes
// it when t ends. The ConfigMap holds the manifest only.
func registerRegistryPlugin(t *testing.T, p manifest.Manifest) *corev1.ConfigMap {
	t.Helper()
	text, err := yaml.Marshal(&p)
	if err != nil {
		t.Fatal(err)
	}
	cm, err := kube.CoreV1().ConfigMaps(controllerNamespace).Create(context.Background(), &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: p.Name, Labels: map[string]string{manifest.PluginLabel: manifest.PluginLabelValue}},
		Data:       map[string]string{manifest.ManifestKey: string(text)},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	unregisterAtEnd(t, cm)
	return cm
}

// templatePlugin is the manifest of the Template plugin registered as
// <ns>-<variant>, serving kind Template of
// <variant>.<ns>.e2e.tekton-wasm.dev/v1alpha1.
func templatePlugin(ns, variant string) manifest.Manifest {
	return manifest.Manifest{
		Name:       ns + "-" + variant,
		APIVersion: variant + "." + ns + ".e2e.tekton-wasm.dev/v1alpha1",
		Kind:       "Template",
	}
}

// templateRun is a CustomRun of the Template plugin of apiVersion.
func templateRun(name, apiVersion, template string, params ...v1beta1.Param) *v1beta1.CustomRun {
	return &v1beta1.CustomRun{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1beta1.CustomRunSpec{
			CustomRef: &v1beta1.TaskRef{APIVersion: apiVersion, Kind: "Template"},
			Params:    append(v1beta1.Params{stringParam("template", template)}, params...),
		},
	}
}

// TestRegistryPluginInPipeline pushes the Template plugin, a Go module
// that does not fit a ConfigMap even compressed, to the rig's registry
// with `tkn-wasm push`, registers it by a ConfigMap naming its digest and
// a pull secret, and runs it from a Pipeline whose second task renders
// the first one's result.
func TestRegistryPluginInPipeline(t *testing.T) {
	t.Parallel()
	reg := rigRegistry(t)
	ns := newNamespace(t)
	p := templatePlugin(ns, "template")

	module, err := os.ReadFile(templateModule)
	if err != nil {
		t.Fatalf("%v (run `make e2e`, which builds it)", err)
	}
	if _, err := manifest.ToConfigMap(&p, module, controllerNamespace); err == nil || !strings.Contains(err.Error(), "does not fit in a ConfigMap") {
		t.Fatalf("the Template plugin (%d bytes) fits a ConfigMap (%v): the test needs a module that does not", len(module), err)
	}
	ref := reg.push(t, templateModule, reg.host+"/e2e/template:"+ns, p)
	t.Logf("pushed %d bytes as %s", len(module), ref)

	reg.pullSecret(t, ns+"-pull")
	p.Module, p.PullSecrets = manifest.ModuleScheme+ref, []string{ns + "-pull"}
	cm := registerRegistryPlugin(t, p)
	// Pulling and compiling a module of this size cold takes seconds; the
	// other tests share the machine's cores.
	waitEventWithin(t, cm, "PluginLoaded", fmt.Sprintf("Plugin %q serves", p.Name), 2*time.Minute)

	str := func(s string) pipelinev1.ParamValue { return *pipelinev1.NewStructuredValues(s) }
	ref2 := &pipelinev1.TaskRef{APIVersion: p.APIVersion, Kind: "Template"}
	pipeline := &pipelinev1.Pipeline{
		ObjectMeta: metav1.ObjectMeta{Name: "render"},
		Spec: pipelinev1.PipelineSpec{
			Params: pipelinev1.ParamSpecs{{Name: "version", Type: pipelinev1.ParamTypeString}},
			Tasks: []pipelinev1.PipelineTask{{
				Name:    "greet",
				TaskRef: ref2,
				Params: pipelinev1.Params{
					{Name: "template", Value: str("{{.name}} {{.version}} is out")},
					{Name: "name", Value: str("tekton-wasm")},
					{Name: "version", Value: str("$(params.version)")},
				},
			}, {
				Name:    "shout",
				TaskRef: ref2,
				Params: pipelinev1.Params{
					{Name: "template", Value: str(`{{printf "%s!" .greeting}}`)},
					{Name: "greeting", Value: str("$(tasks.greet.results.rendered)")},
				},
			}},
			Results: []pipelinev1.PipelineResult{{Name: "announcement", Value: str("$(tasks.shout.results.rendered)")}},
		},
	}
	runPipeline(t, ns, pipeline, pipelinev1.Params{{Name: "version", Value: str("v1.2.0")}},
		map[string]string{"announcement": "tekton-wasm v1.2.0 is out!"})
}

// TestRegistryPluginFailures registers the Template plugin four ways that
// cannot serve it: a digest the registry does not have, a tag without a
// digest, a pull secret that does not exist, and no pull secret for a
// registry that requires credentials. Each ConfigMap gets a Warning Event
// saying why, and runs of its kind end PluginUnavailable with that error,
// while another kind keeps running. Creating the missing Secret then
// serves its kind without the ConfigMap changing.
func TestRegistryPluginFailures(t *testing.T) {
	t.Parallel()
	reg := rigRegistry(t)
	ns := newNamespace(t)
	ref := reg.push(t, templateModule, reg.host+"/e2e/template:"+ns, templatePlugin(ns, "template"))
	repo, _, _ := strings.Cut(ref, "@")
	reg.pullSecret(t, ns+"-pull")

	absent := "sha256:" + strings.Repeat("0", 64)
	for _, tc := range []struct {
		variant, module string
		pullSecrets     []string
		reason          string // of the Warning Event
		want            string // in the Event and the runs' message
	}{
		{"wrongdigest", manifest.ModuleScheme + repo + "@" + absent, []string{ns + "-pull"}, "PluginPullFailed", "the registry has no such artifact"},
		{"tag", manifest.ModuleScheme + reg.host + "/e2e/template:" + ns, []string{ns + "-pull"}, "PluginInvalid", "names no digest"},
		{"nosecret", manifest.ModuleScheme + ref, []string{ns + "-absent"}, "PluginPullFailed", "pullSecrets: Secret tekton-wasm/" + ns + "-absent does not exist"},
		{"nocredentials", manifest.ModuleScheme + ref, nil, "PluginPullFailed", "the registry refused the credentials"},
	} {
		p := templatePlugin(ns, tc.variant)
		p.Module, p.PullSecrets = tc.module, tc.pullSecrets
		cm := registerRegistryPlugin(t, p)
		waitEvent(t, cm, tc.reason, tc.want)
		createCustomRun(t, ns, templateRun(tc.variant, p.APIVersion, "{{.x}}", stringParam("x", "y")))
		cr := waitDone(t, ns, tc.variant, 30*time.Second)
		wantCondition(t, cr, corev1.ConditionFalse, "PluginUnavailable")
		wantMessage(t, cr, cm.Name, tc.want)
	}
	createCustomRun(t, ns, waitRun("healthy", "100ms"))
	wantCondition(t, waitDone(t, ns, "healthy", 30*time.Second), corev1.ConditionTrue, "DurationElapsed")

	// The absent Secret appears: the next retry reads it and pulls.
	reg.pullSecret(t, ns+"-absent")
	waitRegistryHealed(t, ns, templatePlugin(ns, "nosecret"), "healed", 2*time.Minute)
}

// waitRegistryHealed waits until a run of the Template plugin p in ns,
// created anew (name-1, name-2, …) every second until one does not end
// PluginUnavailable, renders, and checks that p's ConfigMap is the version
// it was before: the controller's retries healed the kind by themselves.
func waitRegistryHealed(t *testing.T, ns string, p manifest.Manifest, name string, timeout time.Duration) {
	t.Helper()
	ctx := context.Background()
	before, err := kube.CoreV1().ConfigMaps(controllerNamespace).Get(ctx, p.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	attempt := 0
	eventually(t, timeout, "the "+p.Name+" plugin to serve runs again", func(ctx context.Context) (bool, error) {
		attempt++
		run := fmt.Sprintf("%s-%d", name, attempt)
		createCustomRun(t, ns, templateRun(run, p.APIVersion, "{{.x}}", stringParam("x", "rendered")))
		cr := waitDone(t, ns, run, 30*time.Second)
		if c := cr.Status.GetCondition("Succeeded"); c.Reason == "PluginUnavailable" {
			time.Sleep(time.Second)
			return false, fmt.Errorf("%s", c.Message)
		}
		wantCondition(t, cr, corev1.ConditionTrue, "Rendered")
		wantResults(t, cr, map[string]string{"rendered": "rendered"})
		return true, nil
	})
	t.Logf("%s served again after %d runs", p.Name, attempt)
	after, err := kube.CoreV1().ConfigMaps(controllerNamespace).Get(ctx, p.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if after.ResourceVersion != before.ResourceVersion {
		t.Errorf("ConfigMap %s changed (resourceVersion %s → %s); it must heal untouched", p.Name, before.ResourceVersion, after.ResourceVersion)
	}
}

// TestRegistryStopped stops the rig's registry before a ConfigMap names
// an artifact the controller has never pulled: a PluginPullFailed Warning
// Event, runs of its kind end PluginUnavailable, another kind keeps
// running; once the registry is started again the controller's retries
// pull it and the kind is served, the ConfigMap untouched. It runs alone
// (not in parallel): other tests push to the registry.
func TestRegistryStopped(t *testing.T) {
	requireRigController(t)
	reg := rigRegistry(t)
	ns := newNamespace(t)
	p := templatePlugin(ns, "template")
	// A manifest of its own: a digest no earlier test pulled, so the
	// controller's module cache does not hold it.
	ref := reg.push(t, templateModule, reg.host+"/e2e/template:"+ns, p)
	reg.pullSecret(t, ns+"-pull")
	p.Module, p.PullSecrets = manifest.ModuleScheme+ref, []string{ns + "-pull"}

	rig(t, "stop-registry")
	stopped := time.Now()
	t.Cleanup(func() { _, _, _ = runRig("start-registry") }) // if the test fails before starting it
	cm := registerRegistryPlugin(t, p)
	waitEvent(t, cm, "PluginPullFailed", "connection refused")
	createCustomRun(t, ns, templateRun("down", p.APIVersion, "{{.x}}", stringParam("x", "y")))
	cr := waitDone(t, ns, "down", 30*time.Second)
	wantCondition(t, cr, corev1.ConditionFalse, "PluginUnavailable")
	wantMessage(t, cr, cm.Name, "connection refused")
	createCustomRun(t, ns, waitRun("healthy", "100ms"))
	wantCondition(t, waitDone(t, ns, "healthy", 30*time.Second), corev1.ConditionTrue, "DurationElapsed")

	rig(t, "start-registry")
	t.Logf("registry down for %s", time.Since(stopped).Round(time.Millisecond))
	waitRegistryHealed(t, ns, p, "up", 2*time.Minute)
}
