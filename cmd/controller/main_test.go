package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestProbes(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	ready := false
	h := probes(ctx, func() bool { return ready })
	status := func(path string) int {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec.Code
	}
	for _, step := range []struct {
		name                  string
		do                    func()
		wantHealth, wantReady int
	}{
		{"plugins loading", func() {}, 200, 503},
		{"plugins loaded", func() { ready = true }, 200, 200},
		{"shutting down", cancel, 503, 503},
	} {
		step.do()
		if h, r := status("/health"), status("/readiness"); h != step.wantHealth || r != step.wantReady {
			t.Errorf("%s: /health %d, /readiness %d; want %d, %d", step.name, h, r, step.wantHealth, step.wantReady)
		}
	}
}
