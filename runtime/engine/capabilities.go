package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"

	"github.com/tekton-wasm/tekton-wasm/hostabi"
	"github.com/tekton-wasm/tekton-wasm/runtime/capability/httpcap"
	"github.com/tekton-wasm/tekton-wasm/runtime/capability/kubecap"
)

// Host capabilities (hostabi/README.md, "Host capabilities"): the host
// module hostabi.ImportModule, instantiated once in every sandbox runtime,
// whose functions serve whichever call invokes them. What a call may do
// (its HTTP client, the buffers the host keeps for it, its last error)
// is a callState that Invoke puts in the context of the call's run
// export, so each call reaches its own state and nothing else: calls
// running at once in one runtime never share one. A reactor's
// _initialize runs under another context, without a callState, so there
// the functions return ENOTCAPABLE.

// Grants are the host capabilities a plugin's manifest grants: a module
// may import the functions of these only (hostabi.HostFunctions), which
// Compile checks. The zero value grants none.
type Grants struct {
	// HTTP grants hostabi.CapabilityHTTP. What the plugin may reach is
	// the Invocation's HTTP client's policy.
	HTTP bool
	// Kubernetes grants hostabi.CapabilityKubernetes. What the plugin
	// may ask is the Invocation's Kubernetes session's rules.
	Kubernetes bool
}

// has reports whether g grants c.
func (g Grants) has(c hostabi.Capability) bool {
	return c == hostabi.CapabilityHTTP && g.HTTP || c == hostabi.CapabilityKubernetes && g.Kubernetes
}

// checkGrants refuses a module that imports a host function of a
// capability g does not grant, naming the function and the manifest
// setting that grants it.
func checkGrants(m wazero.CompiledModule, g Grants) error {
	for _, f := range m.ImportedFunctions() {
		mod, name, _ := f.Import()
		if mod != hostabi.ImportModule {
			continue
		}
		if c := hostabi.HostFunctions[name]; c != "" && !g.has(c) {
			return fmt.Errorf("the plugin imports %s.%s, which needs the %s capability, and its manifest does not grant it: "+
				"grant it with capabilities.%s in the plugin's manifest, or do not use it", mod, name, c, c)
		}
	}
	return nil
}

// checkCapabilityImport checks an import from hostabi.ImportModule
// against the functions the host defines.
func checkCapabilityImport(f api.FunctionDefinition, host map[string]api.FunctionDefinition) error {
	mod, name, _ := f.Import()
	h, ok := host[name]
	switch {
	case !ok:
		return fmt.Errorf("the plugin imports %s.%s, a host capability ABI %s does not provide (it provides %s)", mod, name, hostabi.Version, strings.Join(slices.Sorted(maps.Keys(host)), ", "))
	case !sameSignature(f, h):
		return fmt.Errorf("the plugin imports %s.%s as %s, but its signature is %s", mod, name, signature(f), signature(h))
	}
	return nil
}

// instantiateCapabilities instantiates the host module in r and returns
// its functions by name.
func instantiateCapabilities(ctx context.Context, r wazero.Runtime) (map[string]api.FunctionDefinition, error) {
	i32 := api.ValueTypeI32
	b := r.NewHostModuleBuilder(hostabi.ImportModule)
	for _, f := range []struct {
		name    string
		fn      func(context.Context, api.Module, *callState, []uint64) hostabi.Errno
		params  int
		results []api.ValueType
	}{
		{hostabi.FuncHTTPRequest, httpRequest, 5, []api.ValueType{i32}},
		{hostabi.FuncKubernetesRequest, kubernetesRequest, 5, []api.ValueType{i32}},
		{hostabi.FuncBufferRead, bufferRead, 3, []api.ValueType{i32}},
		{hostabi.FuncBufferClose, bufferClose, 1, []api.ValueType{i32}},
	} {
		b.NewFunctionBuilder().
			WithGoModuleFunction(hostFunction(f.name, f.fn), slices.Repeat([]api.ValueType{i32}, f.params), f.results).
			Export(f.name)
	}
	b.NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(lastError), []api.ValueType{i32, i32}, []api.ValueType{i32}).
		Export(hostabi.FuncLastError)
	m, err := b.Instantiate(ctx)
	if err != nil {
		return nil, err
	}
	return m.ExportedFunctionDefinitions(), nil
}

