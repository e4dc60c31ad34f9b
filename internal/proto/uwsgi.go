package proto

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"strconv"
)

// HeaderSize is the length of the fixed uwsgi packet header (WP-1).
const HeaderSize = 4

// DefaultMaxVars is the default of the max-vars option (OP-23).
const DefaultMaxVars = 64

// Header is the 4-byte uwsgi packet header (WP-1). Size is the length of
// the variable block only; the body is not included (WP-2).
type Header struct {
	Modifier1 uint8
	Size      uint16
	Modifier2 uint8
}

// ParseHeader decodes the packet header in b[0:4]; b must hold at least
// HeaderSize bytes.
func ParseHeader(b []byte) Header {
	_ = b[3]
	return Header{Modifier1: b[0], Size: binary.LittleEndian.Uint16(b[1:3]), Modifier2: b[3]}
}

// AppendHeader appends the 4-byte header of h to dst (used by the router
// front and tests that build packets).
func AppendHeader(dst []byte, h Header) []byte {
	return append(dst, h.Modifier1, byte(h.Size), byte(h.Size>>8), h.Modifier2)
}

// Request describes one request head. The byte-slice fields are views into
// the variable block they were parsed from (never copies): they are valid
// only as long as that block is. A variable that appears several times is
// reported with its last value (WP-7), as in the environ the app sees.
type Request struct {
	// Pairs is the number of key/value pairs in the block; the request log
	// line shows 2*Pairs "vars" (LG-2).
	Pairs int

	Method      []byte // REQUEST_METHOD
	URI         []byte // REQUEST_URI (raw, with the query string)
	PathInfo    []byte // PATH_INFO
	Query       []byte // QUERY_STRING
	Proto       []byte // SERVER_PROTOCOL (status line of the response, WP-10)
	RemoteAddr  []byte // REMOTE_ADDR
	RemoteUser  []byte // REMOTE_USER
	Host        []byte // HTTP_HOST, or SERVER_NAME when there is no Host (WP-9)
	ScriptName  []byte // SCRIPT_NAME
	ServerName  []byte // SERVER_NAME
	ServerPort  []byte // SERVER_PORT
	ContentType []byte // CONTENT_TYPE
	DocRoot     []byte // DOCUMENT_ROOT

	// ContentLength is CONTENT_LENGTH read as a decimal integer: leading
	// digits only, anything after them ignored, missing/empty/invalid -> 0,
	// too large -> math.MaxInt64 (so limit-post refuses it) (WP-8).
	ContentLength int64
	// ContentLengthAt is the offset in the block of the (last)
	// CONTENT_LENGTH pair, -1 without one: uWSGI refuses a body over
	// limit-post while parsing, and logs only the pairs before it.
	ContentLengthAt int

	XForwardedFor   []byte // HTTP_X_FORWARDED_FOR (log-x-forwarded-for)
	XForwardedProto []byte // HTTP_X_FORWARDED_PROTO (wsgi.url_scheme)
	XForwardedSSL   []byte // HTTP_X_FORWARDED_SSL (treated like HTTPS)
	HTTPS           []byte // HTTPS
	UwsgiScheme     []byte // UWSGI_SCHEME (wsgi.url_scheme)
	// ForwardedProtoLast: HTTP_X_FORWARDED_PROTO came after the last
	// UWSGI_SCHEME; for wsgi.url_scheme the later of the two wins (PY-22).
	ForwardedProtoLast bool
	TransferEnc        []byte // HTTP_TRANSFER_ENCODING
	Connection         []byte // HTTP_CONNECTION
	AcceptEncoding     []byte // HTTP_ACCEPT_ENCODING (http-auto-gzip)

	// Chunked reports a Transfer-Encoding header whose last coding is
	// "chunked". The body is not decoded (WP-25).
	Chunked bool
	// KeepAlive reports an HTTP/1.1 request without "Connection: close";
	// the http11 and router fronts use it.
	KeepAlive bool

	// Per-request control variables (WP-9).
	AppID    []byte // UWSGI_APPID
	Script   []byte // UWSGI_SCRIPT
	Module   []byte // UWSGI_MODULE
	Callable []byte // UWSGI_CALLABLE
	File     []byte // UWSGI_FILE
	Chdir    []byte // UWSGI_CHDIR
	PyHome   []byte // UWSGI_PYHOME or UWSGI_HOME
	Router   []byte // UWSGI_ROUTER ("http" from the router front, WP-41)
}

// ErrIncomplete means the head is not complete yet: read more and retry.
var ErrIncomplete = errors.New("incomplete request head")

