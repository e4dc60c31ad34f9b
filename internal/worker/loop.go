package worker

import (
	"net/netip"
	"os"
	"strconv"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/gosgi/gosgi/internal/boot"
	"github.com/gosgi/gosgi/internal/embed"
	"github.com/gosgi/gosgi/internal/logging"
	"github.com/gosgi/gosgi/internal/proto"
	"github.com/gosgi/gosgi/internal/scoreboard"
	"github.com/gosgi/gosgi/internal/stats"
)

// loop is one core's request loop and its scratch memory; nothing in it is
// shared with other cores.
type loop struct {
	w     *Worker
	c     *embed.Core
	cs    *coreState
	socks []boot.Socket
	polls []unix.PollFd

	conn      conn
	exception bool // the last request raised (reload-on-exception)
	// extraHeaders are response headers a routing rule adds (addheader).
	extraHeaders []string
	varsBuf      []byte // the request's variables and those the app added (log only)
	sa           unix.RawSockaddrAny
	addr         []byte // REMOTE_ADDR text of the current connection
	req          proto.Request
	hopts        proto.HTTPOptions
	line         logging.RequestLine
	extra        logging.RequestExtra // logformat inputs beyond the request line
	logbuf       []byte
	mem          requestMemory
	http         []byte // C-memory "http" and "https" for wsgi.url_scheme
	https        []byte
	// async is set on the cores of gevent mode (gevent.go): the hub loop
	// reads and runs requests, this loop only parses and logs them.
	async *asyncCore
}

func newLoop(w *Worker, c *embed.Core, cs *coreState) *loop {
	l := &loop{
		w:      w,
		c:      c,
		cs:     cs,
		socks:  w.socks,
		addr:   make([]byte, 0, 64),
		logbuf: make([]byte, 0, 1024),
		http:   embed.CBytes("http"),
		https:  embed.CBytes("https"),
	}
	for _, s := range l.socks {
		l.polls = append(l.polls, unix.PollFd{Fd: int32(s.FD), Events: unix.POLLIN})
	}
	l.hopts = proto.HTTPOptions{
		ServerName:       w.spec.Hostname,
		ManageScriptName: w.cfg.ManageScriptName,
		MaxVars:          w.cfg.MaxVars,
		BufferSize:       w.cfg.BufferSize,
	}
	l.line.Pid = w.pid
	l.line.Core = c.ID
	l.line.Micros = w.cfg.LogMicros
	l.extra.WorkerID = w.id
	l.extra.Metric = w.metricFunc()
	return l
}

