package reconciler

import (
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/tekton-wasm/tekton-wasm/runtime/registry"
)

// Pace is a rate of plugin calls: a token bucket holding Burst calls,
// refilled at QPS calls per second. Each call costs API requests (a
// status write, and the reads and SubjectAccessReviews of its workspaces
// and customRef), all on the controller's one client rate limit
// (-kube-api-qps), so pacing the calls a plugin asks for (Running with a
// short requeueAfter, a quick Failed with retries left) keeps a few runs
// from starving every other.
type Pace struct {
	QPS   float64
	Burst int
}

// The default paces: of the flags -run-call-qps and -run-call-burst, and
// of a Reconciler given no PluginPace (cmd/controller gives it the
// client budget unless -plugin-call-qps or -plugin-call-burst is set).
const (
	// DefaultRunCallQPS and DefaultRunCallBurst pace one run: after a burst
	// of 5 calls, one call a second. A plugin asking to be called back
	// sooner (requeueAfter below a second) is called at this pace instead.
	DefaultRunCallQPS   = 1
	DefaultRunCallBurst = 5
	// DefaultPluginCallQPS and DefaultPluginCallBurst pace all the runs of
	// one plugin together: 20 calls a second after a burst of 40, the
	// controller's default client budget. The runs of a plugin
	// come due about as fast as they started, which the client budget
	// bounds; a slower pace wakes runs started together late.
	DefaultPluginCallQPS   = 20
	DefaultPluginCallBurst = 40
)

// limiter returns a full token bucket of p, or of def if p is zero.
func (p Pace) limiter(def Pace) *rate.Limiter {
	if p == (Pace{}) {
		p = def
	}
	return rate.NewLimiter(rate.Limit(p.QPS), p.Burst)
}

// callAt returns when the run of st may make its next call to the plugin
// serving kind, reserving the call's tokens in the run's bucket
// (Reconciler.RunPace) and in the plugin's (Reconciler.PluginPace) the
// first time it is asked for that call. A run's first call in this
// replica takes no tokens (it was paid for by creating the run); every
// later one does (a call after Running, a retry). Called from the run's
// reconcile only.
func (r *Reconciler) callAt(st *runState, kind registry.Kind, now time.Time) time.Time {
	if !st.called {
		return now
	}
	if st.callAt.IsZero() {
		if st.pace == nil {
			st.pace = r.RunPace.limiter(Pace{DefaultRunCallQPS, DefaultRunCallBurst})
		}
		st.callAt = now.Add(max(st.pace.ReserveN(now, 1).DelayFrom(now), r.plugins.reserve(kind, r.PluginPace, now)))
	}
	return st.callAt
}

// calledNow records that the run of st made the call callAt allowed.
func (st *runState) calledNow() {
	st.called, st.callAt = true, time.Time{}
}

// pluginPaces holds the token bucket of each plugin's calls. It is safe
// for concurrent use (reconciles of different runs share it).
type pluginPaces struct {
	mu      sync.Mutex
	buckets map[registry.Kind]*rate.Limiter
	sweepAt int // the size of buckets at which idle buckets are dropped
}

// minSweep is the number of plugin buckets kept before idle ones are
// dropped.
const minSweep = 64

// reserve takes a token from kind's bucket and returns how long after now
// it is due.
func (p *pluginPaces) reserve(kind registry.Kind, pace Pace, now time.Time) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	b := p.buckets[kind]
	if b == nil {
		if len(p.buckets) >= p.sweepAt {
			p.sweep(now)
		}
		if p.buckets == nil {
			p.buckets = map[registry.Kind]*rate.Limiter{}
		}
		b = pace.limiter(Pace{DefaultPluginCallQPS, DefaultPluginCallBurst})
		p.buckets[kind] = b
	}
	return b.ReserveN(now, 1).DelayFrom(now)
}

// sweep drops the buckets that are full again (a fresh bucket is the
// same), so that plugins that come and go leave nothing behind.
func (p *pluginPaces) sweep(now time.Time) {
	for k, b := range p.buckets {
		if b.TokensAt(now) >= float64(b.Burst()) {
			delete(p.buckets, k)
		}
	}
	p.sweepAt = max(minSweep, 2*len(p.buckets))
}
