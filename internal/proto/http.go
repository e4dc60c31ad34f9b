package proto

import (
	"bytes"
	"encoding/binary"
	"errors"
)

// DefaultBufferSize is the default of the buffer-size option (OP-17).
const DefaultBufferSize = 4096

// maxBlock is the largest variable block the uwsgi header can announce.
const maxBlock = 0xffff

// HTTPOptions are the per-socket and per-connection inputs of ParseHTTP.
// Strings are precomputed once per socket or connection, never per request.
type HTTPOptions struct {
	ServerName string // SERVER_NAME: the machine hostname (WP-22)
	ServerPort string // SERVER_PORT: see sockets.ServerPort
	RemoteAddr string // REMOTE_ADDR: peer IP, "0.0.0.0" on UNIX sockets

	// HTTPS adds HTTPS=on (https-socket, https router, WP-29/WP-41).
	HTTPS bool
	// ManageScriptName omits SCRIPT_NAME (the worker fills it from the
	// mountpoint).
	ManageScriptName bool
	// Router adds UWSGI_ROUTER=http, as uWSGI's http router does (WP-41).
	Router bool
	// RemotePort adds REMOTE_PORT when not empty (router, PROXY protocol).
	RemotePort string
	// ServerAddr adds SERVER_ADDR when not empty (PROXY protocol, WP-27).
	ServerAddr string

	MaxVars    int // max-vars (<= 0: 64); at most 2*MaxVars pairs (WP-6)
	BufferSize int // buffer-size (<= 0: 4096); the head must fit (WP-21)

	// RejectAmbiguousLength refuses heads that carry both Content-Length
	// and Transfer-Encoding, or a Content-Length that is not one plain
	// decimal number. uWSGI passes such heads on (WP-25), so this is off by
	// default; keep-alive fronts turn it on against request smuggling.
	RejectAmbiguousLength bool
}

// PacketFullError is an HTTP head whose variable block would not fit in
// buffer-size: uWSGI builds the block in a buffer of that size and drops
// the request when a variable does not fit (observed: the block must stay
// below buffer-size).
type PacketFullError struct{ Key, Value string }

func (e *PacketFullError) Error() string {
	return "[WARNING] unable to add " + e.Key + "=" + e.Value + " to uwsgi packet, consider increasing buffer size"
}

// packetFull names the first pair of block that reaches max bytes.
func packetFull(block []byte, max int) error {
	for p := 0; p+2 <= len(block); {
		klen := int(binary.LittleEndian.Uint16(block[p:]))
		voff := p + 2 + klen
		vlen := int(binary.LittleEndian.Uint16(block[voff:]))
		next := voff + 2 + vlen
		if next >= max {
			return &PacketFullError{Key: string(block[p+2 : voff]), Value: string(block[voff+2 : next])}
		}
		p = next
	}
	return &PacketFullError{}
}

// ErrAmbiguousLength is returned with HTTPOptions.RejectAmbiguousLength.
var ErrAmbiguousLength = errors.New("invalid HTTP request (ambiguous body length)")

var crlfcrlf = []byte("\r\n\r\n")