func (l *loop) run() {
	w := l.w
	for {
		if p := w.ready.pop(); p != nil {
			l.servePending(p)
			continue
		}
		if w.stopping.Load() {
			if w.inflight.Load() == 0 && w.ready.n.Load() == 0 && w.tlsStopped.Load() {
				return
			}
			time.Sleep(time.Millisecond) // hand-offs still reading: serve them first
			continue
		}
		if w.board.Header.Paused.Load() == 1 { // PM-28: no new connections
			time.Sleep(50 * time.Millisecond)
			continue
		}
		l.cs.idle.Store(true)
		if w.ready.n.Load() > 0 {
			l.cs.idle.Store(false)
			continue
		}
		fd, sock, err := l.accept()
		l.cs.idle.Store(false)
		if err != nil {
			if err == unix.EINTR || err == unix.EAGAIN || err == unix.ECONNABORTED {
				continue
			}
			w.log.Printf("accept(): %v", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		l.conn = conn{fd: fd, sock: sock}
		if sock.Proto == "router" && w.cfg.HTTPTimeout > 0 && w.cfg.HTTPTimeout != w.cfg.SocketTimeout {
			setClientTimeout(fd, w.clientTimeout(sock))
		}
		if sock.Proto != "uwsgi" {
			l.conn.addr = l.remoteAddr()
			if sock.Proto == "router" { // WP-41
				l.conn.port = l.remotePort()
			}
		}
		l.serve(0)
		l.done()
	}
}

// conn is the connection a core is serving.
type conn struct {
	fd     int
	file   *os.File // set once the connection went through a hand-off
	sock   *boot.Socket
	addr   string // REMOTE_ADDR (HTTP fronts)
	port   string // REMOTE_PORT (router front only)
	handed bool   // given to a goroutine: not ours to close any more
	keep   bool   // keep-alive: hand back to a goroutine for the next request
	// body was read whole by a goroutine (post-buffering); start is then
	// when the request arrived.
	body  *bufferedBody
	start time.Time
}

// done closes the connection, or hands a keep-alive one back to a goroutine.
func (l *loop) done() {
	c := &l.conn
	if c.body != nil {
		c.body.release()
		c.body = nil
	}
	c.start = time.Time{} // a kept connection's next request starts afresh
	switch {
	case c.handed:
	case c.keep:
		l.w.handoff(l.conn, nil)
	case c.file != nil:
		c.file.Close()
	default:
		unix.Close(c.fd)
	}
	l.conn = conn{}
}

// servePending serves a connection whose head a goroutine finished reading.
func (l *loop) servePending(p *pending) {
	n := copy(l.c.Head, p.data)
	l.conn = p.conn
	l.serve(n)
	l.done()
}

// accept waits for a connection on one of the worker's sockets. With one
// socket it blocks in accept4 (the listener is blocking and carries
// SO_RCVTIMEO, so the call returns periodically); with several the master
// made them non-blocking and poll picks a ready one.
func (l *loop) accept() (int, *boot.Socket, error) {
	if len(l.socks) == 0 { // TLS fronts only: connections come from the queue
		select {
		case <-l.w.wake:
		case <-time.After(time.Second):
		}
		return -1, nil, unix.EAGAIN
	}
	sock := 0
	if len(l.socks) > 1 {
		timeout := l.w.cfg.SocketTimeout * 1000
		n, err := unix.Poll(l.polls, timeout)
		if err != nil {
			return -1, nil, err
		}
		if n == 0 {
			return -1, nil, unix.EAGAIN
		}
		for i := range l.polls {
			if l.polls[i].Revents != 0 {
				sock = i
				break
			}
		}
	}
	salen := uint32(unsafe.Sizeof(l.sa))
	// Raw: the core keeps its P while it blocks, so the scheduler does not
	// hand the P off and back around every accept (measured: ~10% of the
	// CPU per request). This is safe only because the listener carries
	// SO_RCVTIMEO: a signal (GC preemption, stop) always interrupts the call.
	r, _, e := syscall.RawSyscall6(unix.SYS_ACCEPT4, uintptr(l.socks[sock].FD),
		uintptr(unsafe.Pointer(&l.sa)), uintptr(unsafe.Pointer(&salen)), unix.SOCK_CLOEXEC, 0, 0)
	if e != 0 {
		return -1, nil, e
	}
	return int(r), &l.socks[sock], nil
}

// read reads into buf, retrying on EINTR; it returns 0 on EOF. Like
// accept, it is a raw syscall: accepted sockets inherit the listener's
// SO_RCVTIMEO, so a signal always interrupts it.
func read(fd int, buf []byte) (int, error) {
	if len(buf) == 0 {
		return 0, nil
	}
	for {
		r, _, e := syscall.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)))
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return 0, e
		}
		return int(r), nil
	}
}

// serve handles one request on l.conn; n bytes of it are already in Head.
func (l *loop) serve(n int) {
	start := time.Now()
	if !l.conn.start.IsZero() {
		start = l.conn.start
	}
	if l.conn.sock.Proto == "uwsgi" {
		l.serveUwsgi(n, start)
	} else {
		l.serveHTTP(n, start)
	}
}

// fill reads more of the head. The first read happens on the core; if the
// head is still incomplete after it, the connection goes to a goroutine
// (handed is set) so a slow client never holds the core.
func (l *loop) fill(n int, reads *int) (int, bool) {
	if l.async != nil { // the hub loop reads, then parses again
		l.async.needMore = true
		return n, false
	}
	if *reads > 0 {
		l.w.handoff(l.conn, l.c.Head[:n])
		l.conn.handed = true
		return n, false
	}
	*reads++
	m, err := read(l.conn.fd, l.c.Head[n:])
	if err != nil || m == 0 {
		return n, false // client gone or socket-timeout: nothing to answer
	}
	return n + m, true
}

