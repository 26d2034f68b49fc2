// Package httpcap owns the HTTP capability of plugins (hostabi/README.md,
// "HTTP"): the syntax and meaning of an allow list
// (capabilities.http.allow), and the client that sends a plugin's
// requests only to what the list allows, checked on every connection
// actually made (the address the socket connects to, after DNS, on every
// redirect hop), with TLS verified and the ABI's limits on sizes and
// counts enforced while the bytes flow.
//
// It knows nothing of wasm: the engine (runtime/engine) reads a plugin's
// request document and body out of its memory, hands them to a Session,
// and hands the Response back.
package httpcap

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/tekton-wasm/tekton-wasm/hostabi"
	"github.com/tekton-wasm/tekton-wasm/runtime/capability"
)

// DefaultSetting is what a denial tells the user to change.
const DefaultSetting = "capabilities.http.allow in the plugin's manifest"

// Timeouts of the transport, below the call's own deadline, which bounds
// every request: a TLS handshake and the wait for a connection to open
// take at most this long each.
const (
	TLSHandshakeTimeout = 10 * time.Second
	DialTimeout         = 30 * time.Second
)

// Connections a Client keeps open for reuse: at most MaxIdleConnsPerHost
// per host, each for at most IdleConnTimeout. Each holds a socket and its
// buffers (a few KiB) until then or CloseIdleConnections.
const (
	MaxIdleConnsPerHost = 2
	IdleConnTimeout     = 90 * time.Second
)

// Policy is what a manifest grants: the hosts a plugin may reach and the
// extra certificate authorities its TLS connections trust.
type Policy struct {
	// Allow is the parsed allow list (ParseAllow); empty allows nothing.
	Allow []Entry
	// CABundle is PEM certificates trusted besides the system's roots;
	// nil for none.
	CABundle []byte
}

// Options are the host's settings of a Client.
type Options struct {
	// Setting names, in denials, what the user changes to allow a host;
	// "" means DefaultSetting. tkn-wasm names its --allow-host flag.
	Setting string
	// Resolver resolves host names; nil means net.DefaultResolver. Tests
	// point it at a DNS server of their own.
	Resolver *net.Resolver
	// Observe, if set, is called once per request a plugin makes, with
	// its errno (ErrnoSuccess for a response of any status); for metrics.
	Observe func(hostabi.Errno)
}

// Client sends the requests of one plugin under one Policy.
//
// A Client is safe for concurrent use; it keeps idle connections to the
// hosts it reached, which CloseIdleConnections releases (call it when the
// plugin is unloaded). Each call of the plugin uses a Session of its own.
type Client struct {
	allow   []Entry
	setting string
	observe func(hostabi.Errno)
	dialer  *net.Dialer
	http    *http.Client
}

// New returns a Client enforcing p. It fails if p.CABundle holds no PEM
// certificate.
func New(p Policy, o Options) (*Client, error) {
	roots, err := x509.SystemCertPool()
	if err != nil {
		roots = x509.NewCertPool()
	}
	if len(p.CABundle) > 0 && !roots.AppendCertsFromPEM(p.CABundle) {
		return nil, errNoCertificate
	}
	c := &Client{allow: p.Allow, setting: o.Setting, observe: o.Observe}
	if c.setting == "" {
		c.setting = DefaultSetting
	}
	c.dialer = &net.Dialer{Timeout: DialTimeout, Resolver: o.Resolver, ControlContext: c.control}
	c.http = &http.Client{
		Transport: &http.Transport{
			Proxy:                  nil, // never HTTP_PROXY: the connection must go where the check says
			DialContext:            c.dial,
			TLSClientConfig:        &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
			TLSHandshakeTimeout:    TLSHandshakeTimeout,
			MaxResponseHeaderBytes: hostabi.MaxHTTPResponseHeaderBytes,
			ForceAttemptHTTP2:      true,
			IdleConnTimeout:        IdleConnTimeout,
			MaxIdleConnsPerHost:    MaxIdleConnsPerHost,
		},
		CheckRedirect: c.checkRedirect,
	}
	return c, nil
}

var errNoCertificate = errors.New("the CA bundle holds no PEM certificate")

// CheckCABundle reports whether pem holds a PEM certificate, as a
// Policy's CABundle must.
func CheckCABundle(pem []byte) error {
	if !x509.NewCertPool().AppendCertsFromPEM(pem) {
		return errNoCertificate
	}
	return nil
}

// CloseIdleConnections closes the connections kept for reuse.
func (c *Client) CloseIdleConnections() { c.http.CloseIdleConnections() }

// Error is a failed request, with the errno the plugin receives and a
// message for it.
type Error = hostabi.Error

func errorf(errno hostabi.Errno, format string, args ...any) *Error {
	return &Error{Errno: errno, Message: fmt.Sprintf(format, args...)}
}

