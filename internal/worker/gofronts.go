package worker

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gosgi/gosgi/internal/boot"
	"github.com/gosgi/gosgi/internal/embed"
	"github.com/gosgi/gosgi/internal/proto"
	"github.com/gosgi/gosgi/internal/route"
	"github.com/gosgi/gosgi/internal/static"
	"github.com/gosgi/gosgi/internal/tlsfront"
)

// What the worker answers in Go, without Python: static files (static-map,
// check-static), internal routing (route*), and the TLS fronts
// (https-socket, https), whose decrypted requests reach the cores as plain
// HTTP/1.1 on a socketpair.

// setupGoFronts builds the static server, the routing table and the TLS
// fronts from the boot bundle. It returns the sockets the cores accept on.
func (w *Worker) setupGoFronts() ([]boot.Socket, error) {
	if o := w.cfg.Static; o != nil {
		opts := *o
		opts.Log = w.log.Printf
		srv, err := static.New(opts)
		if err != nil {
			return nil, err
		}
		w.static = srv
	}
	if len(w.cfg.Routes) > 0 {
		t, err := route.Compile(w.cfg.Routes)
		if err != nil {
			return nil, err
		}
		w.routes = t
	}
	trust, err := proto.ParseTrustedProxies(w.cfg.TrustedProxies)
	if err != nil {
		return nil, err
	}
	w.trust = trust
	var plain []boot.Socket
	for _, s := range w.cfg.Sockets {
		if s.TLS == "" {
			plain = append(plain, s)
			continue
		}
		if err := w.startTLS(s); err != nil {
			return nil, err
		}
	}
	return plain, nil
}

// startTLS serves one https socket in goroutines (tlsfront).
func (w *Worker) startTLS(s boot.Socket) error {
	spec, err := tlsfront.ParseSpec(s.TLS)
	if err != nil {
		return err
	}
	f := os.NewFile(uintptr(s.FD), "https")
	ln, err := net.FileListener(f) // dups the fd: the listener shares the queue
	f.Close()
	if err != nil {
		return err
	}
	sock := s
	sock.Proto = "https"
	if s.Proto == "https-router" {
		sock.Proto = "https-router"
	}
	srv, err := tlsfront.New(tlsfront.Config{
		Spec:           spec,
		Listener:       ln,
		MaxHeaderBytes: w.cfg.BufferSize,
		SocketTimeout:  time.Duration(w.cfg.SocketTimeout) * time.Second,
		MaxBody:        w.cfg.LimitPost,
		Log:            w.log.Printf,
		Handoff: func(c tlsfront.Conn) {
			if len(c.Head) > w.cfg.BufferSize+4 {
				w.log.Printf("invalid HTTP request size (max %d)...skip", w.cfg.BufferSize)
				unix.Close(c.FD)
				return
			}
			port := "" // REMOTE_PORT only from the https router (WP-41)
			if sock.Proto == "https-router" {
				port = c.RemotePort
			}
			p := &pending{conn: conn{fd: c.FD, file: os.NewFile(uintptr(c.FD), "https"), sock: &sock,
				addr: c.RemoteAddr, port: port}, data: c.Head}
			w.ready.push(p)
			go w.wakeCore()
		},
	})
	if err != nil {
		return err
	}
	w.tlsServers = append(w.tlsServers, srv)
	go srv.Serve()
	return nil
}

func (w *Worker) stopTLS() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(w.cfg.SocketTimeout)*time.Second)
	defer cancel()
	for _, s := range w.tlsServers {
		s.Shutdown(ctx)
	}
}