// serveUwsgi handles one uwsgi-protocol request (WP-1..WP-9).
func (l *loop) serveUwsgi(n int, start time.Time) {
	buf := l.c.Head
	reads := 0
	ok := true
	for n < proto.HeaderSize {
		if n, ok = l.fill(n, &reads); !ok {
			return
		}
	}
	h := proto.ParseHeader(buf)
	if h.Modifier1 != 0 && h.Modifier1 != 30 { // 30 behaves like 0 (WP-12, QK-3)
		l.w.log.Printf("-- unavailable modifier requested: %d --", h.Modifier1)
		l.w.board.Header.TotalRequests.Add(1) // uWSGI counts it, without a log line
		l.w.slot.Requests.Add(1)
		return
	}
	if err := proto.CheckSize(h, l.w.cfg.BufferSize); err != nil {
		l.w.log.Printf("%v", err)
		return
	}
	end := proto.HeaderSize + int(h.Size)
	for n < end {
		if n, ok = l.fill(n, &reads); !ok {
			return
		}
	}
	block := buf[proto.HeaderSize:end]
	if err := proto.ParseVars(block, l.w.cfg.MaxVars, &l.req); err != nil {
		// WP-4/WP-6: dropped without a reply, but still logged as uWSGI does.
		l.w.log.Printf("%v", err)
		l.finish(-1, block, &embed.Result{Status: 500}, start)
		return
	}
	l.dispatch(block, end, n, start)
}

// serveHTTP handles one request on an http-socket (WP-20..WP-30).
func (l *loop) serveHTTP(n int, start time.Time) {
	buf := l.c.Head
	l.hopts.ServerPort = l.conn.sock.ServerPort
	l.hopts.RemoteAddr = l.conn.addr
	l.hopts.RemotePort = l.conn.port
	l.hopts.Router = l.conn.sock.Proto == "router" || l.conn.sock.Proto == "https-router"
	l.hopts.HTTPS = l.conn.sock.Proto == "https" || l.conn.sock.Proto == "https-router" // WP-29
	// Keep-alive fronts refuse heads whose body length is ambiguous
	// (request smuggling); plain http-socket keeps uWSGI's leniency.
	l.hopts.RejectAmbiguousLength = l.conn.sock.Proto != "http"
	reads := 0
	ok := true
	for {
		if n > 0 {
			headLen, block, err := proto.ParseHTTP(buf[:n], l.c.Vars[:0], &l.hopts, &l.req)
			if err == nil {
				if !l.inC(block) {
					l.w.log.Printf("request head of %d bytes does not fit the variable buffer. skip.", len(block))
					return
				}
				l.dispatch(block, headLen, n, start)
				return
			}
			if err == proto.ErrInvalidHTTP || err == proto.ErrAmbiguousLength {
				// uWSGI hands such heads to the app (WP-30); gosgi refuses
				// them, as a front-end proxy would (docs/compat.md).
				l.w.log.Verbosef("%v", err) // uWSGI dates this one
				unix.Write(l.conn.fd, badRequest)
				l.w.board.Header.TotalRequests.Add(1) // answered: it counts
				l.w.slot.Requests.Add(1)
				return
			}
			if err != proto.ErrIncomplete {
				l.w.log.Printf("%v", err)
				return
			}
		}
		if n, ok = l.fill(n, &reads); !ok {
			return
		}
	}
}

var badRequest = []byte("HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n\r\nBad Request\n")

// inC reports whether block lies in the core's C-memory variable buffer:
// the parser appends there unless the block outgrows it.
func (l *loop) inC(block []byte) bool {
	if len(block) == 0 {
		return true
	}
	lo := uintptr(unsafe.Pointer(&l.c.Vars[0]))
	p := uintptr(unsafe.Pointer(&block[0]))
	return p >= lo && p+uintptr(len(block)) <= lo+uintptr(len(l.c.Vars))
}

