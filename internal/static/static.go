package static

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/gosgi/gosgi/internal/proto"
)

// Options are the static-file options, as given (repeatable ones in order).
type Options struct {
	Maps         []string // static-map: "/prefix=/dir" (or =/file)
	Maps2        []string // static-map2: "/prefix=/dir", the whole PATH_INFO is appended
	Check        []string // check-static: directories tried with PATH_INFO
	CheckDocroot bool     // check-static-docroot: try DOCUMENT_ROOT + PATH_INFO
	Index        []string // static-index: file names tried for a directory
	SkipExt      []string // static-skip-ext: suffixes never served
	Safe         []string // static-safe: directories symlinks may point into
	Expires      []string // static-expires: "regex seconds" on the file path
	ExpiresURI   []string // static-expires-uri: "regex seconds" on REQUEST_URI
	ExpiresPath  []string // static-expires-path-info: "regex seconds" on PATH_INFO
	ExpiresType  []string // static-expires-type: "mime/type=seconds"
	Gzip         []string // static-gzip: regexes of file paths that may have a .gz twin
	GzipAll      bool     // static-gzip-all: every file may have a .gz twin
	GzipExt      []string // static-gzip-ext: suffixes that may have a .gz twin
	GzipDir      []string // static-gzip-dir: path prefixes that may have a .gz twin
	MimeFiles    []string // mimefile; empty means DefaultMimeFile
	HonourRange  bool     // honour-range
	// Offload reports offload-threads > 0: uWSGI then logs "via offload()"
	// instead of "via sendfile()" (PM-78). gosgi sends the same way.
	Offload bool
	// AddHeaders (add-header) end a file's headers, as uWSGI adds them to
	// every response; DelHeaders (del-header) drop the server's own
	// headers by name, in any case.
	AddHeaders []string `json:"add_headers,omitempty"`
	DelHeaders []string `json:"del_headers,omitempty"`
	// Log receives runtime warnings (the security error of a path outside
	// its mapping). Nil discards them.
	Log func(format string, args ...any) `json:"-"`
}

// Enabled reports whether o asks for any static serving at all; without it
// no Server is needed and no MIME table is read.
func Enabled(o *Options) bool {
	return len(o.Maps) > 0 || len(o.Maps2) > 0 || len(o.Check) > 0 || o.CheckDocroot
}

type mapping struct {
	prefix []byte
	dir    string // as configured
	real   string // realpath of dir (what served files must stay under)
	file   bool   // the mapping names a file, served for the exact prefix
	whole  bool   // static-map2: append the whole PATH_INFO
}

type expiry struct {
	re    *regexp.Regexp
	key   string // static-expires-type: the MIME type
	delta int64
}

// Server answers static requests. It is safe for concurrent use by cores.
type Server struct {
	maps     []mapping
	checks   []mapping
	docroot  bool
	index    []string
	skip     []string
	safe     []string
	exp      []expiry
	expURI   []expiry
	expPath  []expiry
	expType  []expiry
	gzip     []*regexp.Regexp
	gzipAll  bool
	gzipExt  []string
	gzipDir  []string
	mime     MimeTable
	rng      bool
	via      string
	log      func(string, ...any)
	messages []string
	addHdr   []string // add-header lines
	delHdr   []string // del-header names
}

