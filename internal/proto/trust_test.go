package proto

import (
	"strings"
	"testing"
)

func TestTrustedProxies(t *testing.T) {
	cases := []struct {
		name   string
		values []string
		addr   string
		unix   bool
		want   bool
	}{
		{"none configured trusts all", nil, "203.0.113.9", false, true},
		{"single address", []string{"192.0.2.7"}, "192.0.2.7", false, true},
		{"single address, other peer", []string{"192.0.2.7"}, "192.0.2.8", false, false},
		{"network", []string{"10.0.0.0/8"}, "10.200.3.4", false, true},
		{"network not masked", []string{"10.1.2.3/8"}, "10.9.9.9", false, true},
		{"outside the network", []string{"10.0.0.0/8"}, "11.0.0.1", false, false},
		{"several in one value", []string{"192.0.2.7, 10.0.0.0/8"}, "10.0.0.1", false, true},
		{"repeated option", []string{"192.0.2.7", "2001:db8::/32"}, "2001:db8::42", false, true},
		{"ipv4-mapped peer", []string{"192.0.2.0/24"}, "::ffff:192.0.2.1", false, true},
		{"ipv4-mapped network", []string{"::ffff:192.0.2.0/120"}, "192.0.2.200", false, true},
		{"ipv6 peer with zone", []string{"fe80::/10"}, "fe80::1%eth0", false, true},
		{"unparsable peer", []string{"0.0.0.0/0"}, "not-an-ip", false, false},
		{"empty peer", []string{"0.0.0.0/0"}, "", false, false},
		{"unix trusted", []string{"unix"}, "0.0.0.0", true, true},
		{"unix not listed", []string{"0.0.0.0/0"}, "0.0.0.0", true, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tp, err := ParseTrustedProxies(c.values)
			if err != nil {
				t.Fatalf("parse %q: %v", c.values, err)
			}
			if got := tp.Trusts([]byte(c.addr), c.unix); got != c.want {
				t.Errorf("Trusts(%q, unix=%v) = %v, want %v (%s)", c.addr, c.unix, got, c.want, tp)
			}
		})
	}
}

func TestTrustedProxiesErrors(t *testing.T) {
	for _, v := range []string{"", " , ", "10.0.0.0/33", "example.com", "10.0.0.300", "::ffff:1.2.3.4/64", "unix:/run/x"} {
		if _, err := ParseTrustedProxies([]string{v}); err == nil {
			t.Errorf("ParseTrustedProxies(%q): no error", v)
		} else if !strings.Contains(err.Error(), "trusted-proxy") {
			t.Errorf("ParseTrustedProxies(%q): error %q does not name the option", v, err)
		}
	}
}

func FuzzTrustedProxies(f *testing.F) {
	for _, s := range []string{"10.0.0.0/8", "192.0.2.7, unix", "::ffff:192.0.2.0/120", "fe80::/10", "2001:db8::1", "x", ""} {
		f.Add(s, "10.1.2.3")
	}
	f.Fuzz(func(t *testing.T, value, peer string) {
		tp, err := ParseTrustedProxies([]string{value})
		if err != nil {
			return
		}
		// The listed form parses back to the same decisions.
		again, err := ParseTrustedProxies([]string{tp.String()})
		if err != nil {
			t.Fatalf("String() %q of %q does not parse: %v", tp.String(), value, err)
		}
		for _, unix := range []bool{false, true} {
			if tp.Trusts([]byte(peer), unix) != again.Trusts([]byte(peer), unix) {
				t.Fatalf("%q and its String() %q disagree on %q", value, tp.String(), peer)
			}
		}
	})
}
