// Package metrics owns the controller's own OpenTelemetry instruments:
// runs by custom-task kind and outcome, invocation durations, invocations
// queued and in flight, plugin compile times, plugin load errors and host
// capability calls.
//
// Instruments come from a metric.MeterProvider; under knative's sharedmain
// that is the global provider, exported as configured in the
// config-observability ConfigMap (metrics-protocol: prometheus serves them
// on METRICS_PROMETHEUS_PORT, default 9090, with dots turned into
// underscores and unit suffixes added, e.g.
// tekton_wasm_invocation_duration_seconds). Recording costs one map
// lookup and an atomic add; a nil *Metrics records nothing.
package metrics

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Scope is the instrumentation scope of every instrument.
const Scope = "github.com/tekton-wasm/tekton-wasm/runtime"

// Outcomes of a run, the "outcome" attribute of tekton_wasm.runs.
const (
	OutcomeSucceeded = "succeeded"
	OutcomeFailed    = "failed"
	OutcomeCancelled = "cancelled"
	OutcomeTimedOut  = "timed_out"
)

// Results of one invocation, the "result" attribute of
// tekton_wasm.invocation.duration: the plugin's response status, or why
// the host stopped it.
const (
	ResultSucceeded = "succeeded"
	ResultFailed    = "failed"
	ResultRunning   = "running"
	ResultTimedOut  = "timed_out"
	ResultCancelled = "cancelled"
)

var (
	invocationBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600}
	compileBuckets    = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}
)

// Metrics records the controller's measurements.
type Metrics struct {
	runs        metric.Int64Counter
	invocations metric.Float64Histogram
	compiles    metric.Float64Histogram
	loadErrors  metric.Int64Counter
	capCalls    metric.Int64Counter
	meter       metric.Meter
}

// New creates the instruments on mp.
func New(mp metric.MeterProvider) (*Metrics, error) {
	m := &Metrics{meter: mp.Meter(Scope)}
	var err error
	if m.runs, err = m.meter.Int64Counter("tekton_wasm.runs",
		metric.WithDescription("CustomRuns that ended, by custom-task apiVersion, kind and outcome (succeeded, failed, cancelled, timed_out)"),
		metric.WithUnit("{run}")); err != nil {
		return nil, err
	}
	if m.invocations, err = m.meter.Float64Histogram("tekton_wasm.invocation.duration",
		metric.WithDescription("Wall time of one plugin invocation, from the start of the sandbox to its response, by plugin and result"),
		metric.WithUnit("s"), metric.WithExplicitBucketBoundaries(invocationBuckets...)); err != nil {
		return nil, err
	}
	if m.compiles, err = m.meter.Float64Histogram("tekton_wasm.plugin.compile.duration",
		metric.WithDescription("Time to compile one plugin version (from the on-disk cache when it holds the module)"),
		metric.WithUnit("s"), metric.WithExplicitBucketBoundaries(compileBuckets...)); err != nil {
		return nil, err
	}
	if m.loadErrors, err = m.meter.Int64Counter("tekton_wasm.plugin.load_errors",
		metric.WithDescription("Plugin ConfigMaps that could not be loaded (bad manifest or module, digest mismatch, duplicate kind, compile failure)"),
		metric.WithUnit("{error}")); err != nil {
		return nil, err
	}
	if m.capCalls, err = m.meter.Int64Counter("tekton_wasm.capability.calls",
		metric.WithDescription("Host capability calls of plugins (HTTP requests, ...), by plugin, capability and result: success or the errno the plugin got (EDENIED, ETOOLARGE, ...)"),
		metric.WithUnit("{call}")); err != nil {
		return nil, err
	}
	return m, nil
}

// CapabilityCalled counts one call of plugin to a host capability
// (hostabi.CapabilityHTTP, ...) that ended with result: "success", or
// the name of the errno the plugin received.
func (m *Metrics) CapabilityCalled(ctx context.Context, plugin, capability, result string) {
	if m == nil {
		return
	}
	m.capCalls.Add(ctx, 1, metric.WithAttributes(
		attribute.String("plugin", plugin), attribute.String("capability", capability), attribute.String("result", result)))
}

// RunEnded counts a run of apiVersion/kind that ended with outcome.
func (m *Metrics) RunEnded(ctx context.Context, apiVersion, kind, outcome string) {
	if m == nil {
		return
	}
	m.runs.Add(ctx, 1, metric.WithAttributes(
		attribute.String("api_version", apiVersion), attribute.String("kind", kind), attribute.String("outcome", outcome)))
}

// Invoked records one invocation of plugin that took d and ended with
// result.
func (m *Metrics) Invoked(ctx context.Context, plugin string, d time.Duration, result string) {
	if m == nil {
		return
	}
	m.invocations.Record(ctx, d.Seconds(), metric.WithAttributes(attribute.String("plugin", plugin), attribute.String("result", result)))
}

// Compiled records that compiling plugin took d.
func (m *Metrics) Compiled(ctx context.Context, plugin string, d time.Duration) {
	if m == nil {
		return
	}
	m.compiles.Record(ctx, d.Seconds(), metric.WithAttributes(attribute.String("plugin", plugin)))
}

// LoadFailed counts a plugin ConfigMap that could not be loaded.
func (m *Metrics) LoadFailed(ctx context.Context, configMap string) {
	if m == nil {
		return
	}
	m.loadErrors.Add(ctx, 1, metric.WithAttributes(attribute.String("configmap", configMap)))
}

// ObserveInvocations reports, at every collection, the invocations waiting
// for a concurrency slot (tekton_wasm.invocations.queued) and those
// running (tekton_wasm.invocations.active), as returned by counts.
func (m *Metrics) ObserveInvocations(counts func() (queued, active int)) error {
	if m == nil {
		return nil
	}
	queued, err := m.meter.Int64ObservableGauge("tekton_wasm.invocations.queued",
		metric.WithDescription("Plugin invocations waiting for a global or per-plugin concurrency slot"), metric.WithUnit("{invocation}"))
	if err != nil {
		return err
	}
	active, err := m.meter.Int64ObservableGauge("tekton_wasm.invocations.active",
		metric.WithDescription("Plugin invocations running in a sandbox"), metric.WithUnit("{invocation}"))
	if err != nil {
		return err
	}
	_, err = m.meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		q, a := counts()
		o.ObserveInt64(queued, int64(q))
		o.ObserveInt64(active, int64(a))
		return nil
	}, queued, active)
	return err
}
