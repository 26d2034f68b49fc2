//go:build e2e

package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	pipelinev1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"knative.dev/pkg/apis"
)

// pipelinesAPIVersion is the Pipeline custom task's (plugins/pipeline).
const pipelinesAPIVersion = "pipelines.tekton-wasm.dev/v1alpha1"

// childCancelLatency bounds how long after the outer PipelineRun is
// cancelled its child PipelineRun may be (issue 10: "within 2 s").
const childCancelLatency = 2 * time.Second

// pipelineRunRule is what the Pipeline custom task needs of the run's
// ServiceAccount.
var pipelineRunRule = rbacv1.PolicyRule{APIGroups: []string{"tekton.dev"}, Resources: []string{"pipelineruns"}, Verbs: []string{"get", "create", "patch"}}

// nestedPipelines creates in ns an inner Pipeline of plugin kinds that
// parses a version (SemVer), waits for pause (Wait) and returns the
// version's major and minor, and an outer Pipeline that runs it as a
// Pipeline custom task, passing its version param on, and returns the
// inner results as its own.
func nestedPipelines(t *testing.T, ns string) {
	t.Helper()
	ctx := context.Background()
	str := func(s string) pipelinev1.ParamValue { return *pipelinev1.NewStructuredValues(s) }
	inner := &pipelinev1.Pipeline{
		ObjectMeta: metav1.ObjectMeta{Name: "inner"},
		Spec: pipelinev1.PipelineSpec{
			Params: pipelinev1.ParamSpecs{{Name: "version", Type: pipelinev1.ParamTypeString}, {Name: "pause", Type: pipelinev1.ParamTypeString}},
			Tasks: []pipelinev1.PipelineTask{{
				Name:    "parse",
				TaskRef: &pipelinev1.TaskRef{APIVersion: semverAPIVersion, Kind: "SemVer"},
				Params:  pipelinev1.Params{{Name: "version", Value: str("$(params.version)")}},
			}, {
				Name:     "pause",
				RunAfter: []string{"parse"},
				TaskSpec: &pipelinev1.EmbeddedTask{TypeMeta: runtime.TypeMeta{APIVersion: waitAPIVersion, Kind: "Wait"}},
				Params:   pipelinev1.Params{{Name: "duration", Value: str("$(params.pause)")}},
			}},
			Results: []pipelinev1.PipelineResult{
				{Name: "major", Value: str("$(tasks.parse.results.major)")},
				{Name: "minor", Value: str("$(tasks.parse.results.minor)")},
			},
		},
	}
	outer := &pipelinev1.Pipeline{
		ObjectMeta: metav1.ObjectMeta{Name: "outer"},
		Spec: pipelinev1.PipelineSpec{
			Params: pipelinev1.ParamSpecs{{Name: "version", Type: pipelinev1.ParamTypeString}, {Name: "pause", Type: pipelinev1.ParamTypeString}},
			Tasks: []pipelinev1.PipelineTask{{
				Name:    "nested",
				TaskRef: &pipelinev1.TaskRef{APIVersion: pipelinesAPIVersion, Kind: "Pipeline"},
				Params: pipelinev1.Params{
					{Name: "pipelineRef", Value: str("inner")},
					{Name: "version", Value: str("$(params.version)")},
					{Name: "pause", Value: str("$(params.pause)")},
				},
			}},
			Results: []pipelinev1.PipelineResult{
				{Name: "release", Value: str("$(tasks.nested.results.major).$(tasks.nested.results.minor)")},
			},
		},
	}
	for _, p := range []*pipelinev1.Pipeline{inner, outer} {
		if _, err := tekton.TektonV1().Pipelines(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := kube.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "builder"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// startOuter starts a PipelineRun of the outer Pipeline as builder.
func startOuter(t *testing.T, ns, name, version, pause string) {
	t.Helper()
	str := func(s string) pipelinev1.ParamValue { return *pipelinev1.NewStructuredValues(s) }
	if _, err := tekton.TektonV1().PipelineRuns(ns).Create(context.Background(), &pipelinev1.PipelineRun{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: pipelinev1.PipelineRunSpec{
			PipelineRef:     &pipelinev1.PipelineRef{Name: "outer"},
			Params:          pipelinev1.Params{{Name: "version", Value: str(version)}, {Name: "pause", Value: str(pause)}},
			TaskRunTemplate: pipelinev1.PipelineTaskRunTemplate{ServiceAccountName: "builder"},
		},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// waitPipelineRunDone waits for PipelineRun name to end and returns it.
func waitPipelineRunDone(t *testing.T, ns, name string, timeout time.Duration) *pipelinev1.PipelineRun {
	t.Helper()
	var pr *pipelinev1.PipelineRun
	eventually(t, timeout, "PipelineRun "+name+" to finish", func(ctx context.Context) (bool, error) {
		var err error
		pr, err = tekton.TektonV1().PipelineRuns(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		c := pr.Status.GetCondition(apis.ConditionSucceeded)
		return c != nil && !c.IsUnknown(), nil
	})
	return pr
}

// children lists the PipelineRuns of ns that a CustomRun owns.
func children(t *testing.T, ns string) []pipelinev1.PipelineRun {
	t.Helper()
	prs, err := tekton.TektonV1().PipelineRuns(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []pipelinev1.PipelineRun
	for _, pr := range prs.Items {
		for _, o := range pr.OwnerReferences {
			if o.Kind == "CustomRun" {
				out = append(out, pr)
			}
		}
	}
	return out
}

// wantOuterSucceeded checks that the outer PipelineRun name succeeded
// with the inner Pipeline's results, through exactly one child.
func wantOuterSucceeded(t *testing.T, ns, name, release string) {
	t.Helper()
	pr := waitPipelineRunDone(t, ns, name, 90*time.Second)
	if c := pr.Status.GetCondition(apis.ConditionSucceeded); !c.IsTrue() {
		t.Fatalf("PipelineRun %s ended %s: %s: %s", name, c.Status, c.Reason, c.Message)
	}
	if len(pr.Status.Results) != 1 || pr.Status.Results[0].Value.StringVal != release {
		t.Errorf("outer results %+v, want release=%s", pr.Status.Results, release)
	}
}

// TestPipelineInPipeline: a Pipeline custom task runs a Pipeline of
// plugin kinds as a child PipelineRun and returns its results to the
// outer PipelineRun. The run's ServiceAccount may not create
// PipelineRuns at first, and the run ends False saying so and naming the
// permission; once a RoleBinding grants it, a new run succeeds.
func TestPipelineInPipeline(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	nestedPipelines(t, ns)

	startOuter(t, ns, "forbidden", "v1.4.2", "100ms")
	pr := waitPipelineRunDone(t, ns, "forbidden", 60*time.Second)
	if c := pr.Status.GetCondition(apis.ConditionSucceeded); !c.IsFalse() {
		t.Fatalf("without RBAC the outer PipelineRun ended %s: %s", c.Status, c.Message)
	}
	cr, err := pipelineCustomRun(context.Background(), ns, "forbidden")
	if err != nil {
		t.Fatal(err)
	}
	c := cr.Status.GetCondition(apis.ConditionSucceeded)
	for _, want := range []string{`the run's service account "builder" may not create pipelineruns (API group tekton.dev) in namespace "` + ns + `"`,
		"grant it create on pipelineruns", `cannot create resource "pipelineruns"`} {
		if c == nil || !strings.Contains(c.Message, want) {
			t.Errorf("the forbidden run's message %q does not say %q", c.Message, want)
		}
	}
	if c == nil || c.Reason != "PipelineRunForbidden" || !c.IsFalse() {
		t.Errorf("the forbidden run's condition: %+v", c)
	}

	grantRole(t, ns, "builder", pipelineRunRule)
	start := time.Now()
	startOuter(t, ns, "granted", "v1.4.2", "100ms")
	wantOuterSucceeded(t, ns, "granted", "1.4")
	t.Logf("nested PipelineRun done %s after its creation", time.Since(start).Round(time.Millisecond))
	kids := children(t, ns)
	if len(kids) != 1 || kids[0].Spec.TaskRunTemplate.ServiceAccountName != "builder" {
		t.Fatalf("children %d, want one made as builder", len(kids))
	}
	if got := kids[0].Status.GetCondition(apis.ConditionSucceeded); !got.IsTrue() {
		t.Errorf("the child ended %+v", got)
	}
}

// TestPipelineInPipelineCancel: cancelling the outer PipelineRun cancels
// the child (the plugin's clean-up call) within childCancelLatency.
func TestPipelineInPipelineCancel(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	ctx := context.Background()
	nestedPipelines(t, ns)
	grantRole(t, ns, "builder", pipelineRunRule)
	startOuter(t, ns, "cancelled", "v1.4.2", "60s")
	var child string
	eventually(t, 60*time.Second, "the child PipelineRun to run its Wait", func(ctx context.Context) (bool, error) {
		kids := children(t, ns)
		if len(kids) != 1 {
			return false, nil
		}
		child = kids[0].Name
		runs, err := tekton.TektonV1beta1().CustomRuns(ns).List(ctx, metav1.ListOptions{LabelSelector: "tekton.dev/pipelineRun=" + child + ",tekton.dev/pipelineTask=pause"})
		return err == nil && len(runs.Items) == 1 && runs.Items[0].Status.StartTime != nil, err
	})
	if _, err := tekton.TektonV1().PipelineRuns(ns).Patch(ctx, "cancelled", "application/merge-patch+json", []byte(`{"spec":{"status":"Cancelled"}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	cancelled := time.Now()
	eventually(t, 30*time.Second, "the child to be cancelled", func(ctx context.Context) (bool, error) {
		pr, err := tekton.TektonV1().PipelineRuns(ns).Get(ctx, child, metav1.GetOptions{})
		return err == nil && pr.Spec.Status == pipelinev1.PipelineRunSpecStatusCancelled, err
	})
	took := time.Since(cancelled)
	t.Logf("child %s cancelled %s after the outer PipelineRun", child, took.Round(time.Millisecond))
	if took > childCancelLatency {
		t.Errorf("the child was cancelled %s after the outer PipelineRun; want within %s", took, childCancelLatency)
	}
	pr := waitPipelineRunDone(t, ns, child, 30*time.Second)
	if c := pr.Status.GetCondition(apis.ConditionSucceeded); !c.IsFalse() || c.Reason != "Cancelled" {
		t.Errorf("the child ended %s: %s: %s", c.Status, c.Reason, c.Message)
	}
}

// TestPipelineInPipelineControllerKilled SIGKILLs the controller while
// the child PipelineRun runs and starts it again: the outer PipelineRun
// succeeds through the same, single child. It runs alone, like
// TestControllerKilled.
func TestPipelineInPipelineControllerKilled(t *testing.T) {
	requireRigController(t)
	ns := newNamespace(t)
	nestedPipelines(t, ns)
	grantRole(t, ns, "builder", pipelineRunRule)
	startOuter(t, ns, "survivor", "v2.7.1", "4s")
	var before types.UID
	eventually(t, 60*time.Second, "the child PipelineRun to start", func(ctx context.Context) (bool, error) {
		kids := children(t, ns)
		if len(kids) == 1 {
			before = kids[0].UID
		}
		return len(kids) == 1, nil
	})
	rig(t, "kill-controller")
	killed := time.Now()
	time.Sleep(2 * time.Second)
	rig(t, "start-controller")
	t.Logf("controller down for %s", time.Since(killed).Round(time.Millisecond))
	wantOuterSucceeded(t, ns, "survivor", "2.7")
	if kids := children(t, ns); len(kids) != 1 || kids[0].UID != before {
		names := []string{}
		for _, k := range kids {
			names = append(names, k.Name+" "+string(k.UID))
		}
		t.Errorf("children %v, want exactly the one made before the kill (%s)", names, before)
	}
}
