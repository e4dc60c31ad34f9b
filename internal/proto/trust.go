package proto

import (
	"fmt"
	"net/netip"
	"strings"
)

// TrustedProxies are the clients whose X-Forwarded-Proto and
// X-Forwarded-Ssl headers may set wsgi.url_scheme (gosgi's trusted-proxy
// option). The client is the request's REMOTE_ADDR: the TCP peer on the
// HTTP fronts, the address the front server reports on the uwsgi protocol.
// UWSGI_SCHEME and HTTPS, which only a front server can send, are always
// honoured.
//
// A nil *TrustedProxies trusts everyone, as uWSGI does.
type TrustedProxies struct {
	nets []netip.Prefix
	// unix trusts requests that arrive on a unix-domain HTTP socket: the
	// peer is a local process (a proxy on the same machine).
	unix bool
}

// ParseTrustedProxies reads trusted-proxy values: each holds addresses
// ("192.0.2.7", "2001:db8::1"), networks in CIDR form ("10.0.0.0/8") or
// the word "unix", separated by commas or spaces. No value gives nil.
func ParseTrustedProxies(values []string) (*TrustedProxies, error) {
	if len(values) == 0 {
		return nil, nil
	}
	t := &TrustedProxies{}
	for _, v := range values {
		entries := strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
		if len(entries) == 0 {
			return nil, fmt.Errorf("trusted-proxy: empty value")
		}
		for _, e := range entries {
			if err := t.add(e); err != nil {
				return nil, err
			}
		}
	}
	return t, nil
}

func (t *TrustedProxies) add(e string) error {
	if e == "unix" {
		t.unix = true
		return nil
	}
	if strings.Contains(e, "/") {
		p, err := netip.ParsePrefix(e)
		if err != nil {
			return fmt.Errorf("trusted-proxy %q: not a network in CIDR form: %w", e, err)
		}
		if p.Addr().Is4In6() { // ::ffff:a.b.c.d/n: the IPv4 network
			if p.Bits() < 96 {
				return fmt.Errorf("trusted-proxy %q: an IPv4-mapped network needs a prefix of at least 96 bits", e)
			}
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		t.nets = append(t.nets, p.Masked())
		return nil
	}
	a, err := netip.ParseAddr(e)
	if err != nil {
		return fmt.Errorf("trusted-proxy %q: not an address, a network (CIDR) or \"unix\": %w", e, err)
	}
	a = a.Unmap()
	t.nets = append(t.nets, netip.PrefixFrom(a, a.BitLen()))
	return nil
}

// Trusts reports whether a request from remoteAddr (REMOTE_ADDR), received
// on a unix-domain HTTP socket or not, may set its scheme with forwarding
// headers.
func (t *TrustedProxies) Trusts(remoteAddr []byte, unixHTTP bool) bool {
	if t == nil {
		return true
	}
	if unixHTTP {
		return t.unix
	}
	a, err := netip.ParseAddr(string(remoteAddr))
	if err != nil {
		return false
	}
	a = a.WithZone("").Unmap()
	for _, p := range t.nets {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// String lists the trusted networks, for the startup log.
func (t *TrustedProxies) String() string {
	var parts []string
	for _, p := range t.nets {
		if p.IsSingleIP() {
			parts = append(parts, p.Addr().String())
		} else {
			parts = append(parts, p.String())
		}
	}
	if t.unix {
		parts = append(parts, "unix")
	}
	return strings.Join(parts, " ")
}