// New compiles the options. Directories that do not exist yet are kept
// (uWSGI maps them too; requests fall through until they appear).
func New(o Options) (*Server, error) {
	s := &Server{docroot: o.CheckDocroot, index: o.Index, skip: o.SkipExt, safe: o.Safe,
		gzipAll: o.GzipAll, gzipExt: o.GzipExt, gzipDir: o.GzipDir, rng: o.HonourRange, log: o.Log, via: "sendfile",
		addHdr: o.AddHeaders, delHdr: o.DelHeaders}
	if o.Offload {
		s.via = "offload"
	}
	if s.log == nil {
		s.log = func(string, ...any) {}
	}
	for _, list := range []struct {
		vals  []string
		whole bool
	}{{o.Maps, false}, {o.Maps2, true}} {
		for _, v := range list.vals {
			prefix, dir, ok := strings.Cut(v, "=")
			if !ok || prefix == "" || dir == "" {
				return nil, fmt.Errorf("static-map %q: want /mountpoint=/dir", v)
			}
			m := mapping{prefix: []byte(prefix), dir: dir, real: realDir(dir), whole: list.whole}
			var st unix.Stat_t
			if unix.Stat(dir, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFREG {
				m.file = true
			}
			s.maps = append(s.maps, m)
			s.messages = append(s.messages, fmt.Sprintf("[uwsgi-static] added mapping for %s => %s", prefix, dir))
		}
	}
	for _, dir := range o.Check {
		s.checks = append(s.checks, mapping{dir: dir, real: realDir(dir), whole: true})
		s.messages = append(s.messages, fmt.Sprintf("[uwsgi-static] added check for %s", dir))
	}
	var err error
	if s.exp, err = compileExpiries("static-expires", o.Expires); err != nil {
		return nil, err
	}
	if s.expURI, err = compileExpiries("static-expires-uri", o.ExpiresURI); err != nil {
		return nil, err
	}
	if s.expPath, err = compileExpiries("static-expires-path-info", o.ExpiresPath); err != nil {
		return nil, err
	}
	for _, v := range o.ExpiresType {
		typ, secs, ok := strings.Cut(v, "=")
		n, perr := strconv.ParseInt(strings.TrimSpace(secs), 10, 64)
		if !ok || perr != nil {
			return nil, fmt.Errorf("static-expires-type %q: want mime/type=seconds", v)
		}
		s.expType = append(s.expType, expiry{key: typ, delta: n})
	}
	for _, v := range o.Gzip {
		re, err := regexp.Compile(v)
		if err != nil {
			return nil, fmt.Errorf("static-gzip %q: %w", v, err)
		}
		s.gzip = append(s.gzip, re)
	}
	files := o.MimeFiles
	if len(files) == 0 {
		files = []string{DefaultMimeFile}
	}
	mime, msgs, err := LoadMime(files)
	if err != nil {
		return nil, err
	}
	s.mime = mime
	s.messages = append(s.messages, msgs...)
	return s, nil
}

// Messages returns the startup lines uWSGI prints for these options, in
// its order: "[uwsgi-static] added mapping for /p => /dir", "added check
// for", then one "building mime-types dictionary" line per table (PM-79).
func (s *Server) Messages() []string { return s.messages }

// compileExpiries parses "regex seconds" values (split at the first space,
// as uWSGI does).
func compileExpiries(opt string, vals []string) ([]expiry, error) {
	var out []expiry
	for _, v := range vals {
		pat, secs, ok := strings.Cut(v, " ")
		n, perr := strconv.ParseInt(strings.TrimSpace(secs), 10, 64)
		if !ok || perr != nil {
			return nil, fmt.Errorf("%s %q: want \"regex seconds\"", opt, v)
		}
		re, err := regexp.Compile(pat)
		if err != nil {
			return nil, fmt.Errorf("%s %q: %w", opt, v, err)
		}
		out = append(out, expiry{re: re, delta: n})
	}
	return out, nil
}

func realDir(dir string) string {
	if r, err := filepath.EvalSymlinks(dir); err == nil {
		if a, err := filepath.Abs(r); err == nil {
			return a
		}
	}
	return filepath.Clean(dir)
}

// Target is a file Match chose for a request.
type Target struct {
	Path    string // resolved path of the file
	Size    int64
	ModTime int64 // unix seconds
	// Status is non-zero when the request must be refused instead of
	// served (400 for a NUL byte in a mapped path).
	Status int
}

// pathMax bounds the file names Match builds (PATH_MAX on Linux).
const pathMax = 4096

// Match reports whether a static file answers r: a mapping whose prefix
// starts PATH_INFO (static-map, static-map2 in order), then DOCUMENT_ROOT
// (check-static-docroot), then each check-static directory, must yield a
// regular file (or a directory holding a static-index file) that resolves
// inside it, for a GET or HEAD, without a skipped extension. Otherwise the
// request goes to the app. No allocation happens unless a file is found.
func (s *Server) Match(r *proto.Request) (Target, bool) {
	path := r.PathInfo
	for i := range s.maps {
		m := &s.maps[i]
		if !bytes.HasPrefix(path, m.prefix) {
			continue
		}
		rest := path[len(m.prefix):]
		if m.whole {
			rest = path
		}
		if m.file {
			if len(rest) != 0 {
				continue
			}
			if t, ok := s.try(r, m.dir, nil, m.real, true); ok {
				return t, true
			}
			continue
		}
		if t, ok := s.try(r, m.dir, rest, m.real, false); ok {
			return t, true
		}
	}
	if s.docroot && len(r.DocRoot) > 0 {
		if t, ok := s.try(r, "", path, "", false); ok {
			return t, true
		}
	}
	for i := range s.checks {
		c := &s.checks[i]
		if t, ok := s.try(r, c.dir, path, c.real, false); ok {
			return t, true
		}
	}
	return Target{}, false
}

// try checks dir + "/" + rest. An empty dir means the request's
// DOCUMENT_ROOT (check-static-docroot), resolved per request.
func (s *Server) try(r *proto.Request, dir string, rest []byte, real string, isFile bool) (Target, bool) {
	var buf [pathMax + 1]byte
	n := 0
	if dir == "" {
		if len(r.DocRoot) > pathMax {
			return Target{}, false
		}
		n = copy(buf[:], r.DocRoot)
	} else {
		n = copy(buf[:], dir)
	}
	if !isFile {
		if n+1+len(rest) > pathMax {
			return Target{}, false
		}
		buf[n] = '/'
		n++
		n += copy(buf[n:], rest)
	}
	if bytes.IndexByte(buf[:n], 0) >= 0 {
		// A %00 in the URL: uWSGI would cut the name there and serve
		// another file; refuse the request instead.
		return Target{Status: 400}, true
	}
	buf[n] = 0
	var st unix.Stat_t
	if statRaw(&buf[0], &st) != nil {
		return Target{}, false
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
	case unix.S_IFDIR:
		found := false
		for _, idx := range s.index {
			m := n
			if m == 0 || buf[m-1] != '/' {
				if m+1 > pathMax {
					break
				}
				buf[m] = '/'
				m++
			}
			if m+len(idx) > pathMax {
				continue
			}
			m += copy(buf[m:], idx)
			buf[m] = 0
			if statRaw(&buf[0], &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFREG {
				n = m
				found = true
				break
			}
		}
		if !found {
			return Target{}, false
		}
	default:
		return Target{}, false
	}
	if !isGetOrHead(r.Method) {
		return Target{}, false
	}
	// A file exists: from here on allocating is fine.
	name := string(buf[:n])
	resolved, err := filepath.EvalSymlinks(name)
	if err != nil {
		return Target{}, false
	}
	if !filepath.IsAbs(resolved) {
		if resolved, err = filepath.Abs(resolved); err != nil {
			return Target{}, false
		}
	}
	if real == "" {
		real = realDir(string(r.DocRoot))
	}
	if !under(resolved, real) && !s.isSafe(resolved) {
		s.log("[uwsgi-fileserve] security error: %s is not under %s or a safe path", resolved, real)
		return Target{}, false
	}
	for _, ext := range s.skip {
		if strings.HasSuffix(resolved, ext) {
			return Target{}, false
		}
	}
	return Target{Path: resolved, Size: st.Size, ModTime: st.Mtim.Sec}, true
}

func (s *Server) isSafe(p string) bool {
	for _, d := range s.safe {
		if under(p, filepath.Clean(d)) {
			return true
		}
	}
	return false
}

// under reports whether p is dir or inside it (a real path boundary, not a
// string prefix: /srv/static2 is not under /srv/static).
func under(p, dir string) bool {
	if dir == "/" {
		return true
	}
	return p == dir || strings.HasPrefix(p, dir) && p[len(dir)] == '/'
}

func isGetOrHead(m []byte) bool { return string(m) == "GET" || string(m) == "HEAD" }

// statRaw stats a NUL-terminated name without converting it to a string.
func statRaw(name *byte, st *unix.Stat_t) error {
	_, _, e := syscall.Syscall6(unix.SYS_NEWFSTATAT, atFDCWD, uintptr(unsafe.Pointer(name)),
		uintptr(unsafe.Pointer(st)), 0, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// Result is what the request log line needs about a static response.
type Result struct {
	Status      int
	Headers     int   // response headers, status line not counted
	HeaderBytes int   // the whole head, status line and blank line included
	BodyBytes   int64 // file bytes sent
	// Via is "sendfile" or "offload" when a body was sent (LG-2), "" for
	// HEAD, 304, 416 and refusals.
	Via string
	// Pending is set when the socket is non-blocking and its buffer
	// filled up: finish it in a goroutine (Transfer.Finish). BodyBytes
	// then counts what went out so far; uWSGI's offload logs
	// BodyBytes+Pending.Left() at once, with "via offload()".
	Pending *Transfer
}

// ErrShortWrite is returned when the client stopped reading before the
// whole response went out (socket send timeout or reset).
var ErrShortWrite = errors.New("static: short write")

// Serve answers r with t on the socket fd and returns the figures of the
// log line. On a blocking fd (with SO_SNDTIMEO set by the caller) it sends
// everything; on a non-blocking fd it sends what fits and returns the rest
// in Result.Pending. block is the
// request's variable block (If-Modified-Since, Range, Accept-Encoding are
// read from it); start is when the request began (Expires is relative to
// it, as in uWSGI). A write error is returned with the partial Result.
func (s *Server) Serve(fd int, t *Target, r *proto.Request, block []byte, start time.Time) (Result, error) {
	proto := r.Proto
	if len(proto) == 0 {
		proto = []byte("HTTP/1.0")
	}
	head := make([]byte, 0, 512)
	if t.Status != 0 {
		head = appendStatus(head, proto, "400 Bad Request")
		head = append(head, "Content-Type: text/plain\r\nContent-Length: 12\r\n\r\nBad Request\n"...)
		res := Result{Status: 400, Headers: 2, HeaderBytes: len(head) - 12, BodyBytes: 12}
		return res, writeAll(fd, head)
	}
	path, size, mtime := t.Path, t.Size, t.ModTime
	mime := s.mime.Lookup(path)
	gz := false
	if s.wantGzip(path) && acceptsGzip(lookupVar(block, "HTTP_ACCEPT_ENCODING")) {
		var st unix.Stat_t
		if unix.Stat(path+".gz", &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFREG {
			path, size, mtime, gz = path+".gz", st.Size, st.Mtim.Sec, true
		}
	}
	if ims, ok := ParseHTTPDate(lookupVar(block, "HTTP_IF_MODIFIED_SINCE")); ok && mtime <= ims {
		head = appendStatus(head, proto, "304 Not Modified")
		head, n := s.editHeaders(head, 0)
		head = append(head, "\r\n"...)
		return Result{Status: 304, Headers: n, HeaderBytes: len(head)}, writeAll(fd, head)
	}
	from, length := int64(0), size
	status := 200
	var rng RangeState
	var to int64
	if s.rng {
		from, to, rng = ParseRange(lookupVar(block, "HTTP_RANGE"), size)
	}
	res := Result{}
	switch rng {
	case RangeInvalid:
		head = appendStatus(head, proto, "416 Requested Range Not Satisfiable")
		head = append(head, "Content-Range: bytes */"...)
		head = strconv.AppendInt(head, size, 10)
		head = append(head, "\r\n\r\n"...)
		return Result{Status: 416, Headers: 1, HeaderBytes: len(head)}, writeAll(fd, head)
	case RangeValid:
		status, length = 206, to-from+1
		head = appendStatus(head, proto, "206 Partial Content")
	default:
		from = 0
		head = appendStatus(head, proto, "200 OK")
	}
	now := start.Unix()
	n := 0
	// uWSGI's header order: Expires (file path, PATH_INFO, URI rules),
	// Content-Encoding, Content-Type, Expires (type rule), Content-Length,
	// Content-Range, Last-Modified.
	for _, rule := range [...]struct {
		list    []expiry
		subject []byte
	}{{s.exp, []byte(path)}, {s.expPath, r.PathInfo}, {s.expURI, r.URI}} {
		for _, x := range rule.list {
			if x.re.Match(rule.subject) {
				head = appendDateHeader(head, "Expires", now+x.delta)
				n++
				break
			}
		}
	}
	if gz {
		head = append(head, "Content-Encoding: gzip\r\n"...)
		n++
	}
	if mime != "" {
		head = append(head, "Content-Type: "...)
		head = append(head, mime...)
		head = append(head, "\r\n"...)
		n++
		for _, x := range s.expType {
			if x.key == mime {
				head = appendDateHeader(head, "Expires", now+x.delta)
				n++
				break
			}
		}
	}
	head = append(head, "Content-Length: "...)
	head = strconv.AppendInt(head, length, 10)
	head = append(head, "\r\n"...)
	n++
	if rng == RangeValid {
		head = append(head, "Content-Range: bytes "...)
		head = strconv.AppendInt(head, from, 10)
		head = append(head, '-')
		head = strconv.AppendInt(head, to, 10)
		head = append(head, '/')
		head = strconv.AppendInt(head, size, 10)
		head = append(head, "\r\n"...)
		n++
	}
	head = appendDateHeader(head, "Last-Modified", mtime)
	n++
	head, n = s.editHeaders(head, n)
	head = append(head, "\r\n"...)
	res = Result{Status: status, Headers: n, HeaderBytes: len(head)}
	if string(r.Method) == "HEAD" {
		return res, writeAll(fd, head)
	}
	f, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		// The file vanished between Match and Serve: nothing sent yet, so
		// answer 404 rather than a head promising bytes that do not exist.
		msg := appendStatus(make([]byte, 0, 64), proto, "404 Not Found")
		msg = append(msg, "Content-Type: text/plain\r\nContent-Length: 10\r\n\r\nNot Found\n"...)
		return Result{Status: 404, Headers: 2, HeaderBytes: len(msg) - 10, BodyBytes: 10}, writeAll(fd, msg)
	}
	res.Via = s.via
	tr := &Transfer{file: f, off: from, left: length, path: path}
	wrote, err := writeSome(fd, head)
	if err == unix.EAGAIN {
		tr.head = head[wrote:]
		res.Pending = tr
		return res, nil
	}
	if err != nil {
		tr.Close()
		return res, fmt.Errorf("write response head: %w", err)
	}
	sent, err := tr.send(fd)
	res.BodyBytes = sent
	if err == unix.EAGAIN {
		res.Pending = tr
		return res, nil
	}
	tr.Close()
	return res, err
}

// Transfer is the part of a response Serve could not send without
// blocking: on a non-blocking socket whose buffer is full, Serve returns
// it in Result.Pending instead of waiting, so the core goes back to work
// and a goroutine finishes the transfer with Finish (uWSGI's offload
// threads do the same job, PM-78). The caller owns it and must call Close
// (Finish does).
type Transfer struct {
	head []byte // unsent part of the response head
	file int
	off  int64 // next file offset to send
	left int64 // file bytes still to send
	path string
}

// Left is the number of bytes (head and body) still to send.
func (t *Transfer) Left() int64 { return int64(len(t.head)) + t.left }

// Close releases the file.
func (t *Transfer) Close() {
	if t.file >= 0 {
		unix.Close(t.file)
		t.file = -1
	}
}

// send writes the head remainder, then file bytes with sendfile, until
// done or the socket would block (EAGAIN, returned as is). It returns the
// file bytes sent.
func (t *Transfer) send(fd int) (int64, error) {
	for len(t.head) > 0 {
		n, err := writeSome(fd, t.head)
		t.head = t.head[n:]
		if err != nil {
			return 0, err
		}
	}
	var sent int64
	for t.left > 0 {
		w, err := unix.Sendfile(fd, t.file, &t.off, int(min(t.left, 1<<30)))
		if w > 0 {
			sent += int64(w)
			t.left -= int64(w)
		}
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return sent, err
		case err != nil:
			return sent, fmt.Errorf("sendfile %s: %w", t.path, err)
		case w == 0: // the file shrank under us
			return sent, fmt.Errorf("sendfile %s: %w", t.path, ErrShortWrite)
		}
	}
	return sent, nil
}

// Finish sends the rest through conn (the client socket, non-blocking and
// registered with Go's netpoller, e.g. an *os.File from os.NewFile or a
// *net.TCPConn), waiting for writability with the netpoller; each wait is
// bounded by timeout (socket-timeout). It closes the file and returns the
// file bytes it sent.
func (t *Transfer) Finish(conn interface {
	SyscallConn() (syscall.RawConn, error)
	SetWriteDeadline(time.Time) error
}, timeout time.Duration) (int64, error) {
	defer t.Close()
	rc, err := conn.SyscallConn()
	if err != nil {
		return 0, fmt.Errorf("finish %s: %w", t.path, err)
	}
	var sent int64
	for t.Left() > 0 {
		if err := conn.SetWriteDeadline(time.Now().Add(timeout)); err != nil {
			return sent, fmt.Errorf("finish %s: %w", t.path, err)
		}
		var serr error
		werr := rc.Write(func(fd uintptr) bool {
			var n int64
			n, serr = t.send(int(fd))
			sent += n
			return serr != unix.EAGAIN // false: wait until writable, then retry
		})
		if werr != nil {
			return sent, fmt.Errorf("finish %s: %w", t.path, werr)
		}
		if serr != nil {
			return sent, serr
		}
	}
	return sent, nil
}

// writeSome writes b once (retrying EINTR) and reports what went out.
func writeSome(fd int, b []byte) (int, error) {
	for {
		n, err := unix.Write(fd, b)
		if err == unix.EINTR {
			continue
		}
		if n < 0 {
			n = 0
		}
		if err == nil && n == 0 && len(b) > 0 {
			return 0, ErrShortWrite
		}
		return n, err
	}
}

func (s *Server) wantGzip(path string) bool {
	if s.gzipAll {
		return true
	}
	for _, d := range s.gzipDir {
		if strings.HasPrefix(path, d) {
			return true
		}
	}
	for _, e := range s.gzipExt {
		if strings.HasSuffix(path, e) {
			return true
		}
	}
	for _, re := range s.gzip {
		if re.MatchString(path) {
			return true
		}
	}
	return false
}

// acceptsGzip: uWSGI only looks for the substring "gzip" in
// Accept-Encoding; a "gzip;q=0" refusal is honoured here as well.
func acceptsGzip(v []byte) bool {
	for len(v) > 0 {
		var tok []byte
		if i := bytes.IndexByte(v, ','); i >= 0 {
			tok, v = v[:i], v[i+1:]
		} else {
			tok, v = v, nil
		}
		name, params, _ := bytes.Cut(tok, []byte(";"))
		if !bytes.EqualFold(trimSpace(name), []byte("gzip")) {
			continue
		}
		p := trimSpace(params)
		if bytes.HasPrefix(p, []byte("q=0")) && strings.Trim(string(p[3:]), ".0") == "" {
			return false
		}
		return true
	}
	return false
}

func appendStatus(dst, proto []byte, status string) []byte {
	dst = append(dst, proto...)
	dst = append(dst, ' ')
	dst = append(dst, status...)
	return append(dst, "\r\n"...)
}

func appendDateHeader(dst []byte, name string, sec int64) []byte {
	dst = append(dst, name...)
	dst = append(dst, ": "...)
	dst = AppendHTTPDate(dst, sec)
	return append(dst, "\r\n"...)
}

// writeAll writes b to the blocking fd, retrying short writes and EINTR.
func writeAll(fd int, b []byte) error {
	for len(b) > 0 {
		n, err := unix.Write(fd, b)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("write response head: %w", err)
		}
		if n == 0 {
			return ErrShortWrite
		}
		b = b[n:]
	}
	return nil
}

// atFDCWD is AT_FDCWD (-100) as the syscall argument.
var atFDCWD = func() uintptr { v := unix.AT_FDCWD; return uintptr(v) }()

// FileTarget prepares a response for one named file, for the routing
// action static:PATH. The path comes from a rule and may hold request
// text (static:/srv${PATH_INFO}), so a ".." segment or a NUL byte is
// refused (ok=false, or Status 400 for NUL) and the file must be regular.
// Only GET and HEAD are served, as for mapped files.
func (s *Server) FileTarget(path string, r *proto.Request) (Target, bool) {
	if strings.IndexByte(path, 0) >= 0 {
		return Target{Status: 400}, true
	}
	if !isGetOrHead(r.Method) || hasDotDot(path) {
		return Target{}, false
	}
	var st unix.Stat_t
	if unix.Stat(path, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return Target{}, false
	}
	return Target{Path: path, Size: st.Size, ModTime: st.Mtim.Sec}, true
}

func hasDotDot(p string) bool {
	for _, seg := range strings.Split(p, "/") {
		if seg == ".." {
			return true
		}
	}
	return false
}

// editHeaders applies add-header and del-header to a file's head (Serve's
// local proto shadows the package there).
func (s *Server) editHeaders(head []byte, n int) ([]byte, int) {
	return proto.EditHeaders(head, n, s.delHdr, s.addHdr)
}