// callState is what the host functions of one call work on. It is used
// only on the call's goroutine (wazero runs host functions on the
// goroutine of the guest that calls them).
type callState struct {
	http    *httpcap.Session // nil: no HTTP for this call
	kube    *kubecap.Session // nil: no Kubernetes for this call
	buffers map[uint32][]byte
	next    uint32 // the last buffer handle given out
	lastErr string // the message of the last failed host function
}

type callStateKey struct{}

// withCapabilities returns the context for the run export of a call
// with inv's capabilities.
func withCapabilities(ctx context.Context, inv Invocation) context.Context {
	s := &callState{buffers: map[uint32][]byte{}}
	if inv.HTTP != nil {
		s.http = inv.HTTP.Session()
	}
	s.kube = inv.Kubernetes
	return context.WithValue(ctx, callStateKey{}, s)
}

// hostFunction adapts fn to wazero: it finds the call's state, turns a
// panic into EIO (a host bug must not crash the host), records the error
// message, and returns the errno as the function's result.
func hostFunction(name string, fn func(context.Context, api.Module, *callState, []uint64) hostabi.Errno) api.GoModuleFunc {
	return func(ctx context.Context, mod api.Module, stack []uint64) {
		s, _ := ctx.Value(callStateKey{}).(*callState)
		if s == nil {
			stack[0] = uint64(hostabi.ErrnoNotCapable)
			return
		}
		errno := func() (errno hostabi.Errno) {
			defer func() {
				if p := recover(); p != nil {
					errno = s.fail(hostabi.ErrnoIO, fmt.Sprintf("the host failed in %s (%v); this is a bug in tekton-wasm: please report it", name, p))
				}
			}()
			return fn(ctx, mod, s, stack)
		}()
		stack[0] = uint64(uint32(errno))
		if ctx.Err() != nil {
			stopWithContext(ctx, mod)
		}
	}
}

// stopWithContext ends the guest at once, as wasi's proc_exit does, with
// the exit code wazero's close-on-context-done gives ctx's error, so that
// Invoke returns ctx.Err(). Returning to the guest instead would let it
// run on (wazero checks the context only at function entries and loops)
// and exit by itself, with the errno as its code, say, which would pass
// for a failure of the plugin.
func stopWithContext(ctx context.Context, mod api.Module) {
	code := sys.ExitCodeContextCanceled
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		code = sys.ExitCodeDeadlineExceeded
	}
	_ = mod.CloseWithExitCode(ctx, code)
	panic(sys.NewExitError(code))
}

// fail records msg as the call's last error and returns errno.
func (s *callState) fail(errno hostabi.Errno, msg string) hostabi.Errno {
	if len(msg) > hostabi.MaxErrorBytes {
		msg = msg[:hostabi.MaxErrorBytes]
		for !utf8.ValidString(msg) {
			msg = msg[:len(msg)-1]
		}
	}
	s.lastErr = msg
	return errno
}

// keep stores b as a buffer and returns its handle; 0 for an empty b.
func (s *callState) keep(b []byte) uint32 {
	if len(b) == 0 {
		return 0
	}
	s.next++
	s.buffers[s.next] = b
	return s.next
}

// httpRequest is http_request(req_ptr, req_len, body_ptr, body_len,
// out_ptr) -> errno.
func httpRequest(ctx context.Context, mod api.Module, s *callState, stack []uint64) hostabi.Errno {
	if s.http == nil {
		return s.fail(hostabi.ErrnoNotCapable, "the host serves no HTTP to this call")
	}
	m := mod.Memory()
	doc, body, out, ok := requestArgs(m, stack, hostabi.HTTPResponseSize)
	if !ok {
		return s.fail(hostabi.ErrnoFault, "http_request: a pointer and length lie outside the plugin's memory")
	}
	resp, err := s.http.Do(ctx, doc, body)
	if err != nil {
		return s.fail(hostabi.ErrnoOf(err), err.Error())
	}
	header, err := json.Marshal(resp.Header)
	if err != nil {
		return s.fail(hostabi.ErrnoIO, "encoding the response headers: "+err.Error())
	}
	hh, bh := s.keep(header), s.keep(resp.Body)
	writeOut(m, out, uint32(resp.Status), hh, uint32(len(header)), bh, uint32(len(resp.Body)))
	return hostabi.ErrnoSuccess
}