// Response is a response as the plugin receives it: the final one, after
// redirects.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Session is the HTTP capability of one call: it counts the call's
// requests against hostabi.MaxHTTPRequests. It is used by one goroutine
// at a time (the call's).
type Session struct {
	c *Client
	n int
}

// Session returns a Session for one call.
func (c *Client) Session() *Session { return &Session{c: c} }

// Do sends the request described by doc (a hostabi.HTTPRequest, JSON)
// with body, and returns the final response once its body is read. ctx
// is the call's: when it ends, the request is abandoned at once. Every
// error is an *Error. Do keeps neither doc nor body once it returns (the
// engine passes views of a plugin's memory, which is recycled after the
// call, while the transport may still be writing a cancelled body).
func (s *Session) Do(ctx context.Context, doc, body []byte) (resp *Response, err error) {
	defer func() {
		if s.c.observe != nil {
			s.c.observe(hostabi.ErrnoOf(err))
		}
	}()
	req, err := s.c.newRequest(ctx, doc, body)
	if err != nil {
		return nil, err
	}
	if s.n >= hostabi.MaxHTTPRequests {
		return nil, errorf(hostabi.ErrnoLimit, "the plugin made %d HTTP requests in this call, the most one call may make (MaxHTTPRequests)", s.n)
	}
	s.n++
	if err := s.c.checkURL(req.URL); err != nil {
		return nil, err
	}
	r, err := s.c.http.Do(req)
	if err != nil {
		return nil, s.c.failure(ctx, req.URL, err)
	}
	defer r.Body.Close()
	b, err := io.ReadAll(io.LimitReader(r.Body, hostabi.MaxHTTPResponseBodyBytes+1))
	switch {
	case err != nil:
		return nil, s.c.failure(ctx, req.URL, err)
	case len(b) > hostabi.MaxHTTPResponseBodyBytes:
		return nil, errorf(hostabi.ErrnoTooLarge, "the response body of %s is over %d bytes (MaxHTTPResponseBodyBytes)", origin(req.URL), hostabi.MaxHTTPResponseBodyBytes)
	}
	return &Response{Status: r.StatusCode, Header: r.Header, Body: b}, nil
}

// forbiddenHeaders are set by the host's transport; a plugin setting them
// could smuggle a second request or misdirect this one.
var forbiddenHeaders = map[string]bool{
	"Host": true, "Content-Length": true, "Transfer-Encoding": true, "Connection": true,
	"Upgrade": true, "Keep-Alive": true, "Te": true, "Trailer": true,
}

// limits bound a request document and body.
var limits = capability.Limits{
	Doc: hostabi.MaxHTTPRequestJSONBytes, DocName: "MaxHTTPRequestJSONBytes",
	Body: hostabi.MaxHTTPRequestBodyBytes, BodyName: "MaxHTTPRequestBodyBytes",
}

// newRequest decodes and checks a request document.
func (c *Client) newRequest(ctx context.Context, doc, body []byte) (*http.Request, error) {
	var hr hostabi.HTTPRequest
	if err := capability.Decode(doc, body, limits, "an HTTP request", &hr); err != nil {
		return nil, err
	}
	if len(hr.URL) > hostabi.MaxHTTPURLBytes {
		return nil, errorf(hostabi.ErrnoTooLarge, "the URL is %d bytes, over %d (MaxHTTPURLBytes)", len(hr.URL), hostabi.MaxHTTPURLBytes)
	}
	u, err := url.Parse(hr.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errorf(hostabi.ErrnoInval, "the URL %q is not an absolute http or https URL", hr.URL)
	}
	method := hr.Method
	if method == "" {
		method = http.MethodGet
	}
	req, err := capability.NewRequest(ctx, method, u.String(), body)
	if err != nil {
		return nil, err
	}
	n, size := 0, 0
	for name, values := range hr.Headers {
		canon := http.CanonicalHeaderKey(name)
		switch {
		case !httpguts.ValidHeaderFieldName(name):
			return nil, errorf(hostabi.ErrnoInval, "%q is not a valid header name", name)
		case forbiddenHeaders[canon] || strings.HasPrefix(canon, "Proxy-"):
			return nil, errorf(hostabi.ErrnoInval, "the plugin may not set the header %s: the host sets it", canon)
		}
		for _, v := range values {
			if !httpguts.ValidHeaderFieldValue(v) {
				return nil, errorf(hostabi.ErrnoInval, "the value of header %s has a control character", canon)
			}
			n++
			size += len(name) + len(v)
			req.Header.Add(canon, v)
		}
	}
	if n > hostabi.MaxHTTPRequestHeaders || size > hostabi.MaxHTTPRequestHeaderBytes {
		return nil, errorf(hostabi.ErrnoTooLarge, "the request has %d header values of %d bytes; at most %d values (MaxHTTPRequestHeaders) of %d bytes (MaxHTTPRequestHeaderBytes)",
			n, size, hostabi.MaxHTTPRequestHeaders, hostabi.MaxHTTPRequestHeaderBytes)
	}
	return req, nil
}

