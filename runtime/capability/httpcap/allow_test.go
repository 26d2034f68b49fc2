package httpcap

import (
	"net/netip"
	"strings"
	"testing"
)

func TestParseEntry(t *testing.T) {
	for in, want := range map[string]string{
		"hooks.example.com":     "hooks.example.com",
		"Hooks.Example.COM.":    "hooks.example.com",
		"*.example.org":         "*.example.org",
		"*.example.org:8443":    "*.example.org:8443",
		"127.0.0.1:8443":        "127.0.0.1:8443",
		"10.0.0.5":              "10.0.0.5",
		"[fd00::1]:8443":        "[fd00::1]:8443",
		"[::1]":                 "[::1]",
		"localhost:65535":       "localhost:65535",
		"[::ffff:127.0.0.1]:80": "127.0.0.1:80",
	} {
		e, err := ParseEntry(in)
		if err != nil {
			t.Errorf("ParseEntry(%q): %v", in, err)
			continue
		}
		if got := e.String(); got != want {
			t.Errorf("ParseEntry(%q) = %s, want %s", in, got, want)
		}
	}
	for in, why := range map[string]string{
		"":                       "is empty",
		"https://example.com":    "scheme or a path",
		"example.com/x":          "scheme or a path",
		"*":                      `"*" that is not a leading`,
		"*.com":                  "top-level domain",
		"a.*.example.com":        `"*" that is not a leading`,
		"*example.com":           `"*" that is not a leading`,
		"example.com:0":          "port",
		"example.com:65536":      "port",
		"example.com:08":         "port",
		"example.com:http":       "port",
		"fd00::1":                "without brackets",
		"[fd00::1":               "bracketed",
		"[example.com]:80":       "bracketed",
		"[fe80::1%eth0]:80":      "zone",
		"exa mple.com":           "not a DNS name",
		"-example.com":           "not a DNS name",
		"example.com:80:80":      "without brackets",
		strings.Repeat("a", 254): "not a DNS name",
	} {
		_, err := ParseEntry(in)
		if err == nil || !strings.Contains(err.Error(), why) || !strings.Contains(err.Error(), "HOST:PORT") {
			t.Errorf("ParseEntry(%q) = %v, want an error saying %q", in, err, why)
		}
	}
}

func TestParseAllowNamesEveryBadEntry(t *testing.T) {
	_, err := ParseAllow([]string{"ok.example.com", "bad/x", "*"})
	if err == nil || !strings.Contains(err.Error(), `"bad/x"`) || !strings.Contains(err.Error(), `"*"`) {
		t.Fatalf("ParseAllow = %v, want both bad entries named", err)
	}
}

func TestClassify(t *testing.T) {
	for in, want := range map[string]class{
		"8.8.8.8":            public,
		"2606:4700::1111":    public,
		"127.0.0.1":          internal,
		"::1":                internal,
		"::ffff:127.0.0.1":   internal,
		"10.1.2.3":           internal,
		"172.16.0.1":         internal,
		"192.168.1.1":        internal,
		"100.64.0.1":         internal,
		"fd00::1":            internal,
		"169.254.169.254":    special,
		"fe80::1":            special,
		"0.0.0.0":            special,
		"::":                 special,
		"0.1.2.3":            special,
		"224.0.0.1":          special,
		"ff02::1":            special,
		"255.255.255.255":    special,
		"64:ff9b::a9fe:a9fe": special,
		"2002:a9fe:a9fe::1":  special,
		"198.18.0.1":         special,
	} {
		if got := classify(netip.MustParseAddr(in)); got != want {
			t.Errorf("classify(%s) = %v, want %v", in, got, want)
		}
	}
}

// FuzzParseEntry: an entry that parses renders as an entry that parses
// to the same thing, and matches the host it names.
func FuzzParseEntry(f *testing.F) {
	for _, s := range []string{"hooks.example.com", "*.example.org:8443", "127.0.0.1:80", "[fd00::1]:443", "[::1]", "a..b", "*.", "[::ffff:1.2.3.4]:1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := ParseEntry(s)
		if err != nil {
			return
		}
		again, err := ParseEntry(e.String())
		if err != nil || again != e {
			t.Fatalf("ParseEntry(%q) = %+v, renders as %q, which parses to %+v, %v", s, e, e.String(), again, err)
		}
		host := e.Name
		if e.IP.IsValid() {
			host = e.IP.String()
		} else if e.Wildcard {
			host = "x." + e.Name
		}
		if !e.matchesHost(host) || (e.Wildcard && e.matchesHost(e.Name)) {
			t.Fatalf("%+v: matches %q = %v, its own suffix %v", e, host, e.matchesHost(host), e.matchesHost(e.Name))
		}
	})
}