// routeAndStatic applies the routing rules and serves static files before
// the app (uWSGI's order: a static match, then the routes). It reports
// whether the request was answered; otherwise block may have been rewritten.
func (l *loop) routeAndStatic(block []byte, start time.Time) (answered bool, out []byte) {
	w := l.w
	r := &l.req
	var target static.Target
	matched := false
	if w.static != nil {
		target, matched = w.static.Match(r)
	}
	if w.routes != nil {
		d := w.routes.Eval(r, block)
		for _, msg := range d.Logs {
			w.log.Printf("%s", msg)
		}
		if len(d.AddHeaders) > 0 {
			l.extraHeaders = append(append([]string(nil), w.cfg.AddHeaders...), d.AddHeaders...)
		}
		switch d.Outcome {
		case route.Respond:
			l.respondRoute(&d, block, start)
			return true, block
		case route.Static:
			if w.static != nil {
				if t, ok := w.static.FileTarget(d.File, r); ok {
					l.serveStatic(&t, block, start)
					return true, block
				}
			}
		default:
			if d.Rewritten {
				// The new PATH_INFO/QUERY_STRING are appended to a copy of
				// the block in C memory; the later values win (WP-7).
				nb := d.AppendRewrite(append(l.c.Vars[:0:len(l.c.Vars)], block...))
				if l.inC(nb) {
					if err := parseVarsInto(nb, r); err == nil {
						block = nb
						if w.static != nil { // the new path may be a static file
							target, matched = w.static.Match(r)
						}
					}
				}
			}
		}
	}
	if matched {
		l.serveStatic(&target, block, start)
		return true, block
	}
	return false, block
}

// serveStatic answers with a file (PM-79): small files on the core with
// sendfile, the rest of large ones finished by a goroutine so a slow
// reader never holds the core.
func (l *loop) serveStatic(t *static.Target, block []byte, start time.Time) {
	w := l.w
	fd := l.conn.fd
	big := t.Size > 256*1024 || l.async != nil // gevent mode: never block the hub on a slow reader
	if big {
		unix.SetNonblock(fd, true)
	}
	res, err := w.static.Serve(fd, t, &l.req, block, start)
	er := embed.Result{Status: res.Status, Headers: res.Headers, HeaderBytes: res.HeaderBytes, BodyBytes: res.BodyBytes,
		WriteError: err != nil, Via: res.Via}
	w.slot.Cores[l.c.ID%len(w.slot.Cores)].StaticRequests.Add(1)
	if res.Pending != nil {
		er.BodyBytes += res.Pending.Left()
		er.Via = "offload"
		c := l.conn
		if c.file == nil {
			c.file = os.NewFile(uintptr(fd), "client")
		}
		l.conn.handed = true
		timeout := time.Duration(w.cfg.SocketTimeout) * time.Second
		go func() {
			res.Pending.Finish(c.file, timeout)
			c.file.Close()
		}()
	} else if big {
		unix.SetNonblock(fd, false)
	}
	// A directory answered by its static-index file: uWSGI adds the
	// file's PATH_INFO to the request's variables, and its log line counts it.
	if pi := l.req.PathInfo; len(pi) > 0 && pi[len(pi)-1] == '/' && t.Status == 0 {
		block = proto.AppendVar(append([]byte(nil), block...), "PATH_INFO", string(pi)+filepath.Base(t.Path))
		l.req.Pairs++
	}
	l.finish(-1, block, &er, start)
}

// respondRoute writes a routing rule's direct answer (redirect, return...).
func (l *loop) respondRoute(d *route.Decision, block []byte, start time.Time) {
	out, headers, headBytes, bodyBytes := d.AppendResponse(make([]byte, 0, 256), l.req.Proto)
	if len(out) > 0 && (len(l.w.cfg.DelHeaders) > 0 || len(l.w.cfg.AddHeaders) > 0) {
		// add-header and del-header apply to routing answers too, as in uWSGI.
		body := out[headBytes:]
		head, n := proto.EditHeaders(append([]byte(nil), out[:headBytes-2]...), headers, l.w.cfg.DelHeaders, l.w.cfg.AddHeaders)
		headers, headBytes = n, len(head)+2
		out = append(append(head, "\r\n"...), body...)
	}
	if len(out) > 0 {
		unix.Write(l.conn.fd, out)
	}
	if d.NoLog {
		return
	}
	res := embed.Result{Status: d.Status, Headers: headers, HeaderBytes: headBytes, BodyBytes: int64(bodyBytes)}
	l.finish(-1, block, &res, start)
}
