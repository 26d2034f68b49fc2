package ociplugin

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
)

func TestCache(t *testing.T) {
	noDockerConfig(t)
	var requests atomic.Int32
	host := newRegistry(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet && r.URL.Path != "/v2/" {
				requests.Add(1)
			}
			h.ServeHTTP(w, r)
		})
	})
	ctx := context.Background()
	c := &Client{}
	pushed, err := c.Push(ctx, host+"/plugins/wait:v1", plugin, module)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pull := func(what string, wantRequests bool) {
		t.Helper()
		requests.Store(0)
		// A new Cache each time, as after a restart.
		a, err := (&Cache{Dir: dir, Client: c}).Pull(ctx, pushed)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if a.Ref != pushed || a.Manifest == nil || a.Manifest.Kind != "Wait" {
			t.Errorf("%s: %+v; want the pushed artifact", what, a)
		}
		if got := requests.Load() > 0; got != wantRequests {
			t.Errorf("%s: %d registry requests; want any: %v", what, requests.Load(), wantRequests)
		}
	}
	pull("first pull", true)
	pull("cached", false)

	entry := filepath.Join(dir, "sha256", strings.TrimPrefix(pushed.DigestStr(), "sha256:"))
	for _, file := range []string{moduleFile, manifestFile} {
		if err := os.WriteFile(filepath.Join(entry, file), []byte("\x00asm\x01\x00\x00\x00"), 0o644); err != nil {
			t.Fatal(err)
		}
		pull("damaged "+file, true)
		pull("repaired "+file, false)
	}
	if err := os.RemoveAll(entry); err != nil {
		t.Fatal(err)
	}
	pull("removed", true)

	other, err := name.NewDigest(host + "/plugins/wait@sha256:" + strings.Repeat("0", 64))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (&Cache{Dir: dir, Client: c}).Pull(ctx, other); err == nil || !strings.Contains(err.Error(), "pulling") {
		t.Errorf("Pull of a missing artifact = %v", err)
	}
}
