package httpcap

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// Entry is one parsed entry of an allow list (capabilities.http.allow):
// a host, optionally with a port. See ParseEntry for the syntax.
type Entry struct {
	// Name is a lowercase DNS name without a trailing dot, or the
	// suffix after "*." for a wildcard; "" for an IP literal.
	Name string
	// Wildcard: the entry was "*.Name" and matches names below Name only.
	Wildcard bool
	// IP is the entry's address, for an IP literal.
	IP netip.Addr
	// Port is the one port allowed; 0 means the URL scheme's default
	// (443 for https, 80 for http).
	Port uint16
}

// ParseEntry parses one allow entry: HOST or HOST:PORT, where HOST is a
// DNS name, "*." and a DNS name, an IPv4 address or a bracketed IPv6
// address ("[fd00::1]:8443"). Errors quote the entry and say what is
// wrong with it.
func ParseEntry(s string) (Entry, error) {
	bad := func(why string) (Entry, error) {
		return Entry{}, fmt.Errorf("http allow entry %q %s; write HOST or HOST:PORT, e.g. hooks.example.com, *.example.org or 127.0.0.1:8443", s, why)
	}
	if s == "" {
		return bad("is empty")
	}
	if strings.Contains(s, "/") {
		return bad("has a scheme or a path")
	}
	host, port := s, ""
	switch {
	case strings.HasPrefix(s, "["):
		h, p, err := net.SplitHostPort(s)
		if err != nil {
			// "[::1]" without a port.
			if !strings.HasSuffix(s, "]") {
				return bad("is not a bracketed IPv6 address")
			}
			h = s[1 : len(s)-1]
		}
		host, port = h, p
		if _, err := netip.ParseAddr(host); err != nil || !strings.Contains(host, ":") {
			return bad("is not a bracketed IPv6 address")
		}
	case strings.Count(s, ":") == 1:
		host, port, _ = strings.Cut(s, ":")
	case strings.Count(s, ":") > 1:
		return bad("is an IPv6 address without brackets")
	}
	var e Entry
	if port != "" {
		n, err := strconv.ParseUint(port, 10, 16)
		if err != nil || n == 0 || port[0] == '0' {
			return bad("has a port that is not a number from 1 to 65535")
		}
		e.Port = uint16(n)
	}
	host = strings.TrimSuffix(host, ".") // "127.0.0.1." is the address, as a URL's host is
	if ip, err := netip.ParseAddr(host); err == nil {
		if ip.Zone() != "" {
			return bad("has an IPv6 zone")
		}
		e.IP = ip.Unmap()
		return e, nil
	}
	name := strings.ToLower(host)
	if rest, ok := strings.CutPrefix(name, "*."); ok {
		e.Wildcard, name = true, rest
	}
	if strings.Contains(name, "*") {
		return bad(`has a "*" that is not a leading "*."`)
	}
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		return bad("is not a DNS name: " + strings.Join(errs, "; "))
	}
	if e.Wildcard && !strings.Contains(name, ".") {
		return bad("is a wildcard over a top-level domain")
	}
	e.Name = name
	return e, nil
}

// ParseAllow parses an allow list; the error names the first bad entry.
func ParseAllow(entries []string) ([]Entry, error) {
	out := make([]Entry, 0, len(entries))
	var errs []error
	for _, s := range entries {
		e, err := ParseEntry(s)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, e)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// String renders e as it would be written in an allow list.
func (e Entry) String() string {
	host := e.Name
	switch {
	case e.IP.IsValid():
		host = e.IP.String()
		if e.IP.Is6() {
			host = "[" + host + "]"
		}
	case e.Wildcard:
		host = "*." + host
	}
	if e.Port != 0 {
		return host + ":" + strconv.Itoa(int(e.Port))
	}
	return host
}

// matchesHost reports whether e names host (a lowercase name without a
// trailing dot, or an IP literal): exactly, or below a wildcard.
func (e Entry) matchesHost(host string) bool {
	if e.IP.IsValid() {
		ip, err := netip.ParseAddr(host)
		return err == nil && ip.Unmap() == e.IP
	}
	if e.Wildcard {
		return strings.HasSuffix(host, "."+e.Name)
	}
	return host == e.Name
}

// matchesPort reports whether e allows port, where def is the default
// port of the URL's scheme; def 0 (unknown, at dial time) accepts
// either default.
func (e Entry) matchesPort(port, def uint16) bool {
	switch {
	case e.Port != 0:
		return port == e.Port
	case def != 0:
		return port == def
	}
	return port == 80 || port == 443
}
