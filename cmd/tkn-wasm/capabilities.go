package main

import (
	"fmt"
	"io"

	"github.com/tekton-wasm/tekton-wasm/runtime/capability/httpcap"
	"github.com/tekton-wasm/tekton-wasm/runtime/engine"
	"github.com/tekton-wasm/tekton-wasm/runtime/manifest"
)

// allowHostSetting is what an HTTP denial under tkn-wasm run tells the
// user to change.
const allowHostSetting = "--allow-host or " + httpcap.DefaultSetting

// httpCapability is what run grants the plugin p: the HTTP capability if
// its manifest grants it (capabilities.http) or --allow-host adds hosts,
// with a client allowing the manifest's hosts and those. The client is
// nil when nothing is granted. A CA bundle the manifest names lives in a
// ConfigMap, which there is no cluster to read from: run says so on
// stderr and trusts the system's roots only.
func httpCapability(p *manifest.Manifest, allowHosts []string, stderr io.Writer) (engine.Grants, *httpcap.Client, error) {
	h := p.Capabilities.HTTP
	if h == nil && len(allowHosts) == 0 {
		return engine.Grants{}, nil, nil
	}
	if h != nil && h.CABundle != nil {
		fmt.Fprintf(stderr, "tkn-wasm: plugin %q trusts the CA bundle in ConfigMap %s key %s in a cluster; here its TLS connections trust the system's roots only\n",
			p.Name, h.CABundle.ConfigMap, h.CABundle.Key)
	}
	policy, err := h.Policy(nil, allowHosts...)
	if err != nil {
		return engine.Grants{}, nil, usagef("--allow-host: %v", err)
	}
	client, err := httpcap.New(policy, httpcap.Options{Setting: allowHostSetting})
	if err != nil {
		return engine.Grants{}, nil, err
	}
	return engine.Grants{HTTP: true}, client, nil
}