// remoteAddr formats the peer address of the accepted connection (WP-22).
func (l *loop) remoteAddr() string {
	a := l.addr[:0]
	switch l.sa.Addr.Family {
	case unix.AF_INET:
		sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(&l.sa))
		a = appendIPv4(a, sa.Addr[:])
	case unix.AF_INET6:
		sa := (*unix.RawSockaddrInet6)(unsafe.Pointer(&l.sa))
		a = netip.AddrFrom16(sa.Addr).Unmap().AppendTo(a)
	default:
		a = append(a, "0.0.0.0"...)
	}
	return string(a)
}

func (l *loop) remotePort() string {
	var p uint16
	switch l.sa.Addr.Family {
	case unix.AF_INET:
		p = (*unix.RawSockaddrInet4)(unsafe.Pointer(&l.sa)).Port
	case unix.AF_INET6:
		p = (*unix.RawSockaddrInet6)(unsafe.Pointer(&l.sa)).Port
	default:
		return ""
	}
	return strconv.Itoa(int(p>>8 | p<<8)) // network byte order
}

func appendIPv4(dst, ip []byte) []byte {
	for i, b := range ip[:4] {
		if i > 0 {
			dst = append(dst, '.')
		}
		dst = strconv.AppendUint(dst, uint64(b), 10)
	}
	return dst
}

// scheme picks wsgi.url_scheme (PY-22, TOP-9): the later of UWSGI_SCHEME
// and X-Forwarded-Proto, else HTTPS or X-Forwarded-Ssl. With trusted-proxy,
// the forwarding headers count only from a trusted client.
func (l *loop) scheme() []byte {
	r := &l.req
	forwarded := l.w.trust.Trusts(r.RemoteAddr, l.conn.sock.Unix && l.conn.sock.Proto != "uwsgi")
	v := r.UwsgiScheme
	if r.ForwardedProtoLast && forwarded {
		v = r.XForwardedProto
	}
	if len(v) > 0 {
		return v
	}
	if on(r.HTTPS) || forwarded && on(r.XForwardedSSL) {
		return l.https
	}
	return l.http
}

func on(v []byte) bool {
	return len(v) > 0 && (v[0] == '1' || len(v) >= 2 && (v[0]|0x20) == 'o' && (v[1]|0x20) == 'n')
}

// selectApp picks the app for the request (PY-6, PY-7): UWSGI_APPID, then
// SCRIPT_NAME equal to a mountpoint, else the default (first) app.
func (l *loop) selectApp() int {
	mounts := l.w.mounts
	key := l.req.ScriptName
	if len(l.req.AppID) > 0 {
		key = l.req.AppID
	}
	if len(key) > 0 {
		for i, m := range mounts {
			if m == string(key) {
				return i
			}
		}
	}
	return 0
}

// call is a request on its way into the app: what dispatch decided
// before the call and needs after it.
type call struct {
	app       int
	block     []byte
	body      []byte // the body bytes read with the head
	start     time.Time
	keep      bool // the front may keep the connection
	pipelined bool // more bytes than the body followed the head
}

// dispatch serves a parsed request: Head[:headLen] is its head, and
// Head[headLen:n] the body bytes read with it.
func (l *loop) dispatch(block []byte, headLen, n int, start time.Time) {
	rc, ok := l.begin(block, headLen, n, start)
	if !ok {
		return
	}
	r := &l.req
	if l.async != nil { // gevent mode: the hub loop runs it (gevent.go)
		l.c.Prepare(l.conn.fd, rc.app, rc.block, rc.body, r.ContentLength, r.Proto, l.scheme(), rc.keep, l.extraHeaders)
		l.async.pending = &rc
		return
	}
	res := l.c.Call(l.conn.fd, rc.app, rc.block, rc.body, r.ContentLength, r.Proto, l.scheme(), rc.keep, l.extraHeaders)
	l.end(rc, &res)
}

