package tlsfront

import (
	"crypto/tls"
	"errors"
	"strings"
)

// Spec is a parsed `https-socket` or `https` value:
// ADDR,CERT,KEY[,CIPHERS[,CA]] (WP-29, WP-42).
type Spec struct {
	Addr     string
	CertFile string
	KeyFile  string
	// Ciphers is an OpenSSL cipher list; empty keeps Go's defaults.
	Ciphers string
	// ClientCA is a PEM file of CAs for client certificates; a leading
	// "!" (kept here) makes a client certificate mandatory.
	ClientCA string
}

// ErrHTTPSSyntax carries uWSGI's message for a value with a missing part.
var ErrHTTPSSyntax = errors.New("invalid https syntax must be socket,crt,key")

// ParseSpec splits an https-socket/https value. Empty optional parts are
// allowed ("addr,crt,key,,ca").
func ParseSpec(v string) (Spec, error) {
	parts := strings.SplitN(v, ",", 5)
	if len(parts) < 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return Spec{}, ErrHTTPSSyntax
	}
	s := Spec{Addr: parts[0], CertFile: parts[1], KeyFile: parts[2]}
	if len(parts) > 3 {
		s.Ciphers = parts[3]
	}
	if len(parts) > 4 {
		s.ClientCA = parts[4]
	}
	return s, nil
}

// CipherSuites maps an OpenSSL cipher list ("ECDHE-RSA-AES128-GCM-SHA256:
// HIGH:!aNULL") to the Go suites it names for TLS 1.2. Keywords and
// exclusions Go has no equivalent for are skipped and returned in unknown;
// TLS 1.3 suites are not configurable in Go and always on. A nil result
// means: keep Go's secure defaults.
func CipherSuites(list string) (ids []uint16, unknown []string) {
	byName := map[string]uint16{}
	for _, c := range tls.CipherSuites() {
		byName[opensslName(c.Name)] = c.ID
		byName[c.Name] = c.ID
	}
	for _, tok := range strings.FieldsFunc(list, func(r rune) bool { return r == ':' || r == ',' || r == ' ' }) {
		if id, ok := byName[tok]; ok {
			ids = append(ids, id)
			continue
		}
		unknown = append(unknown, tok)
	}
	return ids, unknown
}

// opensslName turns Go's IANA name (TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)
// into OpenSSL's (ECDHE-RSA-AES128-GCM-SHA256).
func opensslName(iana string) string {
	n := strings.TrimPrefix(iana, "TLS_")
	n = strings.Replace(n, "_WITH_", "_", 1)
	n = strings.ReplaceAll(n, "AES_128", "AES128")
	n = strings.ReplaceAll(n, "AES_256", "AES256")
	n = strings.ReplaceAll(n, "CHACHA20_POLY1305_SHA256", "CHACHA20_POLY1305")
	n = strings.Replace(n, "ECDHE_ECDSA", "ECDHE_ECDSA", 1)
	return strings.ReplaceAll(n, "_", "-")
}
