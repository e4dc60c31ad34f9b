package proto

import (
	"bytes"
	"errors"
)

// ProxyV1MaxLen is the longest PROXY protocol v1 line, CRLF included.
const ProxyV1MaxLen = 107

// ErrInvalidProxy is a line that starts with "PROXY " but is malformed.
var ErrInvalidProxy = errors.New("invalid PROXY protocol line")

// Proxy is a parsed PROXY protocol v1 line (WP-27). Fields are views into
// the buffer given to ParseProxyV1. For "PROXY UNKNOWN" only Family is set.
type Proxy struct {
	Family  []byte // "TCP4", "TCP6" or "UNKNOWN"
	SrcAddr []byte // becomes REMOTE_ADDR
	DstAddr []byte // becomes SERVER_ADDR
	SrcPort []byte // becomes REMOTE_PORT
	DstPort []byte // becomes SERVER_PORT
}

var proxyPrefix = []byte("PROXY ")

// ParseProxyV1 parses an optional PROXY v1 line at the start of buf
// (enable-proxy-protocol). It returns the number of bytes the line takes,
// 0 when buf does not start with one (the request is parsed as is), or
// ErrIncomplete when buf is too short to tell.
func ParseProxyV1(buf []byte, p *Proxy) (int, error) {
	*p = Proxy{}
	if len(buf) < len(proxyPrefix) {
		if bytes.HasPrefix(proxyPrefix, buf) {
			return 0, ErrIncomplete
		}
		return 0, nil
	}
	if !bytes.HasPrefix(buf, proxyPrefix) {
		return 0, nil
	}
	scan := buf
	if len(scan) > ProxyV1MaxLen {
		scan = scan[:ProxyV1MaxLen]
	}
	nl := bytes.Index(scan, crlf)
	if nl < 0 {
		if len(buf) >= ProxyV1MaxLen {
			return 0, ErrInvalidProxy
		}
		return 0, ErrIncomplete
	}
	line := buf[len(proxyPrefix):nl]
	var f [5][]byte
	n := 0
	for len(line) > 0 && n < len(f) {
		i := bytes.IndexByte(line, ' ')
		if i < 0 {
			i = len(line)
		}
		f[n] = line[:i]
		n++
		if i == len(line) {
			line = line[i:]
			break
		}
		line = line[i+1:]
	}
	if n == 0 {
		return 0, ErrInvalidProxy
	}
	switch string(f[0]) {
	case "UNKNOWN":
		// The sender knows nothing about the connection: keep the real
		// peer (the rest of the line is ignored, as the spec says).
		p.Family = f[0]
		return nl + 2, nil
	case "TCP4", "TCP6":
	default:
		return 0, ErrInvalidProxy
	}
	if n != 5 || len(line) != 0 {
		return 0, ErrInvalidProxy
	}
	v6 := f[0][3] == '6'
	if !validIP(f[1], v6) || !validIP(f[2], v6) || !validPort(f[3]) || !validPort(f[4]) {
		return 0, ErrInvalidProxy
	}
	*p = Proxy{Family: f[0], SrcAddr: f[1], DstAddr: f[2], SrcPort: f[3], DstPort: f[4]}
	return nl + 2, nil
}

// validIP checks an address literal cheaply (no allocation): dotted quad
// for TCP4, hex digits, colons and dots for TCP6.
func validIP(b []byte, v6 bool) bool {
	if len(b) == 0 || len(b) > 45 {
		return false
	}
	if v6 {
		colons := 0
		for _, c := range b {
			switch {
			case c == ':':
				colons++
			case c == '.', c >= '0' && c <= '9', c >= 'a' && c <= 'f', c >= 'A' && c <= 'F':
			default:
				return false
			}
		}
		return colons >= 2
	}
	parts, val, digits := 0, 0, 0
	for i := 0; i <= len(b); i++ {
		if i == len(b) || b[i] == '.' {
			if digits == 0 || val > 255 {
				return false
			}
			parts++
			val, digits = 0, 0
			continue
		}
		c := b[i]
		if c < '0' || c > '9' || digits == 3 {
			return false
		}
		val = val*10 + int(c-'0')
		digits++
	}
	return parts == 4
}

func validPort(b []byte) bool {
	if len(b) == 0 || len(b) > 5 || (len(b) > 1 && b[0] == '0') {
		return false
	}
	v := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
		v = v*10 + int(c-'0')
	}
	return v <= 65535
}