// Errors with uWSGI's log texts (WP-4, WP-6, WP-21, WP-30). The request is
// dropped and the connection closed without a reply. uWSGI logs
// ErrInvalidHTTP with the date prefix (logging.Logger.Verbosef), the others
// without.
var (
	ErrNullKey     = errors.New("uwsgi key cannot be null. skip this var.")
	ErrTooManyVars = errors.New("max vec size reached. skip this var.")
	ErrInvalidHTTP = errors.New("invalid HTTP request")
)

// StrsizeError is a length that runs past the end of the variable block
// (WP-4). Strsize is the last length read, as uWSGI reports it.
type StrsizeError struct{ Strsize int }

func (e *StrsizeError) Error() string {
	return "invalid uwsgi request (current strsize: " + strconv.Itoa(e.Strsize) + "). skip."
}

// SizeError is a request head larger than buffer-size (WP-5, WP-21).
type SizeError struct {
	HTTP bool // true: HTTP head; false: uwsgi datasize
	Size int  // uwsgi datasize (unused for HTTP)
	Max  int  // buffer-size
}

func (e *SizeError) Error() string {
	if e.HTTP {
		return "invalid HTTP request size (max " + strconv.Itoa(e.Max) + ")...skip"
	}
	return "invalid request block size: " + strconv.Itoa(e.Size) + " (max " + strconv.Itoa(e.Max) + ")...skip"
}

// CheckSize returns a *SizeError when a uwsgi packet announces a variable
// block larger than bufferSize (WP-5).
func CheckSize(h Header, bufferSize int) error {
	if int(h.Size) > bufferSize {
		return &SizeError{Size: int(h.Size), Max: bufferSize}
	}
	return nil
}

// ParseVars validates a uwsgi variable block in place and fills r with views
// into it (WP-3..WP-9). maxVars is the max-vars option (<= 0 means the
// default 64); at most 2*maxVars pairs are accepted (WP-6). On error r holds
// what was parsed before the fault, which uWSGI still logs.
func ParseVars(block []byte, maxVars int, r *Request) error {
	*r = Request{ContentLengthAt: -1}
	if maxVars <= 0 {
		maxVars = DefaultMaxVars
	}
	maxPairs := 2 * maxVars
	end := len(block)
	last := 0 // the last length read: uWSGI reports it in the strsize error
	var cl []byte
	for p := 0; p < end; {
		pair := p
		// uWSGI wants room for the key length plus at least one byte;
		// with less it reports the previous length (observed on 2.0.21).
		if end-p < 3 {
			r.finish(cl)
			return &StrsizeError{Strsize: last}
		}
		klen := int(binary.LittleEndian.Uint16(block[p:]))
		p += 2
		last = klen
		if klen == 0 {
			r.finish(cl)
			return ErrNullKey
		}
		if p+klen+2 > end {
			r.finish(cl)
			return &StrsizeError{Strsize: klen}
		}
		key := block[p : p+klen]
		p += klen
		vlen := int(binary.LittleEndian.Uint16(block[p:]))
		p += 2
		last = vlen
		if p+vlen > end {
			r.finish(cl)
			return &StrsizeError{Strsize: vlen}
		}
		if r.Pairs >= maxPairs {
			r.finish(cl)
			return ErrTooManyVars
		}
		r.Pairs++
		val := block[p : p+vlen : p+vlen]
		p += vlen
		if r.set(key, val) {
			cl, r.ContentLengthAt = val, pair
		}
	}
	r.finish(cl)
	return nil
}

