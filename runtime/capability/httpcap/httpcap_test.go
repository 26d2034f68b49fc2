package httpcap

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/tekton-wasm/tekton-wasm/hostabi"
	"github.com/tekton-wasm/tekton-wasm/internal/hangserver"
)

// client returns a Client allowing entries, resolving names with dns.
func client(t *testing.T, dns map[string]string, entries ...string) *Client {
	t.Helper()
	allow, err := ParseAllow(entries)
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(Policy{Allow: allow}, Options{Resolver: fakeResolver(t, dns)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

func doc(method, u string, headers map[string][]string) []byte {
	b, _ := json.Marshal(hostabi.HTTPRequest{Method: method, URL: u, Headers: headers})
	return b
}

// do sends one request in a fresh session.
func do(t *testing.T, c *Client, u string) (*Response, error) {
	t.Helper()
	return c.Session().Do(context.Background(), doc("", u, nil), nil)
}

// wantErr checks err's errno and that its message holds each of parts.
func wantErr(t *testing.T, err error, errno hostabi.Errno, parts ...string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || e.Errno != errno {
		t.Fatalf("error = %v (errno %v), want errno %v", err, hostabi.ErrnoOf(err), errno)
	}
	for _, p := range parts {
		if !strings.Contains(e.Message, p) {
			t.Errorf("message %q does not say %q", e.Message, p)
		}
	}
}

func hostOf(t *testing.T, s *httptest.Server) (host, port string) {
	u, _ := url.Parse(s.URL)
	return u.Hostname(), u.Port()
}

func TestAllowedRequest(t *testing.T) {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Method", r.Method)
		w.Header().Set("X-Token", r.Header.Get("X-Token"))
		w.WriteHeader(http.StatusCreated)
		b := make([]byte, 5)
		n, _ := r.Body.Read(b)
		w.Write(append([]byte("got "), b[:n]...))
	}))
	defer s.Close()
	_, port := hostOf(t, s)
	var observed []hostabi.Errno
	allow, _ := ParseAllow([]string{"127.0.0.1:" + port})
	c, err := New(Policy{Allow: allow}, Options{Observe: func(e hostabi.Errno) { observed = append(observed, e) }})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Session().Do(context.Background(), doc("POST", s.URL+"/x?q=1", map[string][]string{"x-token": {"t1"}}), []byte("hello"))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != 201 || string(resp.Body) != "got hello" || resp.Header.Get("X-Method") != "POST" || resp.Header.Get("X-Token") != "t1" {
		t.Fatalf("response = %d %v %q", resp.Status, resp.Header, resp.Body)
	}
	if len(observed) != 1 || observed[0] != hostabi.ErrnoSuccess {
		t.Errorf("observed %v, want one success", observed)
	}
}

func TestDeniedByName(t *testing.T) {
	s := httptest.NewServer(http.NotFoundHandler())
	defer s.Close()
	_, port := hostOf(t, s)
	for _, allow := range [][]string{nil, {"127.0.0.2:" + port}, {"127.0.0.1"}, {"localhost:" + port}} {
		c := client(t, nil, allow...)
		_, err := do(t, c, s.URL+"/secret-path")
		wantErr(t, err, hostabi.ErrnoDenied, "http://127.0.0.1:"+port+" is not allowed", DefaultSetting, `add "127.0.0.1:`+port+`"`)
		if strings.Contains(err.Error(), "secret-path") {
			t.Errorf("the message shows the URL's path: %v", err)
		}
	}
	// A port-less entry allows the scheme's default port only.
	c := client(t, nil, "example.com")
	_, err := do(t, c, "http://example.com:8080/")
	wantErr(t, err, hostabi.ErrnoDenied, `add "example.com:8080"`)
}

func TestRedirectToDeniedHost(t *testing.T) {
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("the redirect target was reached")
	}))
	defer other.Close()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/next", http.StatusFound)
	}))
	defer s.Close()
	_, port := hostOf(t, s)
	_, otherPort := hostOf(t, other)
	c := client(t, nil, "127.0.0.1:"+port)
	_, err := do(t, c, s.URL)
	wantErr(t, err, hostabi.ErrnoDenied, "redirected to http://127.0.0.1:"+otherPort+" is not allowed")

	// Allowed hops are followed, up to MaxHTTPRedirects.
	hops := 0
	loop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hops++
		http.Redirect(w, r, "/again", http.StatusFound)
	}))
	defer loop.Close()
	_, loopPort := hostOf(t, loop)
	c = client(t, nil, "127.0.0.1:"+loopPort)
	_, err = do(t, c, loop.URL)
	wantErr(t, err, hostabi.ErrnoIO, "redirected more than 5 times")
	if hops != hostabi.MaxHTTPRedirects+1 {
		t.Errorf("%d hops, want %d", hops, hostabi.MaxHTTPRedirects+1)
	}
}

