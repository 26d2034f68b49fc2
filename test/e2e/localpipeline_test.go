//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	pipelinev1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	"github.com/tektoncd/pipeline/pkg/apis/pipeline/v1beta1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kyaml "k8s.io/apimachinery/pkg/util/yaml"
	"knative.dev/pkg/apis"
	"sigs.k8s.io/yaml"
)

// TestLocalPipelineRunMatchesCluster runs example PipelineRuns unchanged
// both ways: with `tkn-wasm run` (no cluster) and on the rig, where
// Tekton's controller makes the CustomRuns and ours runs them. Both must
// end the same: the PipelineRun's Succeeded condition, its results and
// skipped tasks (with reasons), and each pipeline task's CustomRun
// (condition, results, attempts).
func TestLocalPipelineRunMatchesCluster(t *testing.T) {
	t.Parallel()
	tkn := filepath.Join(repoRoot, "bin", "tkn-wasm")
	if _, err := os.Stat(tkn); err != nil {
		t.Fatalf("%v (run `make build`; `make e2e` does)", err)
	}
	for _, example := range []string{
		"fan-out-fan-in",  // DAG fan-out and fan-in, string, array and object params, results
		"when-finally",    // pipelineRef, when skips, a failed task, finally with $(tasks.X.status)
		"retries",         // per-task timeout and retries, finally after a failure
		"timeout",         // timeouts.pipeline cancels the running task
		"finally-timeout", // timeouts.finally cancels the running finally task
	} {
		t.Run(example, func(t *testing.T) {
			t.Parallel()
			file := filepath.Join(repoRoot, "examples", "pipelines", example+".yaml")
			local := outcomeOf(t, runLocally(t, tkn, file))
			cluster := outcomeOf(t, runOnCluster(t, file))
			if d := cmp.Diff(local, cluster); d != "" {
				t.Errorf("%s ends differently (-tkn-wasm run +cluster):\n%s", example, d)
			}
			t.Logf("both ways: %s %s, %d CustomRuns, %d skipped", local.Status, local.Reason, len(local.Tasks), len(local.Skipped))
		})
	}
}

// pipelineOutcome is what must not depend on where a PipelineRun ran.
type pipelineOutcome struct {
	Status, Reason, Message string
	Results                 map[string]string // the pipeline's results, as JSON
	Skipped                 map[string]string // reason by task
	Tasks                   map[string]runOutcome
}

// runOutcome is the same for a pipeline task's CustomRun.
type runOutcome struct {
	Status, Reason, Message string
	Results                 map[string]string
	Attempts                int
}

// ranPipeline is a PipelineRun as it ended, and its CustomRuns.
type ranPipeline struct {
	pr   *pipelinev1.PipelineRun
	runs []v1beta1.CustomRun
}

func outcomeOf(t *testing.T, r ranPipeline) pipelineOutcome {
	t.Helper()
	c := r.pr.Status.GetCondition(apis.ConditionSucceeded)
	if c == nil {
		t.Fatalf("PipelineRun %s has no Succeeded condition", r.pr.Name)
	}
	o := pipelineOutcome{
		Status: string(c.Status), Reason: c.Reason, Message: c.Message,
		Results: map[string]string{}, Skipped: map[string]string{}, Tasks: map[string]runOutcome{},
	}
	for _, res := range r.pr.Status.Results {
		b, _ := json.Marshal(res.Value)
		o.Results[res.Name] = string(b)
	}
	for _, s := range r.pr.Status.SkippedTasks {
		o.Skipped[s.Name] = string(s.Reason)
	}
	for _, run := range r.runs {
		task := run.Labels["tekton.dev/pipelineTask"]
		if _, twice := o.Tasks[task]; twice || task == "" {
			t.Fatalf("CustomRun %s: pipeline task %q has another run, or none is named", run.Name, task)
		}
		rc := run.Status.GetCondition(apis.ConditionSucceeded)
		if rc == nil {
			t.Fatalf("CustomRun %s has no Succeeded condition", run.Name)
		}
		ro := runOutcome{Status: string(rc.Status), Reason: rc.Reason, Message: rc.Message,
			Results: map[string]string{}, Attempts: len(run.Status.RetriesStatus) + 1}
		for _, res := range run.Status.Results {
			ro.Results[res.Name] = res.Value
		}
		o.Tasks[task] = ro
	}
	if len(r.pr.Status.ChildReferences) != len(r.runs) {
		t.Errorf("PipelineRun %s lists %d childReferences for %d CustomRuns", r.pr.Name, len(r.pr.Status.ChildReferences), len(r.runs))
	}
	return o
}

// runLocally runs file with tkn-wasm run -o json --all and the plugins
// the rig serves.
func runLocally(t *testing.T, tkn, file string) ranPipeline {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, tkn, "run", "-f", file, "--plugins", pluginDir, "-o", "json", "--all", "--progress", "plain")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 1) {
		t.Fatalf("tkn-wasm run -f %s: %v\n%s", file, err, stderr.String())
	}
	var list struct{ Items []json.RawMessage }
	if err := json.Unmarshal(stdout.Bytes(), &list); err != nil || len(list.Items) == 0 {
		t.Fatalf("tkn-wasm run -f %s printed no List (%v):\n%s", file, err, stdout.String())
	}
	var r ranPipeline
	if err := json.Unmarshal(list.Items[0], &r.pr); err != nil {
		t.Fatal(err)
	}
	for _, item := range list.Items[1:] {
		var run v1beta1.CustomRun
		if err := json.Unmarshal(item, &run); err != nil {
			t.Fatal(err)
		}
		r.runs = append(r.runs, run)
	}
	return r
}

// runOnCluster creates the Pipelines and the PipelineRun of file in a
// namespace of t's, and waits for the PipelineRun and its CustomRuns to
// end.
func runOnCluster(t *testing.T, file string) ranPipeline {
	t.Helper()
	ctx := context.Background()
	ns := newNamespace(t)
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var name string
	docs := kyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(b)))
	for {
		doc, err := docs.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		var meta metav1.TypeMeta
		if err := yaml.Unmarshal(doc, &meta); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		var p pipelinev1.Pipeline
		var pr pipelinev1.PipelineRun
		switch meta.Kind {
		case "Pipeline":
			err = yaml.UnmarshalStrict(doc, &p)
			if err == nil {
				_, err = tekton.TektonV1().Pipelines(ns).Create(ctx, &p, metav1.CreateOptions{})
			}
		case "PipelineRun":
			err = yaml.UnmarshalStrict(doc, &pr)
			if err == nil {
				_, err = tekton.TektonV1().PipelineRuns(ns).Create(ctx, &pr, metav1.CreateOptions{})
			}
			name = pr.Name
		default:
			err = fmt.Errorf("unexpected %s", meta.Kind)
		}
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
	}
	r := ranPipeline{pr: waitPipelineRunDone(t, ns, name, time.Minute)}
	// A PipelineRun that timed out has ended while the CustomRuns it
	// cancelled are ending.
	eventually(t, 30*time.Second, "the CustomRuns of "+name+" to end", func(ctx context.Context) (bool, error) {
		runs, err := tekton.TektonV1beta1().CustomRuns(ns).List(ctx, metav1.ListOptions{LabelSelector: "tekton.dev/pipelineRun=" + name})
		if err != nil {
			return false, err
		}
		for _, run := range runs.Items {
			if !run.IsDone() {
				return false, nil
			}
		}
		r.runs = runs.Items
		return true, nil
	})
	return r
}
