package metrics

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

func TestRecords(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	m, err := New(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	m.RunEnded(ctx, "wait.tekton-wasm.dev/v1alpha1", "Wait", OutcomeSucceeded)
	m.RunEnded(ctx, "wait.tekton-wasm.dev/v1alpha1", "Wait", OutcomeSucceeded)
	m.Invoked(ctx, "wait", 3*time.Millisecond, ResultRunning)
	m.Compiled(ctx, "wait", 800*time.Millisecond)
	m.LoadFailed(ctx, "tekton-wasm/broken")
	m.CapabilityCalled(ctx, "http", "http", "EDENIED")
	if err := m.ObserveInvocations(func() (int, int) { return 4, 2 }); err != nil {
		t.Fatal(err)
	}

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, sm := range rm.ScopeMetrics {
		for _, md := range sm.Metrics {
			switch data := md.Data.(type) {
			case metricdata.Sum[int64]:
				for _, dp := range data.DataPoints {
					got[md.Name] = attrs(dp.Attributes) + " " + itoa(dp.Value)
				}
			case metricdata.Gauge[int64]:
				for _, dp := range data.DataPoints {
					got[md.Name] = itoa(dp.Value)
				}
			case metricdata.Histogram[float64]:
				for _, dp := range data.DataPoints {
					got[md.Name] = attrs(dp.Attributes) + " count=" + itoa(int64(dp.Count)) + " unit=" + md.Unit
				}
			}
		}
	}
	want := map[string]string{
		"tekton_wasm.runs":                    "api_version=wait.tekton-wasm.dev/v1alpha1,kind=Wait,outcome=succeeded 2",
		"tekton_wasm.invocation.duration":     "plugin=wait,result=running count=1 unit=s",
		"tekton_wasm.plugin.compile.duration": "plugin=wait count=1 unit=s",
		"tekton_wasm.plugin.load_errors":      "configmap=tekton-wasm/broken 1",
		"tekton_wasm.capability.calls":        "capability=http,plugin=http,result=EDENIED 1",
		"tekton_wasm.invocations.queued":      "4",
		"tekton_wasm.invocations.active":      "2",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("metrics (-want +got):\n%s", d)
	}
}

func TestNilRecordsNothing(t *testing.T) {
	var m *Metrics
	m.RunEnded(context.Background(), "a/v1", "K", OutcomeFailed)
	m.Invoked(context.Background(), "p", time.Second, ResultFailed)
	m.Compiled(context.Background(), "p", time.Second)
	m.LoadFailed(context.Background(), "ns/cm")
	m.CapabilityCalled(context.Background(), "p", "http", "success")
	if err := m.ObserveInvocations(func() (int, int) { return 0, 0 }); err != nil {
		t.Fatal(err)
	}
}

func attrs(s attribute.Set) string {
	out := ""
	for _, kv := range s.ToSlice() {
		if out != "" {
			out += ","
		}
		out += string(kv.Key) + "=" + kv.Value.Emit()
	}
	return out
}

func itoa(v int64) string { return attribute.Int64Value(v).Emit() }