// TestConnectionChecked: what is checked is the address the connection
// goes to, whatever name the URL has. A resolver of the test's answers
// names as an attacker's DNS would (rebinding a name to loopback, or to
// the cloud metadata address).
func TestConnectionChecked(t *testing.T) {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("inside")) }))
	defer s.Close()
	_, port := hostOf(t, s)
	dns := map[string]string{"a.example.test": "127.0.0.1", "meta.example.test": "169.254.169.254", "mapped.example.test": "::ffff:127.0.0.1"}

	// A wildcard entry reaches public addresses only.
	c := client(t, dns, "*.example.test:"+port)
	_, err := do(t, c, "http://a.example.test:"+port+"/")
	wantErr(t, err, hostabi.ErrnoDenied, "a.example.test:"+port+" is not allowed: it resolves to 127.0.0.1, a private or loopback address", `add "a.example.test:`+port+`"`)
	_, err = do(t, c, "http://mapped.example.test:"+port+"/")
	wantErr(t, err, hostabi.ErrnoDenied, "resolves to 127.0.0.1")

	// An entry naming the host exactly reaches its private addresses...
	c = client(t, dns, "a.example.test:"+port, "meta.example.test")
	resp, err := do(t, c, "http://a.example.test:"+port+"/")
	if err != nil || string(resp.Body) != "inside" {
		t.Fatalf("exact entry: %v", err)
	}
	// ... but not a link-local one: only the literal address does.
	_, err = do(t, c, "http://meta.example.test/latest/meta-data/")
	wantErr(t, err, hostabi.ErrnoDenied, "169.254.169.254, a link-local, reserved or otherwise special address", `add "169.254.169.254:80"`)
}

func TestLimits(t *testing.T) {
	big := strings.Repeat("x", hostabi.MaxHTTPResponseBodyBytes+1)
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/big":
			w.Write([]byte(big))
		case "/exact":
			w.Write([]byte(big[1:]))
		case "/headers":
			w.Header().Set("X-Big", strings.Repeat("h", hostabi.MaxHTTPResponseHeaderBytes))
		}
	}))
	defer s.Close()
	_, port := hostOf(t, s)
	c := client(t, nil, "127.0.0.1:"+port)
	_, err := do(t, c, s.URL+"/big")
	wantErr(t, err, hostabi.ErrnoTooLarge, "response body", "MaxHTTPResponseBodyBytes")
	if resp, err := do(t, c, s.URL+"/exact"); err != nil || len(resp.Body) != hostabi.MaxHTTPResponseBodyBytes {
		t.Errorf("a body at the limit: %v", err)
	}
	_, err = do(t, c, s.URL+"/headers")
	wantErr(t, err, hostabi.ErrnoTooLarge, "MaxHTTPResponseHeaderBytes")

	ctx := context.Background()
	_, err = c.Session().Do(ctx, doc("POST", s.URL, nil), make([]byte, hostabi.MaxHTTPRequestBodyBytes+1))
	wantErr(t, err, hostabi.ErrnoTooLarge, "MaxHTTPRequestBodyBytes")
	many := map[string][]string{"X-A": make([]string, hostabi.MaxHTTPRequestHeaders+1)}
	_, err = c.Session().Do(ctx, doc("", s.URL, many), nil)
	wantErr(t, err, hostabi.ErrnoTooLarge, "MaxHTTPRequestHeaders")
	_, err = c.Session().Do(ctx, doc("", s.URL+"/"+strings.Repeat("p", hostabi.MaxHTTPURLBytes), nil), nil)
	wantErr(t, err, hostabi.ErrnoTooLarge, "MaxHTTPURLBytes")

	session := c.Session()
	for range hostabi.MaxHTTPRequests {
		if _, err := session.Do(ctx, doc("", s.URL, nil), nil); err != nil {
			t.Fatal(err)
		}
	}
	_, err = session.Do(ctx, doc("", s.URL, nil), nil)
	wantErr(t, err, hostabi.ErrnoLimit, "MaxHTTPRequests")
	if _, err := c.Session().Do(ctx, doc("", s.URL, nil), nil); err != nil {
		t.Errorf("a new session starts a new count: %v", err)
	}
}