// begin routes the request, picks its app and marks the core busy; ok is
// false when the request was answered (or dropped, or handed to a body
// reader) without the app.
func (l *loop) begin(block []byte, headLen, n int, start time.Time) (rc call, ok bool) {
	fd := l.conn.fd
	r := &l.req
	body := l.c.Head[headLen:n]
	if l.w.cfg.LimitPost > 0 && r.ContentLength > l.w.cfg.LimitPost {
		l.refuseTooBig(block, start)
		return rc, false
	}
	// post-buffering: the body is whole before the app runs, in memory
	// (bodyFD -1) or in a file; without it the app reads the socket. In
	// gevent mode a slow body only holds a greenlet: nothing to buffer.
	buffered, bodyFD := l.w.cfg.PostBuffering > 0 && l.async == nil, -1
	if buffered && l.needsBuffering(int64(len(body))) {
		l.bufferBody(l.c.Head[:headLen], body, start)
		return rc, false
	}
	if b := l.conn.body; b != nil {
		if b.failure != "" {
			l.w.log.Printf("%s", b.failure)
			l.finish(-1, block, &embed.Result{Status: 500, Switches: b.waits}, start)
			return rc, false
		}
		body, bodyFD = b.mem, b.fd()
	}
	pipelined := int64(len(body)) > r.ContentLength
	if pipelined {
		if r.Chunked && r.ContentLength == 0 {
			l.c.ChunkedInput(body) // the connection closes after it
		}
		body = body[:r.ContentLength]
	}
	l.extraHeaders = l.w.cfg.AddHeaders
	if l.w.static != nil || l.w.routes != nil {
		answered, nb := l.routeAndStatic(block, start)
		if answered {
			return rc, false
		}
		block = nb
	}
	if len(l.w.mounts) == 0 {
		l.noApp(fd, block, start)
		return rc, false
	}
	app := l.selectApp()
	if l.w.cfg.ManageScriptName {
		if a, nb, ok := l.manageScriptName(block); ok {
			app, block = a, nb
		}
	}
	w := l.w
	core := &w.slot.Cores[l.c.ID%scoreboard.MaxCores]
	us := start.UnixMicro()
	core.RequestStart.Store(us)
	core.InRequest.Store(1)
	w.slot.RequestStart.Store(us)
	w.slot.Busy.Add(1)
	if app < scoreboard.MaxApps {
		w.slot.Apps[app].Requests.Add(1) // ST-13: counts the request in flight
	}
	w.appCounts[app].Add(1) // "req: R/T" counts it from now on too, as uWSGI's does
	if w.cfg.Harakiri > 0 {
		l.cs.current.Store(&running{addr: string(r.RemoteAddr), method: string(r.Method), uri: string(r.URI)})
	}
	// Keep-alive fronts: http11-socket, and the router with http-keepalive
	// (a TLS front's socketpair carries one request).
	keep := r.KeepAlive && !r.Chunked && (l.conn.sock.Proto == "http11" ||
		l.conn.sock.Proto == "router" && w.cfg.HTTPKeepalive)
	if rules := l.routerRules(keep); rules != 0 {
		l.c.Route(rules)
	}
	if buffered {
		l.c.BufferedBody(bodyFD)
	}
	return call{app: app, block: block, body: body, start: start, keep: keep, pipelined: pipelined}, true
}

// end marks the core idle again, counts and logs the request the app
// answered, and recycles the worker when it is time.
func (l *loop) end(rc call, res *embed.Result) {
	w := l.w
	app := rc.app
	core := &w.slot.Cores[l.c.ID%scoreboard.MaxCores]
	w.slot.Busy.Add(-1)
	w.slot.RequestStart.Store(0)
	l.cs.current.Store(nil)
	core.InRequest.Store(0)
	core.RequestStart.Store(0)
	core.Requests.Add(1)
	if res.WriteError {
		core.WriteErrors.Add(1)
	}
	if res.ReadError {
		core.ReadErrors.Add(1)
	}
	if res.Exception && app < scoreboard.MaxApps {
		w.slot.Apps[app].Exceptions.Add(1)
	}
	if res.Exception {
		w.slot.CoreExceptions[l.c.ID%scoreboard.MaxCores].Add(1)
	}
	// WP-29: keep the connection only after a clean, delimited response with
	// the body fully read and nothing pipelined behind it.
	l.conn.keep = rc.keep && (res.ContentLengthSet || res.Chunked) && !res.WriteError && !res.ReadError &&
		!res.Exception && l.c.BodyLeft() == 0 && !rc.pipelined
	l.finish(app, rc.block, res, rc.start)
	if l.async == nil { // the hub loop runs the hook itself (it holds the GIL)
		l.c.AfterRequest()
	}
	l.exception = res.Exception
	l.maybeRecycle()
}

