package httpcap

import (
	"net/netip"
)

// class is what an address is, for the allow list: which entries reach it
// (hostabi/README.md, "HTTP").
type class int

const (
	// public: global unicast, neither private nor special-purpose. Any
	// entry that matches the name reaches it.
	public class = iota
	// internal: private (RFC 1918, RFC 4193), shared (100.64.0.0/10) or
	// loopback. Only an entry naming the host exactly, or the address
	// itself, reaches it.
	internal
	// special: link-local (the cloud metadata address 169.254.169.254
	// included), unspecified, multicast, broadcast, and the ranges that
	// are reserved or embed another address (NAT64, 6to4, Teredo). Only
	// an entry that is the address itself reaches it.
	special
)

func (c class) String() string {
	switch c {
	case public:
		return "a public address"
	case internal:
		return "a private or loopback address"
	}
	return "a link-local, reserved or otherwise special address"
}

var (
	shared = netip.MustParsePrefix("100.64.0.0/10")
	// reservedPrefixes are global unicast to netip but no destination a
	// plugin has business with: "this network", documentation,
	// benchmarking and future-use ranges, and IPv6 prefixes that carry an
	// IPv4 address (which could be any of the above).
	reservedPrefixes = []netip.Prefix{
		netip.MustParsePrefix("0.0.0.0/8"),
		netip.MustParsePrefix("192.0.0.0/24"),
		netip.MustParsePrefix("192.0.2.0/24"),
		netip.MustParsePrefix("198.18.0.0/15"),
		netip.MustParsePrefix("198.51.100.0/24"),
		netip.MustParsePrefix("203.0.113.0/24"),
		netip.MustParsePrefix("240.0.0.0/4"),
		netip.MustParsePrefix("64:ff9b::/96"),
		netip.MustParsePrefix("64:ff9b:1::/48"),
		netip.MustParsePrefix("100::/64"),
		netip.MustParsePrefix("2001::/32"),
		netip.MustParsePrefix("2001:db8::/32"),
		netip.MustParsePrefix("2002::/16"),
		netip.MustParsePrefix("fec0::/10"),
	}
)

// classify tells which entries may reach ip.
func classify(ip netip.Addr) class {
	ip = ip.Unmap()
	for _, p := range reservedPrefixes {
		if p.Contains(ip) {
			return special
		}
	}
	switch {
	case ip.IsLoopback() || ip.IsPrivate() || shared.Contains(ip):
		return internal
	case ip.IsGlobalUnicast():
		return public
	}
	return special
}
