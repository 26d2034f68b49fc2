// Package apiservertest serves the little of a kube-apiserver that the
// tests of the Kubernetes capability's wiring need (tkn-wasm run
// --kubeconfig, the reconciler's sessions, the engine's host function):
// discovery of the resources it is given, and a handler of the test's
// for everything else. It records each request's method, path and
// impersonated user. What a real apiserver does with the requests (RBAC,
// impersonation, apply) is tested on the rig (test/e2e).
package apiservertest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// Resource is a resource the server's discovery lists.
type Resource struct {
	GroupVersion string // "v1", "tekton.dev/v1"
	Name         string // plural: "pipelineruns"
	Kind         string
	Namespaced   bool
}

// Request is what the server saw of one request.
type Request struct {
	Method, Path string
	// User is the Impersonate-User header; "" for none.
	User string
}

// Server is the test apiserver.
type Server struct {
	*httptest.Server
	mu       sync.Mutex
	requests []Request
}

// New starts a server whose discovery lists resources and which passes
// every other request to handle; t's Cleanup stops it.
func New(t testing.TB, resources []Resource, handle http.HandlerFunc) *Server {
	s := &Server{}
	versions := map[string][]map[string]any{} // by group version
	for _, r := range resources {
		versions[r.GroupVersion] = append(versions[r.GroupVersion], map[string]any{
			"name": r.Name, "kind": r.Kind, "namespaced": r.Namespaced, "verbs": []string{"get", "list", "create", "patch", "delete"},
		})
	}
	core := []string{}
	groups := []map[string]any{}
	for gv := range versions {
		group, version, ok := strings.Cut(gv, "/")
		if !ok {
			core = append(core, gv)
			continue
		}
		v := map[string]string{"groupVersion": gv, "version": version}
		groups = append(groups, map[string]any{"name": group, "versions": []any{v}, "preferredVersion": v})
	}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.Path, User: r.Header.Get("Impersonate-User")})
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		gv := strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, "/apis/"), "/api/")
		switch {
		case r.URL.Path == "/api":
			json.NewEncoder(w).Encode(map[string]any{"kind": "APIVersions", "versions": core})
		case r.URL.Path == "/apis":
			json.NewEncoder(w).Encode(map[string]any{"kind": "APIGroupList", "groups": groups})
		case versions[gv] != nil:
			json.NewEncoder(w).Encode(map[string]any{"kind": "APIResourceList", "groupVersion": gv, "resources": versions[gv]})
		default:
			handle(w, r)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

// Requests returns the requests the server saw, discovery's included.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}