// set records a variable the server interprets; it reports whether key is
// CONTENT_LENGTH (parsed once, at the end, since the last one wins).
func (r *Request) set(key, val []byte) bool {
	// Dispatch on length first: most keys are skipped after one compare.
	switch len(key) {
	case 5:
		if string(key) == "HTTPS" {
			r.HTTPS = val
		}
	case 9:
		switch string(key) {
		case "PATH_INFO":
			r.PathInfo = val
		case "HTTP_HOST":
			r.Host = val
		}
	case 10:
		if string(key) == "UWSGI_FILE" {
			r.File = val
		} else if string(key) == "UWSGI_HOME" {
			r.PyHome = val
		}
	case 11:
		switch string(key) {
		case "REQUEST_URI":
			r.URI = val
		case "REMOTE_ADDR":
			r.RemoteAddr = val
		case "REMOTE_USER":
			r.RemoteUser = val
		case "SCRIPT_NAME":
			r.ScriptName = val
		case "SERVER_NAME":
			r.ServerName = val
		case "SERVER_PORT":
			r.ServerPort = val
		case "UWSGI_APPID":
			r.AppID = val
		case "UWSGI_CHDIR":
			r.Chdir = val
		}
	case 12:
		switch string(key) {
		case "QUERY_STRING":
			r.Query = val
		case "CONTENT_TYPE":
			r.ContentType = val
		case "UWSGI_SCRIPT":
			r.Script = val
		case "UWSGI_MODULE":
			r.Module = val
		case "UWSGI_SCHEME":
			r.UwsgiScheme = val
			r.ForwardedProtoLast = false
		case "UWSGI_PYHOME":
			r.PyHome = val
		case "UWSGI_ROUTER":
			r.Router = val
		}
	case 13:
		if string(key) == "DOCUMENT_ROOT" {
			r.DocRoot = val
		}
	case 14:
		switch string(key) {
		case "REQUEST_METHOD":
			r.Method = val
		case "CONTENT_LENGTH":
			return true
		case "UWSGI_CALLABLE":
			r.Callable = val
		}
	case 15:
		switch string(key) {
		case "SERVER_PROTOCOL":
			r.Proto = val
		case "HTTP_CONNECTION":
			r.Connection = val
		}
	case 20:
		switch string(key) {
		case "HTTP_X_FORWARDED_FOR":
			r.XForwardedFor = val
		case "HTTP_X_FORWARDED_SSL":
			r.XForwardedSSL = val
		case "HTTP_ACCEPT_ENCODING":
			r.AcceptEncoding = val
		}
	case 22:
		switch string(key) {
		case "HTTP_X_FORWARDED_PROTO":
			r.XForwardedProto = val
			r.ForwardedProtoLast = true
		case "HTTP_TRANSFER_ENCODING":
			r.TransferEnc = val
		}
	}
	return false
}

// AcceptsGzip reports whether Accept-Encoding mentions gzip, as uWSGI's
// router tests it (http-auto-gzip).
func (r *Request) AcceptsGzip() bool { return bytes.Contains(r.AcceptEncoding, []byte("gzip")) }

// finish derives the fields computed from several variables.
func (r *Request) finish(cl []byte) {
	r.ContentLength = ParseContentLength(cl)
	if len(r.Host) == 0 {
		r.Host = r.ServerName
	}
	r.Chunked = lastTokenIs(r.TransferEnc, "chunked")
	r.KeepAlive = string(r.Proto) == "HTTP/1.1" && !hasToken(r.Connection, "close")
}

// ParseContentLength reads CONTENT_LENGTH as uWSGI does (WP-8): the leading
// decimal digits, 0 when there are none, math.MaxInt64 on overflow.
func ParseContentLength(b []byte) int64 {
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			break
		}
		d := int64(c - '0')
		if n > (math.MaxInt64-d)/10 {
			return math.MaxInt64
		}
		n = n*10 + d
	}
	return n
}

// hasToken reports whether the comma-separated list v holds tok
// (ASCII case-insensitive, surrounding spaces and tabs ignored).
func hasToken(v []byte, tok string) bool {
	for len(v) > 0 {
		i := 0
		for i < len(v) && v[i] != ',' {
			i++
		}
		if equalFoldTrim(v[:i], tok) {
			return true
		}
		if i == len(v) {
			break
		}
		v = v[i+1:]
	}
	return false
}

// lastTokenIs reports whether the last element of the comma-separated list
// v is tok: a body is chunked only if chunked is the final coding.
func lastTokenIs(v []byte, tok string) bool {
	i := len(v) - 1
	for i >= 0 && v[i] != ',' {
		i--
	}
	return equalFoldTrim(v[i+1:], tok)
}

func equalFoldTrim(b []byte, s string) bool {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		if lower(b[i]) != lower(s[i]) {
			return false
		}
	}
	return true
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// AppendVar appends one key/value pair to a variable block. Keys and values
// longer than 65535 bytes cannot be encoded; callers keep within that.
func AppendVar(dst []byte, k, v string) []byte {
	dst = append(dst, byte(len(k)), byte(len(k)>>8))
	dst = append(dst, k...)
	dst = append(dst, byte(len(v)), byte(len(v)>>8))
	return append(dst, v...)
}

// appendVarBytes is AppendVar for a byte-slice value.
func appendVarBytes(dst []byte, k string, v []byte) []byte {
	dst = append(dst, byte(len(k)), byte(len(k)>>8))
	dst = append(dst, k...)
	dst = append(dst, byte(len(v)), byte(len(v)>>8))
	return append(dst, v...)
}
