package proto

import (
	"errors"
	"testing"
)

// WP-27
func TestParseProxyV1(t *testing.T) {
	tests := []struct {
		name                     string
		in                       string
		n                        int
		err                      error
		family, src, dst, sp, dp string
	}{
		{"TCP4", "PROXY TCP4 192.168.0.1 10.0.0.2 56324 443\r\nGET / HTTP/1.1\r\n", 43, nil, "TCP4", "192.168.0.1", "10.0.0.2", "56324", "443"},
		{"TCP6", "PROXY TCP6 2001:db8::1 ::1 1 65535\r\n", 36, nil, "TCP6", "2001:db8::1", "::1", "1", "65535"},
		{"UNKNOWN", "PROXY UNKNOWN ffff::1 ffff::2 1 2\r\nGET", 35, nil, "UNKNOWN", "", "", "", ""},
		{"UNKNOWN bare", "PROXY UNKNOWN\r\n", 15, nil, "UNKNOWN", "", "", "", ""},
		{"not a proxy line", "GET / HTTP/1.1\r\n\r\n", 0, nil, "", "", "", "", ""},
		{"short non-proxy", "GE", 0, nil, "", "", "", "", ""},
		{"short prefix", "PRO", 0, ErrIncomplete, "", "", "", "", ""},
		{"no CRLF yet", "PROXY TCP4 1.2.3.4", 0, ErrIncomplete, "", "", "", "", ""},
		{"too long", "PROXY TCP4 " + string(make([]byte, 120)), 0, ErrInvalidProxy, "", "", "", "", ""},
		{"bad family", "PROXY UDP4 1.2.3.4 1.2.3.4 1 2\r\n", 0, ErrInvalidProxy, "", "", "", "", ""},
		{"bad ipv4", "PROXY TCP4 1.2.3.256 1.2.3.4 1 2\r\n", 0, ErrInvalidProxy, "", "", "", "", ""},
		{"ipv6 in TCP4", "PROXY TCP4 ::1 1.2.3.4 1 2\r\n", 0, ErrInvalidProxy, "", "", "", "", ""},
		{"bad port", "PROXY TCP4 1.2.3.4 1.2.3.4 65536 2\r\n", 0, ErrInvalidProxy, "", "", "", "", ""},
		{"leading zero port", "PROXY TCP4 1.2.3.4 1.2.3.4 01 2\r\n", 0, ErrInvalidProxy, "", "", "", "", ""},
		{"missing field", "PROXY TCP4 1.2.3.4 1.2.3.4 1\r\n", 0, ErrInvalidProxy, "", "", "", "", ""},
		{"extra field", "PROXY TCP4 1.2.3.4 1.2.3.4 1 2 3\r\n", 0, ErrInvalidProxy, "", "", "", "", ""},
		{"double space", "PROXY TCP4  1.2.3.4 1.2.3.4 1 2\r\n", 0, ErrInvalidProxy, "", "", "", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var p Proxy
			n, err := ParseProxyV1([]byte(tc.in), &p)
			if !errors.Is(err, tc.err) || n != tc.n {
				t.Fatalf("n=%d err=%v, want %d %v", n, err, tc.n, tc.err)
			}
			if string(p.Family) != tc.family || string(p.SrcAddr) != tc.src || string(p.DstAddr) != tc.dst ||
				string(p.SrcPort) != tc.sp || string(p.DstPort) != tc.dp {
				t.Fatalf("got %q %q %q %q %q", p.Family, p.SrcAddr, p.DstAddr, p.SrcPort, p.DstPort)
			}
		})
	}
}

func FuzzParseProxyV1(f *testing.F) {
	f.Add([]byte("PROXY TCP4 192.168.0.1 10.0.0.2 56324 443\r\n"))
	f.Add([]byte("PROXY UNKNOWN\r\n"))
	f.Add([]byte("PROXY TCP6 ::1 ::1 1 2\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var p Proxy
		n, err := ParseProxyV1(b, &p)
		if err != nil && n != 0 {
			t.Fatal("length with error")
		}
		if n > ProxyV1MaxLen || n > len(b) {
			t.Fatalf("n = %d", n)
		}
		if n > 0 && string(b[n-2:n]) != "\r\n" {
			t.Fatal("line does not end in CRLF")
		}
	})
}

func BenchmarkParseProxyV1(b *testing.B) {
	in := []byte("PROXY TCP4 192.168.0.1 10.0.0.2 56324 443\r\nGET / HTTP/1.1\r\n\r\n")
	var p Proxy
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseProxyV1(in, &p); err != nil {
			b.Fatal(err)
		}
	}
}