// origin is the scheme and authority of u: what a message may show of a
// URL (its path and query may hold secrets).
func origin(u *url.URL) string { return u.Scheme + "://" + u.Host }

// hostPort is u's host, lowercase and without a trailing dot, its port
// and its scheme's default port.
func hostPort(u *url.URL) (host string, port, def uint16) {
	def = 80
	if u.Scheme == "https" {
		def = 443
	}
	port = def
	if p := u.Port(); p != "" {
		n, _ := strconv.ParseUint(p, 10, 16)
		port = uint16(n)
	}
	return normalize(u.Hostname()), port, def
}

func normalize(host string) string { return strings.ToLower(strings.TrimSuffix(host, ".")) }

// checkURL is the check by name: u's host and port must match an entry.
func (c *Client) checkURL(u *url.URL) error {
	host, port, def := hostPort(u)
	for _, e := range c.allow {
		if e.matchesHost(host) && e.matchesPort(port, def) {
			return nil
		}
	}
	suggest := Entry{Name: host}
	if ip, err := netip.ParseAddr(host); err == nil {
		suggest = Entry{IP: ip.Unmap()}
	}
	if port != def {
		suggest.Port = port
	}
	return errorf(hostabi.ErrnoDenied, "%s is not allowed: it is not in %s; add %q to reach it", origin(u), c.setting, suggest.String())
}

func (c *Client) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > hostabi.MaxHTTPRedirects {
		return errorf(hostabi.ErrnoIO, "%s redirected more than %d times (MaxHTTPRedirects)", origin(via[0].URL), hostabi.MaxHTTPRedirects)
	}
	if err := c.checkURL(req.URL); err != nil {
		return errorf(hostabi.ErrnoDenied, "%s redirected to %s", origin(via[len(via)-1].URL), err)
	}
	return nil
}

// target is what a dial may reach, for the check on its socket.
type target struct {
	host  string
	port  uint16
	reach class      // the widest class of address an entry lets host reach
	ip    netip.Addr // the address an IP-literal entry names, which it reaches whatever its class
}

type targetKey struct{}

// dial finds what addr (host:port, the URL's) may reach and dials it,
// leaving the check of each address to control.
func (c *Client) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	n, _ := strconv.ParseUint(p, 10, 16)
	t := target{host: normalize(h), port: uint16(n), reach: public}
	matched := false
	for _, e := range c.allow {
		if !e.matchesHost(t.host) || !e.matchesPort(t.port, 0) {
			continue
		}
		matched = true
		switch {
		case e.IP.IsValid():
			t.ip = e.IP
		case !e.Wildcard:
			t.reach = max(t.reach, internal)
		}
	}
	if !matched {
		return nil, errorf(hostabi.ErrnoDenied, "%s is not allowed: it is not in %s", addr, c.setting)
	}
	return c.dialer.DialContext(context.WithValue(ctx, targetKey{}, t), network, addr)
}

// control checks the address a socket is about to connect to: the one
// the name resolved to for this very connection.
func (c *Client) control(ctx context.Context, _, address string, _ syscall.RawConn) error {
	t, ok := ctx.Value(targetKey{}).(target)
	ap, err := netip.ParseAddrPort(address)
	if !ok || err != nil {
		return errorf(hostabi.ErrnoDenied, "the connection to %s was not checked; refused", address)
	}
	ip := ap.Addr().Unmap()
	cl := classify(ip)
	if ip == t.ip || cl <= t.reach {
		return nil
	}
	suggest := Entry{Name: t.host, Port: t.port}
	how := "only an entry naming the host exactly (no wildcard) reaches one"
	if cl == special {
		suggest = Entry{IP: ip, Port: t.port}
		how = "only an entry that is that address reaches one"
	}
	return errorf(hostabi.ErrnoDenied, "%s is not allowed: it resolves to %s, %s, and %s; add %q to %s to reach it",
		net.JoinHostPort(t.host, strconv.Itoa(int(t.port))), ip, cl, how, suggest.String(), c.setting)
}

// failure turns an error of the transport into an *Error.
func (c *Client) failure(ctx context.Context, u *url.URL, err error) *Error {
	var e *Error
	switch {
	case errors.As(err, &e):
		return e
	case ctx.Err() != nil:
		return errorf(hostabi.ErrnoCanceled, "the request to %s was stopped: the call's deadline passed or the run was cancelled", origin(u))
	case strings.Contains(err.Error(), "response headers exceeded"):
		// net/http's error for Transport.MaxResponseHeaderBytes, which
		// it does not export.
		return errorf(hostabi.ErrnoTooLarge, "the response headers of %s are over %d bytes (MaxHTTPResponseHeaderBytes)", origin(u), hostabi.MaxHTTPResponseHeaderBytes)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // its text repeats the URL, path and query included
	}
	return errorf(hostabi.ErrnoIO, "the request to %s failed: %v", origin(u), err)
}
