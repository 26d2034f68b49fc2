// Package kindmap maps an apiVersion/kind to its resource and scope
// through the cluster's discovery: cached in memory, and refreshed when a
// kind is not found (a CRD installed since), at most once per
// ResetInterval so that a stream of unknown kinds cannot turn into a
// stream of discovery requests.
package kindmap

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/restmapper"
	"k8s.io/utils/clock"
)

// ResetInterval is the shortest time between two discovery refreshes
// triggered by an unknown kind.
const ResetInterval = 10 * time.Second

// Mapper maps kinds to resources. It is safe for concurrent use.
type Mapper struct {
	mapper meta.ResettableRESTMapper
	clock  clock.PassiveClock

	mu        sync.Mutex
	lastReset time.Time
}

// New returns a Mapper discovering through d.
func New(d discovery.DiscoveryInterface, clk clock.PassiveClock) *Mapper {
	return &Mapper{mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(d)), clock: clk}
}

// Mapping maps gvk to its resource, refreshing discovery once when the
// kind is unknown and the last refresh is ResetInterval old. A kind the
// cluster does not serve is an error for which meta.IsNoMatchError
// holds; any other error is discovery's.
func (m *Mapper) Mapping(gvk schema.GroupVersionKind) (*meta.RESTMapping, error) {
	rm, err := m.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if meta.IsNoMatchError(err) && m.mayReset() {
		m.mapper.Reset()
		rm, err = m.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	}
	return rm, err
}

func (m *Mapper) mayReset() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.clock.Now()
	if !m.lastReset.IsZero() && now.Sub(m.lastReset) < ResetInterval {
		return false
	}
	m.lastReset = now
	return true
}