func TestInvalidRequests(t *testing.T) {
	c := client(t, nil, "example.com")
	ctx := context.Background()
	for d, want := range map[string]string{
		`{"url":"http://example.com/","timeout":"1s"}`:                              "unknown field",
		`{"url":"http://example.com/"} {}`:                                          "after its JSON",
		`not json`:                                                                  "not an HTTP request",
		`{"url":"ftp://example.com/"}`:                                              "not an absolute http or https URL",
		`{"url":"/relative"}`:                                                       "not an absolute",
		`{"url":"http://example.com/","method":"GET X"}`:                            "invalid method",
		`{"url":"http://example.com/","headers":{"Host":["x"]}}`:                    "may not set the header Host",
		`{"url":"http://example.com/","headers":{"proxy-authorization":["x"]}}`:     "may not set the header Proxy-Authorization",
		`{"url":"http://example.com/","headers":{"transfer-encoding":["chunked"]}}`: "Transfer-Encoding",
		`{"url":"http://example.com/","headers":{"a b":["x"]}}`:                     "not a valid header name",
		`{"url":"http://example.com/","headers":{"X":["a\r\nB: c"]}}`:               "control character",
	} {
		_, err := c.Session().Do(ctx, []byte(d), nil)
		wantErr(t, err, hostabi.ErrnoInval, want)
	}
}

// TestCancelStopsPendingRequest: a request to a server that never answers
// ends as soon as the call's context does.
func TestCancelStopsPendingRequest(t *testing.T) {
	s := hangserver.Start(t)
	_, port := hostOf(t, s)
	c := client(t, nil, "127.0.0.1:"+port)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	_, err := c.Session().Do(ctx, doc("", s.URL, nil), nil)
	wantErr(t, err, hostabi.ErrnoCanceled, "was stopped")
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the request ended %v after it started; the context ended after 50ms", d)
	}
}

func TestTLS(t *testing.T) {
	s := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("secure")) }))
	defer s.Close()
	_, port := hostOf(t, s)
	allow, _ := ParseAllow([]string{"127.0.0.1:" + port})

	c, err := New(Policy{Allow: allow}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Session().Do(context.Background(), doc("", s.URL, nil), nil)
	wantErr(t, err, hostabi.ErrnoIO, "certificate")

	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw})
	c, err = New(Policy{Allow: allow, CABundle: ca}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Session().Do(context.Background(), doc("", s.URL, nil), nil)
	if err != nil || string(resp.Body) != "secure" {
		t.Fatalf("with the CA bundle: %v", err)
	}
	if _, err := New(Policy{CABundle: []byte("not pem")}, Options{}); err == nil {
		t.Error("a CA bundle without a certificate was accepted")
	}
}

// fakeResolver answers A and AAAA queries from names (name -> address),
// as a DNS server would, and NXDOMAIN for other names.
func fakeResolver(t *testing.T, names map[string]string) *net.Resolver {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 512)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			var p dnsmessage.Parser
			h, err := p.Start(buf[:n])
			if err != nil {
				continue
			}
			q, err := p.Question()
			if err != nil {
				continue
			}
			b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true})
			b.EnableCompression()
			addr, ok := names[strings.TrimSuffix(q.Name.String(), ".")]
			if !ok {
				b = dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, RCode: dnsmessage.RCodeNameError})
			}
			b.StartQuestions()
			b.Question(q)
			b.StartAnswers()
			if ok {
				ip := netip.MustParseAddr(addr)
				rh := dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 1}
				switch {
				case q.Type == dnsmessage.TypeA && ip.Unmap().Is4() && !ip.Is4In6():
					b.AResource(rh, dnsmessage.AResource{A: ip.As4()})
				case q.Type == dnsmessage.TypeAAAA && (ip.Is6()):
					b.AAAAResource(rh, dnsmessage.AAAAResource{AAAA: ip.As16()})
				}
			}
			msg, _ := b.Finish()
			pc.WriteTo(msg, from)
		}
	}()
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", pc.LocalAddr().String())
	}}
}
