//go:build wasip1

package guest

import _ "unsafe" // for go:linkname

// The reactor entry point. Built with -buildmode=c-shared, a plugin is a
// WASI reactor: its _initialize starts the Go runtime and runs package
// initialization but not main, and the host then calls tekton_run once per
// instance, which runs main, whose Run serves the call and exits. Built
// without, the plugin is a WASI command whose _start does all of it; it
// exports tekton_run too, which the host ignores. So the one source, with
// Run in main, builds either way.

// mainMain is the plugin's func main.
//
//go:linkname mainMain main.main
func mainMain()

//go:wasmexport tekton_run
func run() { mainMain() }

// In a reactor, package initialization runs in _initialize, before the
// call: serving a sample there leaves the first-use work of a call done
// (encoding/json's per-type codecs, time parsing), so that the call
// itself costs about 0.4 ms instead of 2.5 ms (plugins/wait; the instance
// costs 0.7 ms more in all). In a command it moves the same work a few
// microseconds earlier.
func init() { warmUp() }
