//go:build e2e

// Package e2e tests tekton-wasm end to end against a real kube-apiserver, with
// Tekton's own pipelines controller turning Pipelines into CustomRuns and
// tekton-wasm's controller running them, all started by hack/cluster.sh (see
// docs/e2e.md). Run it with `make e2e`, or by hand:
//
//	eval "$(hack/cluster.sh up)"
//	go test -tags e2e -count=1 ./test/e2e/...
//
// Without $KUBECONFIG the tests use the rig's kubeconfig in
// .cache/cluster/kubeconfig. Each test works in a namespace of its own, which
// it deletes at the end unless E2E_KEEP_NAMESPACES is set; a failing test logs
// the namespace's Tekton objects and events first.
package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	pipelineclient "github.com/tektoncd/pipeline/pkg/client/clientset/versioned"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"
)

var (
	// repoRoot is the working tree under test; go test runs in test/e2e.
	repoRoot = func() string { d, _ := filepath.Abs("../.."); return d }()

	// kubeconfigPath is the absolute path of the kubeconfig in use.
	kubeconfigPath string

	kube   kubernetes.Interface
	tekton pipelineclient.Interface
	dyn    dynamic.Interface
)

func TestMain(m *testing.M) {
	kubeconfigPath = os.Getenv("KUBECONFIG")
	if kubeconfigPath == "" {
		kubeconfigPath = filepath.Join(repoRoot, ".cache", "cluster", "kubeconfig")
	}
	kubeconfigPath, _ = filepath.Abs(kubeconfigPath)
	if err := connect(kubeconfigPath); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: no cluster at %s: %v\nstart one with: hack/cluster.sh up\n", kubeconfigPath, err)
		os.Exit(1)
	}
	if err := registerFirstParty(context.Background()); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

func connect(kubeconfig string) error {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return err
	}
	// Tests poll; the default 5 QPS would make them wait on the client.
	cfg.QPS, cfg.Burst = 100, 200
	if kube, err = kubernetes.NewForConfig(cfg); err != nil {
		return err
	}
	if tekton, err = pipelineclient.NewForConfig(cfg); err != nil {
		return err
	}
	if dyn, err = dynamic.NewForConfig(cfg); err != nil {
		return err
	}
	_, err = kube.Discovery().ServerVersion()
	return err
}

// newNamespace creates a namespace for t and deletes it when t ends.
func newNamespace(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	name := strings.Trim(regexp.MustCompile(`[^a-z0-9]+`).ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	if len(name) > 40 {
		name = name[:40]
	}
	ns, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "e2e-" + name + "-"},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating namespace: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			dumpNamespace(t, ns.Name)
		}
		if os.Getenv("E2E_KEEP_NAMESPACES") != "" {
			t.Logf("keeping namespace %s", ns.Name)
			return
		}
		if err := kube.CoreV1().Namespaces().Delete(context.Background(), ns.Name, metav1.DeleteOptions{}); err != nil {
			t.Errorf("deleting namespace %s: %v", ns.Name, err)
		}
	})
	// Runs without serviceAccountName run as "default", which
	// kube-controller-manager creates shortly after the namespace.
	eventually(t, 30*time.Second, "the default ServiceAccount in "+ns.Name, func(ctx context.Context) (bool, error) {
		_, err := kube.CoreV1().ServiceAccounts(ns.Name).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, err
	})
	return ns.Name
}

// dumpNamespace logs the Tekton objects and events in ns, to explain a failure.
func dumpNamespace(t *testing.T, ns string) {
	ctx := context.Background()
	show := func(what string, obj any, err error) {
		if err != nil {
			t.Logf("listing %s in %s: %v", what, ns, err)
			return
		}
		out, _ := yaml.Marshal(obj)
		t.Logf("%s in %s:\n%s", what, ns, out)
	}
	prs, err := tekton.TektonV1().PipelineRuns(ns).List(ctx, metav1.ListOptions{})
	show("PipelineRuns", prs, err)
	crs, err := tekton.TektonV1beta1().CustomRuns(ns).List(ctx, metav1.ListOptions{})
	show("CustomRuns", crs, err)
	evs, err := kube.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Logf("listing events in %s: %v", ns, err)
		return
	}
	var b strings.Builder
	for _, e := range evs.Items {
		fmt.Fprintf(&b, "%s %s/%s %s: %s\n", e.Type, e.InvolvedObject.Kind, e.InvolvedObject.Name, e.Reason, e.Message)
	}
	t.Logf("events in %s:\n%s", ns, b.String())
}

// eventually polls cond every 50 ms until it reports done, fails, or timeout
// passes, and fails t with what was awaited and cond's last error.
func eventually(t *testing.T, timeout time.Duration, what string, cond func(context.Context) (bool, error)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var last error
	for {
		done, err := cond(ctx)
		if err == nil && done {
			return
		}
		if err != nil {
			last = err
		}
		select {
		case <-ctx.Done():
			t.Fatalf("timed out after %s waiting for %s (last error: %v)", timeout, what, last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
