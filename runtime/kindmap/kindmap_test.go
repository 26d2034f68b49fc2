package kindmap

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	fakediscovery "k8s.io/client-go/discovery/fake"
	clienttesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"
)

// countingDiscovery counts the discoveries of the cluster's groups: one
// per refresh of the Mapper's cache.
type countingDiscovery struct {
	discovery.DiscoveryInterface
	groups int
}

func (c *countingDiscovery) ServerGroups() (*metav1.APIGroupList, error) {
	c.groups++
	return c.DiscoveryInterface.ServerGroups()
}

// A stream of kinds the cluster does not serve (what a hostile plugin can
// ask for) refreshes discovery at most once per ResetInterval; a kind
// installed since the last refresh is found after the interval.
func TestUnknownKindsRefreshAtMostOncePerInterval(t *testing.T) {
	fake := &fakediscovery.FakeDiscovery{Fake: &clienttesting.Fake{}}
	fake.Resources = []*metav1.APIResourceList{{
		GroupVersion: "v1",
		APIResources: []metav1.APIResource{{Name: "configmaps", Kind: "ConfigMap", Namespaced: true, Verbs: []string{"get"}}},
	}}
	d := &countingDiscovery{DiscoveryInterface: fake}
	clk := clocktesting.NewFakePassiveClock(time.Unix(0, 0))
	m := New(d, clk)

	if _, err := m.Mapping(schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}); err != nil {
		t.Fatal(err)
	}
	first := d.groups
	unknown := schema.GroupVersionKind{Group: "example.com", Version: "v1", Kind: "Widget"}
	for i := 0; i < 100; i++ {
		if _, err := m.Mapping(unknown); !meta.IsNoMatchError(err) {
			t.Fatalf("mapping an unknown kind: %v, want a no-match error", err)
		}
	}
	if refreshes := d.groups - first; refreshes > 1 {
		t.Errorf("100 unknown kinds within ResetInterval refreshed discovery %d times, want at most 1", refreshes)
	}

	fake.Resources = append(fake.Resources, &metav1.APIResourceList{
		GroupVersion: "example.com/v1",
		APIResources: []metav1.APIResource{{Name: "widgets", Kind: "Widget", Namespaced: true, Verbs: []string{"get"}}},
	})
	if _, err := m.Mapping(unknown); !meta.IsNoMatchError(err) {
		t.Fatalf("a kind installed within ResetInterval of the last refresh: %v, want still unknown", err)
	}
	clk.SetTime(clk.Now().Add(ResetInterval))
	rm, err := m.Mapping(unknown)
	if err != nil || rm.Resource.Resource != "widgets" {
		t.Fatalf("a kind installed ResetInterval after the last refresh: %v, %v; want widgets", rm, err)
	}
}
