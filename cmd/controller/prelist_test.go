package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"

	"github.com/tekton-wasm/tekton-wasm/runtime/manifest"
)

// TestPrelistSpeaksProtobuf checks that the list the controller starts
// before sharedmain asks for the plugin ConfigMaps of its namespace in
// protobuf, and keeps the list and its client for the registry.
func TestPrelistSpeaksProtobuf(t *testing.T) {
	info, ok := runtime.SerializerInfoForMediaType(scheme.Codecs.SupportedMediaTypes(), runtime.ContentTypeProtobuf)
	if !ok {
		t.Fatal("no protobuf serializer")
	}
	list := &corev1.ConfigMapList{Items: []corev1.ConfigMap{{ObjectMeta: metav1.ObjectMeta{Namespace: systemNS, Name: "p"}, BinaryData: map[string][]byte{"m.wasm": []byte("\x00asm")}}}}
	list.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("ConfigMapList"))
	seen := make(chan *http.Request, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- r
		w.Header().Set("Content-Type", runtime.ContentTypeProtobuf)
		if err := info.Serializer.Encode(list, w); err != nil {
			t.Error(err)
		}
	}))
	defer srv.Close()

	c := newWiring(options{Namespace: systemNS})
	if err := c.prelist(context.Background(), &rest.Config{Host: srv.URL}); err != nil {
		t.Fatal(err)
	}
	r := <-seen
	if want := "/api/v1/namespaces/" + systemNS + "/configmaps"; r.URL.Path != want || r.URL.Query().Get("labelSelector") != manifest.PluginLabel+"="+manifest.PluginLabelValue {
		t.Errorf("the prelist asked for %s; want %s?labelSelector=%s=%s", r.URL, want, manifest.PluginLabel, manifest.PluginLabelValue)
	}
	if accept := r.Header.Get("Accept"); !strings.HasPrefix(accept, runtime.ContentTypeProtobuf) {
		t.Errorf("the prelist accepts %q; want protobuf first", accept)
	}
	if c.prelisted == nil || c.pluginKube == nil {
		t.Fatal("prelist set no list or client for the registry")
	}
	got, err := c.pluginKube.CoreV1().ConfigMaps(systemNS).List(context.Background(), metav1.ListOptions{})
	<-seen
	if err != nil || len(got.Items) != 1 || string(got.Items[0].BinaryData["m.wasm"]) != "\x00asm" {
		t.Errorf("the registry's client listed %+v, %v; want the ConfigMap served", got, err)
	}
}