// noApp answers like uWSGI when no app could be loaded (PY-14).
func (l *loop) noApp(fd int, block []byte, start time.Time) {
	l.w.log.Printf("--- no python application found, check your startup logs for errors ---")
	proto := l.req.Proto
	if len(proto) == 0 {
		proto = []byte("HTTP/1.0")
	}
	msg := append(append([]byte{}, proto...), " 500 Internal Server Error\r\nConnection: close\r\nContent-Type: text/plain\r\n\r\nInternal Server Error"...)
	unix.Write(fd, msg)
	res := embed.Result{Status: 500, Headers: 2, HeaderBytes: len(msg) - len("Internal Server Error"), BodyBytes: int64(len("Internal Server Error"))}
	l.finish(-1, block, &res, start)
}

// finish updates the counters and writes the request log line (LG-1).
func (l *loop) finish(app int, block []byte, res *embed.Result, start time.Time) {
	w := l.w
	l.mem.read = false // a new request: its memory is read afresh when wanted
	d := time.Since(start)
	total := w.board.Header.TotalRequests.Add(1)
	w.slot.Requests.Add(1)
	w.slot.DeltaRequests.Add(1)
	w.slot.TX.Add(int64(res.HeaderBytes) + res.BodyBytes)
	us := d.Microseconds()
	w.slot.Latency[stats.LatencyBucket(d)].Add(1)
	w.slot.RunningTime.Add(us)
	w.slot.AvgRT.Store((w.slot.AvgRT.Load() + us) / 2)
	if res.Exception {
		w.slot.Exceptions.Add(1)
	}
	appReq := int64(-1)
	if app >= 0 { // with requests in flight together, it includes them (uWSGI)
		appReq = w.appCounts[app].Load()
	}
	if w.cfg.DisableLogging && !res.ForceLog && !l.logAnyway(res, d) {
		return
	}
	r := &l.req
	ln := &l.line
	ln.App, ln.AppRequests, ln.Total = app, appReq, total
	ln.Addr = r.RemoteAddr
	if w.cfg.LogXForwardedFor && len(r.XForwardedFor) > 0 {
		ln.Addr = r.XForwardedFor
	}
	ln.User = r.RemoteUser
	ln.Vars, ln.VarsBytes = 2*r.Pairs, len(block)
	ln.Start, ln.Duration = start, d
	ln.Method, ln.URI, ln.Proto = r.Method, r.URI, r.Proto
	ln.Size = res.BodyBytes
	ln.Via = res.Via
	if res.Sendfile {
		ln.Via = "sendfile"
	}
	ln.Status, ln.Headers, ln.HeaderBytes, ln.Switches = res.Status, res.Headers, res.HeaderBytes, res.Switches
	buf := l.logbuf[:0]
	var rss, vsz int64
	if w.cfg.MemoryReport { // LG-4
		rss, vsz = l.memory()
		buf = logging.AppendMemoryReport(buf, vsz, rss)
	}
	if w.cfg.LogJSON {
		buf = logging.AppendRequestJSON(buf, ln, w.id)
	} else if w.logFormat != nil {
		if len(res.AddedVars) > 0 { // uwsgi.add_var: %(var.KEY) finds them after the request's
			l.varsBuf = append(append(l.varsBuf[:0], block...), res.AddedVars...)
			block = l.varsBuf
		}
		l.extra.Block, l.extra.RSS, l.extra.VSZ = block, rss, vsz
		buf = w.logFormat.Append(buf, ln, &l.extra)
	} else {
		buf = logging.AppendRequestLine(buf, ln)
	}
	l.logbuf = buf
	if w.reqLog != nil {
		w.reqLog.Line(buf)
		return
	}
	unix.Write(2, buf)
}