// requestArgs reads the arguments (req_ptr, req_len, body_ptr, body_len,
// out_ptr) of a request function: views of the guest's memory, valid
// while the guest is blocked in the call (the capabilities copy what
// they keep), and out_ptr, checked to hold outSize bytes. ok is false if
// any lies outside the memory.
func requestArgs(m api.Memory, stack []uint64, outSize uint32) (doc, body []byte, out uint32, ok bool) {
	doc, ok1 := m.Read(uint32(stack[0]), uint32(stack[1]))
	body, ok2 := m.Read(uint32(stack[2]), uint32(stack[3]))
	out = uint32(stack[4])
	_, ok3 := m.Read(out, outSize)
	return doc, body, out, ok1 && ok2 && ok3
}

// writeOut writes vs as little-endian u32s at out, which requestArgs
// checked.
func writeOut(m api.Memory, out uint32, vs ...uint32) {
	for i, v := range vs {
		m.WriteUint32Le(out+uint32(4*i), v)
	}
}

// kubernetesRequest is kubernetes_request(req_ptr, req_len, body_ptr,
// body_len, out_ptr) -> errno.
func kubernetesRequest(ctx context.Context, mod api.Module, s *callState, stack []uint64) hostabi.Errno {
	if s.kube == nil {
		return s.fail(hostabi.ErrnoNotCapable, "the host serves no Kubernetes to this call (tkn-wasm run serves it with --kubeconfig)")
	}
	m := mod.Memory()
	doc, body, out, ok := requestArgs(m, stack, hostabi.KubernetesResponseSize)
	if !ok {
		return s.fail(hostabi.ErrnoFault, "kubernetes_request: a pointer and length lie outside the plugin's memory")
	}
	resp, err := s.kube.Do(ctx, doc, body)
	if err != nil {
		return s.fail(hostabi.ErrnoOf(err), err.Error())
	}
	writeOut(m, out, uint32(resp.Status), s.keep(resp.Body), uint32(len(resp.Body)))
	return hostabi.ErrnoSuccess
}

// bufferRead is buffer_read(handle, buf_ptr, buf_len) -> errno.
func bufferRead(_ context.Context, mod api.Module, s *callState, stack []uint64) hostabi.Errno {
	h := uint32(stack[0])
	b, ok := s.buffers[h]
	switch {
	case !ok:
		return s.fail(hostabi.ErrnoInval, fmt.Sprintf("buffer_read: no buffer %d in this call", h))
	case uint64(len(b)) > uint64(uint32(stack[2])):
		return s.fail(hostabi.ErrnoRange, fmt.Sprintf("buffer_read: the buffer holds %d bytes and the plugin gave room for %d", len(b), uint32(stack[2])))
	case !mod.Memory().Write(uint32(stack[1]), b):
		return s.fail(hostabi.ErrnoFault, "buffer_read: the plugin's buffer lies outside its memory")
	}
	return hostabi.ErrnoSuccess
}

// bufferClose is buffer_close(handle) -> errno.
func bufferClose(_ context.Context, _ api.Module, s *callState, stack []uint64) hostabi.Errno {
	h := uint32(stack[0])
	if _, ok := s.buffers[h]; !ok {
		return s.fail(hostabi.ErrnoInval, fmt.Sprintf("buffer_close: no buffer %d in this call", h))
	}
	delete(s.buffers, h)
	return hostabi.ErrnoSuccess
}

// lastError is last_error(buf_ptr, buf_len) -> len: it copies what fits
// of the last error and returns its whole length, or -EFAULT.
func lastError(ctx context.Context, mod api.Module, stack []uint64) {
	s, _ := ctx.Value(callStateKey{}).(*callState)
	switch {
	case ctx.Err() != nil:
		stopWithContext(ctx, mod)
	case s == nil:
		stack[0] = 0
		return
	}
	defer func() {
		if recover() != nil {
			stack[0] = api.EncodeI32(-int32(hostabi.ErrnoIO))
		}
	}()
	msg := s.lastErr
	n := min(uint32(len(msg)), uint32(stack[1]))
	if !mod.Memory().Write(uint32(stack[0]), []byte(msg[:n])) {
		stack[0] = api.EncodeI32(-int32(hostabi.ErrnoFault))
		return
	}
	stack[0] = uint64(len(msg))
}