// ParseHTTP looks for a complete request head at the start of buf. Without
// the blank line it returns ErrIncomplete while buf is shorter than the
// buffer size, and a *SizeError once it is not (WP-21). A malformed head
// returns ErrInvalidHTTP (WP-30); too many headers ErrTooManyVars (WP-6);
// a variable block that would reach buffer-size a *PacketFullError.
//
// On success it appends the head as a uwsgi variable block to dst, in
// uWSGI's order (WP-22) and with its mapping (WP-23): repeated headers merged
// with ", ", continuation lines kept in the value they continue, PATH_INFO
// %-decoded. It returns the block (the bytes appended to dst; dst's array
// may have been reallocated, as with append), fills r with views into it
// and returns the head length: the body starts at buf[headLen:]. dst must
// not overlap buf. On error the block is nil.
func ParseHTTP(buf []byte, dst []byte, o *HTTPOptions, r *Request) (headLen int, block []byte, err error) {
	*r = Request{}
	max := o.BufferSize
	if max <= 0 {
		max = DefaultBufferSize
	}
	scan := buf
	if len(scan) > max {
		scan = scan[:max]
	}
	end := bytes.Index(scan, crlfcrlf)
	if end < 0 {
		if len(buf) >= max {
			return 0, nil, &SizeError{HTTP: true, Max: max}
		}
		return 0, nil, ErrIncomplete
	}
	headLen = end + 4
	head := buf[:end+2] // every line, each with its CRLF

	nl := bytes.Index(head, crlf)
	line := head[:nl]
	rest := head[nl+2:]

	// Request line: METHOD SP TARGET SP PROTOCOL (the protocol is the rest
	// of the line, as in uWSGI).
	sp1 := bytes.IndexByte(line, ' ')
	if sp1 <= 0 {
		return 0, nil, ErrInvalidHTTP
	}
	method := line[:sp1]
	sp2 := bytes.IndexByte(line[sp1+1:], ' ')
	if sp2 <= 0 {
		return 0, nil, ErrInvalidHTTP
	}
	target := line[sp1+1 : sp1+1+sp2]
	proto := line[sp1+2+sp2:]
	if len(proto) == 0 || !isToken(method) || hasCTL(target) || hasCTL(proto) {
		return 0, nil, ErrInvalidHTTP
	}
	path, query := target, target[len(target):]
	if q := bytes.IndexByte(target, '?'); q >= 0 {
		path, query = target[:q], target[q+1:]
	}

	maxVars := o.MaxVars
	if maxVars <= 0 {
		maxVars = DefaultMaxVars
	}
	maxPairs := 2 * maxVars

	start := len(dst)
	dst = appendVarBytes(dst, "REQUEST_METHOD", method)
	dst = appendVarBytes(dst, "REQUEST_URI", target)
	dst = appendDecodedPath(dst, path)
	dst = appendVarBytes(dst, "QUERY_STRING", query)
	dst = appendVarBytes(dst, "SERVER_PROTOCOL", proto)
	pairs := 5
	if !o.ManageScriptName {
		dst = AppendVar(dst, "SCRIPT_NAME", "")
		pairs++
	}
	dst = AppendVar(dst, "SERVER_NAME", o.ServerName)
	dst = AppendVar(dst, "SERVER_PORT", o.ServerPort)
	dst = AppendVar(dst, "REMOTE_ADDR", o.RemoteAddr)
	pairs += 3
	if o.RemotePort != "" {
		dst = AppendVar(dst, "REMOTE_PORT", o.RemotePort)
		pairs++
	}
	if o.ServerAddr != "" {
		dst = AppendVar(dst, "SERVER_ADDR", o.ServerAddr)
		pairs++
	}
	if o.HTTPS {
		dst = AppendVar(dst, "HTTPS", "on")
		pairs++
	}
	if o.Router {
		dst = AppendVar(dst, "UWSGI_ROUTER", "http")
		pairs++
	}

	headersStart := len(dst)
	lastVal := -1 // offset of the value-length field of the last header written
	sawCL, sawTE := false, false
	for len(rest) > 0 {
		nl = bytes.Index(rest, crlf)
		line, rest = rest[:nl], rest[nl+2:]
		if bytes.IndexByte(line, '\r') >= 0 {
			return 0, nil, ErrInvalidHTTP
		}
		if line[0] == ' ' || line[0] == '\t' {
			// Continuation: uWSGI keeps the line break and the
			// indentation inside the value (observed).
			if lastVal < 0 {
				return 0, nil, ErrInvalidHTTP
			}
			var ok bool
			if dst, ok = extendValue(dst, lastVal, crlf, line); !ok {
				return 0, nil, ErrInvalidHTTP
			}
			continue
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 || !isToken(line[:colon]) {
			return 0, nil, ErrInvalidHTTP
		}
		name, value := line[:colon], line[colon+1:]
		for len(value) > 0 && value[0] == ' ' {
			value = value[1:]
		}
		keyOff := len(dst)
		dst = append(dst, 0, 0)
		switch {
		case equalFold(name, "content-length"):
			dst = append(dst, "CONTENT_LENGTH"...)
			sawCL = true
		case equalFold(name, "content-type"):
			dst = append(dst, "CONTENT_TYPE"...)
		default:
			if equalFold(name, "transfer-encoding") {
				sawTE = true
			}
			dst = append(dst, "HTTP_"...)
			for _, c := range name {
				if c == '-' {
					c = '_'
				} else if c >= 'a' && c <= 'z' {
					c -= 'a' - 'A'
				}
				dst = append(dst, c)
			}
		}
		klen := len(dst) - keyOff - 2
		if klen > maxBlock {
			return 0, nil, ErrInvalidHTTP
		}
		binary.LittleEndian.PutUint16(dst[keyOff:], uint16(klen))
		if prev := findKey(dst[headersStart:keyOff], dst[keyOff+2:]); prev >= 0 {
			// Repeated header: merge into the first one (WP-23).
			dst = dst[:keyOff]
			lastVal = headersStart + prev
			var ok bool
			if dst, ok = extendValue(dst, lastVal, commaSpace, value); !ok {
				return 0, nil, ErrInvalidHTTP
			}
			continue
		}
		if pairs >= maxPairs {
			return 0, nil, ErrTooManyVars
		}
		if len(value) > maxBlock {
			return 0, nil, ErrInvalidHTTP
		}
		lastVal = len(dst)
		dst = append(dst, byte(len(value)), byte(len(value)>>8))
		dst = append(dst, value...)
		pairs++
	}
	block = dst[start:]
	if len(block) >= max {
		return 0, nil, packetFull(block, max)
	}
	if err := ParseVars(block, maxVars, r); err != nil {
		return 0, nil, err
	}
	if o.RejectAmbiguousLength && sawCL && (sawTE || !allDigits(r.contentLengthRaw(block))) {
		return 0, nil, ErrAmbiguousLength
	}
	return headLen, block, nil
}

var (
	crlf       = []byte("\r\n")
	commaSpace = []byte(", ")
)

// extendValue appends sep+add to the value whose length field is at off,
// moving the pairs behind it. It reports false if the value would exceed
// the u16 limit.
func extendValue(dst []byte, off int, sep, add []byte) ([]byte, bool) {
	vlen := int(binary.LittleEndian.Uint16(dst[off:]))
	n := len(sep) + len(add)
	if vlen+n > maxBlock {
		return dst, false
	}
	at := off + 2 + vlen
	old := len(dst)
	dst = append(dst, make([]byte, n)...) // the compiler turns this into a grow, no allocation
	copy(dst[at+n:], dst[at:old])
	copy(dst[at:], sep)
	copy(dst[at+len(sep):], add)
	binary.LittleEndian.PutUint16(dst[off:], uint16(vlen+n))
	return dst, true
}

// findKey returns the offset (within pairs) of the value-length field of the
// first pair whose key is key, or -1.
func findKey(pairs, key []byte) int {
	for p := 0; p+2 <= len(pairs); {
		klen := int(binary.LittleEndian.Uint16(pairs[p:]))
		k := pairs[p+2 : p+2+klen]
		voff := p + 2 + klen
		vlen := int(binary.LittleEndian.Uint16(pairs[voff:]))
		if bytes.Equal(k, key) {
			return voff
		}
		p = voff + 2 + vlen
	}
	return -1
}

// appendDecodedPath appends PATH_INFO, %-decoded as uWSGI does (WP-22): each
// '%' takes the next two bytes as hex digits; a pair that is not valid hex
// yields a 0 byte, and a '%' too close to the end is dropped (observed on
// 2.0.21). '+' is kept.
func appendDecodedPath(dst, path []byte) []byte {
	dst = append(dst, 9, 0)
	dst = append(dst, "PATH_INFO"...)
	off := len(dst)
	dst = append(dst, 0, 0)
	for i := 0; i < len(path); i++ {
		c := path[i]
		if c != '%' {
			dst = append(dst, c)
			continue
		}
		if i+2 >= len(path) {
			break
		}
		hi, ok1 := unhex(path[i+1])
		lo, ok2 := unhex(path[i+2])
		if ok1 && ok2 {
			dst = append(dst, hi<<4|lo)
		} else {
			dst = append(dst, 0)
		}
		i += 2
	}
	binary.LittleEndian.PutUint16(dst[off:], uint16(len(dst)-off-2))
	return dst
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// isToken reports a non-empty string without spaces, controls or DEL: a
// method or header name. uWSGI accepts more; those heads are garbage or
// smuggling attempts, so gosgi refuses them.
func isToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c <= ' ' || c == 0x7f {
			return false
		}
	}
	return true
}

// hasCTL reports control characters other than tab.
func hasCTL(b []byte) bool {
	for _, c := range b {
		if (c < ' ' && c != '\t') || c == 0x7f {
			return true
		}
	}
	return false
}

func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		if lower(b[i]) != s[i] {
			return false
		}
	}
	return true
}

func allDigits(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// contentLengthRaw returns the last CONTENT_LENGTH value in block.
func (r *Request) contentLengthRaw(block []byte) []byte {
	var v []byte
	for p := 0; p+2 <= len(block); {
		klen := int(binary.LittleEndian.Uint16(block[p:]))
		k := block[p+2 : p+2+klen]
		voff := p + 2 + klen
		vlen := int(binary.LittleEndian.Uint16(block[voff:]))
		if string(k) == "CONTENT_LENGTH" {
			v = block[voff+2 : voff+2+vlen]
		}
		p = voff + 2 + vlen
	}
	return v
}