// logAnyway reports whether a request is logged despite disable-logging
// (log-4xx, log-5xx, log-slow, log-big, log-zero, log-ioerror).
func (l *loop) logAnyway(res *embed.Result, d time.Duration) bool {
	c := l.w.cfg
	switch {
	case c.Log4xx && res.Status >= 400 && res.Status < 500,
		c.Log5xx && res.Status >= 500,
		c.LogSlow > 0 && d.Milliseconds() >= c.LogSlow,
		c.LogBig > 0 && res.BodyBytes >= c.LogBig,
		c.LogZero && res.BodyBytes == 0,
		c.LogIOError && (res.WriteError || res.ReadError):
		return true
	}
	return false
}

// maybeRecycle ends the worker after max-requests, or once its memory
// reaches reload-on-rss/reload-on-as, never before min-worker-lifetime
// (PM-43, PM-44, PM-45, TOP-17). The request that hit the limit is complete.
func (l *loop) maybeRecycle() {
	w := l.w
	reason := ""
	if max := w.cfg.MaxRequests; max > 0 && w.slot.DeltaRequests.Load() >= max {
		reason = "max-requests"
	}
	if reason == "" && (w.cfg.ReloadOnRSS > 0 || w.cfg.ReloadOnAS > 0) {
		rss, vsz := l.memory()
		switch {
		case w.cfg.ReloadOnRSS > 0 && rss >= w.cfg.ReloadOnRSS:
			reason = "reload-on-rss"
		case w.cfg.ReloadOnAS > 0 && vsz >= w.cfg.ReloadOnAS:
			reason = "reload-on-as"
		}
	}
	if reason == "" && l.exception && w.cfg.ReloadOnException {
		w.log.Printf("... monitored exception detected, respawning worker %d (pid: %d)...", w.id, w.pid)
		w.Stop(ExitRecycled)
		return
	}
	if reason == "" || time.Since(w.started) < time.Duration(w.cfg.MinWorkerLifetime)*time.Second {
		return
	}
	if !w.stopping.Load() && w.slot.Recycle.Load() == 0 {
		if reason != "max-requests" {
			w.log.Printf("worker %d (pid: %d) reached its %s limit", w.id, w.pid, reason)
		}
		w.log.Printf("...The work of process %d is done. Seeya!", w.pid)
		if !w.spec.Master {
			w.Stop(ExitRecycled)
			return
		}
		// The master starts the replacement and then sends SIGHUP: this
		// worker serves until then, so the slot is never empty.
		w.slot.Recycle.Store(int64(w.pid))
	}
}

// requestMemory is the worker's memory after the current request, read
// once for memory-report and reload-on-rss/reload-on-as together.
type requestMemory struct {
	read     bool
	rss, vsz int64
}

// memory returns the worker's resident and virtual size after the current
// request, reading /proc/self once per request, and publishes them for
// stats.
func (l *loop) memory() (rss, vsz int64) {
	if !l.mem.read {
		l.mem.rss, l.mem.vsz = readMemory()
		l.mem.read = true
		l.w.slot.RSS.Store(l.mem.rss)
		l.w.slot.VSZ.Store(l.mem.vsz)
	}
	return l.mem.rss, l.mem.vsz
}

// readMemory reads this process's resident and virtual size; a variable
// so that tests can count the reads.
var readMemory = statm

// statm reads /proc/self/statm.
func statm() (rss, vsz int64) {
	var buf [128]byte
	fd, err := unix.Open("/proc/self/statm", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, 0
	}
	n, _ := unix.Read(fd, buf[:])
	unix.Close(fd)
	var size, resident int64
	field := 0
	for _, c := range buf[:max(n, 0)] {
		switch {
		case c >= '0' && c <= '9' && field == 0:
			size = size*10 + int64(c-'0')
		case c >= '0' && c <= '9' && field == 1:
			resident = resident*10 + int64(c-'0')
		case c == ' ':
			field++
		}
		if field > 1 {
			break
		}
	}
	page := int64(unix.Getpagesize())
	return resident * page, size * page
}

// parseVarsInto re-parses a rewritten block (routing) into r.
func parseVarsInto(block []byte, r *proto.Request) error {
	return proto.ParseVars(block, 0x7fff, r)
}
