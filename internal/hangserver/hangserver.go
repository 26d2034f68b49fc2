// Package hangserver is a test HTTP server that never answers: the
// stand-in for a hung remote system in the tests of the HTTP capability
// (runtime/capability/httpcap, runtime/engine).
package hangserver

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// Start starts a server that accepts every request and never answers it,
// until the client gives up or the test ends (Cleanup closes it).
func Start(tb testing.TB) *httptest.Server {
	release := make(chan struct{})
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	tb.Cleanup(func() {
		close(release)
		s.Close()
	})
	return s
}
