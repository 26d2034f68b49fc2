package pipelinerun

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"knative.dev/pkg/apis"
)

// waitTasks is a PipelineRun of n tasks of the Go wait plugin with 0s
// durations, each after the one before it when chained.
func waitTasks(n int, chained bool) string {
	var b strings.Builder
	b.WriteString(header + "spec:\n  pipelineSpec:\n    tasks:\n")
	for i := range n {
		fmt.Fprintf(&b, "    - name: t%d\n      taskRef: {apiVersion: wait.tekton-wasm.dev/v1alpha1, kind: Wait}\n      params: [{name: duration, value: 0s}]\n", i)
		if chained && i > 0 {
			fmt.Fprintf(&b, "      runAfter: [t%d]\n", i-1)
		}
	}
	return b.String()
}

// BenchmarkPipelineRun times a whole PipelineRun, from the spec to its
// final status, with the plugin compiled once beforehand (as a warm
// compilation cache makes it for tkn-wasm run).
func BenchmarkPipelineRun(b *testing.B) {
	for _, bc := range []struct {
		name    string
		n       int
		chained bool
	}{{"chain-10", 10, true}, {"fan-out-50", 50, false}} {
		b.Run(bc.name, func(b *testing.B) {
			r := &Runner{Plugins: plugins(b)}
			doc := waitTasks(bc.n, bc.chained)
			for b.Loop() {
				pr := parse(b, doc)
				if err := r.Run(context.Background(), pr); err != nil {
					b.Fatal(err)
				}
				if !pr.Status.GetCondition(apis.ConditionSucceeded).IsTrue() {
					b.Fatalf("the PipelineRun failed: %+v", pr.Status.GetCondition(apis.ConditionSucceeded))
				}
			}
		})
	}
}
