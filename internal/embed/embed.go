// Package embed runs CPython inside gosgi's worker processes.
//
// The C side (zygote.c, python.c) loads the libpython chosen at run time with
// dlopen, so the binary needs no Python headers or libpython to build, and one
// binary serves every Python 3 on the machine. A process started with
// GOSGI_ROLE=zygote never reaches Go: a C constructor imports the app and
// forks workers, and only the forked workers start the Go runtime. This
// package is the Go view of such a worker: its identity, its boot bundle and
// one Core per request thread.
//
// It does not parse requests, choose apps or write logs: internal/worker does.
package embed

/*
#cgo CFLAGS: -O2 -Wall -Wno-unused-function
#cgo LDFLAGS: -ldl
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"fmt"
	"strings"
	"unsafe"
)

// IsWorker reports whether this process is a worker forked by the zygote.
func IsWorker() bool { return C.gosgi_role() == 2 }

// WorkerID is the worker's id (1..N).
func WorkerID() int { return int(C.gosgi_worker_id()) }

// Bundle returns the boot bundle the master gave the zygote (JSON).
func Bundle() []byte {
	var n C.size_t
	p := C.gosgi_bundle(&n)
	if p == nil {
		return nil
	}
	return C.GoBytes(unsafe.Pointer(p), C.int(n))
}

// Mountpoints lists the loaded apps' mountpoints, in app index order.
func Mountpoints() []string {
	n := int(C.gosgi_app_count())
	out := make([]string, n)
	for i := range out {
		var l C.int
		p := C.gosgi_app_mountpoint(C.int(i), &l)
		out[i] = C.GoStringN(p, l)
	}
	return out
}

// SetScoreboard lets the Python side read the shared scoreboard (uwsgi.workers()).
func SetScoreboard(mem []byte) {
	C.gosgi_set_scoreboard(unsafe.Pointer(&mem[0]), C.size_t(len(mem)))
}

// SetTitle sets the process title ps shows (procname, auto-procname). It
// overwrites the original argv memory, which os.Args strings share: copy
// what is still needed first.
func SetTitle(title string) {
	cs := C.CString(title)
	C.gosgi_set_title(cs)
	C.free(unsafe.Pointer(cs))
}

// WorkerExit runs the app's atexit hooks; call it once, when the worker stops.
func WorkerExit() { C.gosgi_worker_exit() }

// Core is one request thread's Python state and its buffers. Buffers live in
// C memory so the request passed to C holds no Go pointers (cgo rules), and
// the Go side reads and parses straight into them.
type Core struct {
	ID    int
	Head  []byte // read buffer for the request head and the first body bytes
	Vars  []byte // scratch for a uwsgi variable block built from HTTP
	extra []byte // C memory for extra response headers
	req   *C.gosgi_req
	// the next Call's body was read whole (post-buffering); bufFD >= 0
	// holds it in a file
	buffered bool
	bufFD    int
	router   RouterRules // for the next Call
	raw      []byte      // for the next Call: chunked input read with the head
	del      []byte      // C memory: del-header names, one per line
}

// RouterRules are what the http router does to a response without
// Content-Length (http-keepalive, http-auto-chunked, http-auto-gzip).
type RouterRules int

const (
	RouterKeep    RouterRules = C.GOSGI_ROUTER_KEEP    // kept alive: say Connection: close, or...
	RouterChunked RouterRules = C.GOSGI_ROUTER_CHUNKED // ...chunk the body and keep it
	RouterGzip    RouterRules = C.GOSGI_ROUTER_GZIP    // gzip bodies marked uWSGI-Encoding: gzip
)

// Result is what the C side reports about a finished request.
type Result struct {
	Status           int
	Headers          int
	HeaderBytes      int
	BodyBytes        int64
	Exception        bool
	Sendfile         bool
	Switches         int
	WriteError       bool
	ReadError        bool
	ContentLengthSet bool
	ForceLog         bool // the app called uwsgi.log_this_request()
	// AddedVars are the variables the app added (uwsgi.add_var) in the
	// uwsgi block format; C memory, valid until the core's next request.
	AddedVars []byte
	// Chunked: the router rules chunked the body, to its last chunk.
	Chunked bool
	// Via names how a body went out when Go answered (static files,
	// routing): "sendfile", "offload", "route" (LG-2).
	Via string
}

// NewCore prepares core id; it must be called on the OS thread that will
// serve the core's requests (runtime.LockOSThread first).
func NewCore(id, headSize, varsSize int) (*Core, error) {
	if rc := C.gosgi_core_init(C.int(id)); rc != 0 {
		return nil, fmt.Errorf("core %d: python state initialisation failed", id)
	}
	c := &Core{ID: id}
	c.Head = unsafe.Slice((*byte)(C.malloc(C.size_t(headSize))), headSize)
	c.Vars = unsafe.Slice((*byte)(C.malloc(C.size_t(varsSize))), varsSize)
	c.req = (*C.gosgi_req)(C.calloc(1, C.size_t(unsafe.Sizeof(C.gosgi_req{}))))
	c.extra = unsafe.Slice((*byte)(C.malloc(4096)), 4096)
	return c, nil
}

// Call runs app on a request. vars, body, proto and scheme must point into
// c.Head or c.Vars (C memory).
func (c *Core) Call(fd, app int, vars, body []byte, contentLength int64, proto, scheme []byte, keepalive bool, extra []string) Result {
	c.Prepare(fd, app, vars, body, contentLength, proto, scheme, keepalive, extra)
	C.gosgi_handle(C.int(c.ID), c.req)
	return c.Result()
}

// Prepare describes a request to the C side without running it; Call runs
// it at once, gevent mode later from the hub loop (async.go).
func (c *Core) Prepare(fd, app int, vars, body []byte, contentLength int64, proto, scheme []byte, keepalive bool, extra []string) {
	r := c.req
	*r = C.gosgi_req{}
	r.fd = C.int(fd)
	r.vars, r.vars_len = cptr(vars), C.int(len(vars))
	r.body, r.body_len = cptr(body), C.int(len(body))
	r.content_length = C.longlong(contentLength)
	r.proto, r.proto_len = cptr(proto), C.int(len(proto))
	r.scheme, r.scheme_len = cptr(scheme), C.int(len(scheme))
	r.app = C.int(app)
	r.body_fd = -1
	r.router, c.router = C.int(c.router), 0
	r.del, r.del_len = cptr(c.del), C.int(len(c.del))
	if c.buffered {
		r.buffered, r.body_fd = 1, C.int(c.bufFD)
		c.buffered = false
	}
	if len(c.raw) > 0 {
		r.raw, r.raw_len = cptr(c.raw), C.int(len(c.raw))
		c.raw = nil
	}
	if keepalive {
		r.keepalive = 1
	}
	if len(extra) > 0 {
		buf := c.extra[:0]
		n := 0
		for _, h := range extra {
			if len(buf)+len(h)+2 > cap(buf) {
				break // more than 4 KiB of added headers: the rest is dropped
			}
			buf = append(append(buf, h...), "\r\n"...)
			n++
		}
		r.extra, r.extra_len, r.extra_count = cptr(buf), C.int(len(buf)), C.int(n)
	}
}

// Result is what the C side reported about the request it last ran.
func (c *Core) Result() Result {
	r := c.req
	return Result{
		Status:           int(r.status),
		Headers:          int(r.headers),
		HeaderBytes:      int(r.header_bytes),
		BodyBytes:        int64(r.body_bytes),
		Exception:        r.exception != 0,
		Sendfile:         r.sendfile != 0,
		Switches:         int(r.switches),
		WriteError:       r.write_error != 0,
		ReadError:        r.read_error != 0,
		ContentLengthSet: r.content_length_set != 0,
		ForceLog:         r.force_log != 0,
		Chunked:          r.chunked != 0,
		AddedVars:        unsafe.Slice((*byte)(unsafe.Pointer(r.added_vars)), int(r.added_vars_len)),
	}
}

// Route sets the router rules for the next Call's response.
func (c *Core) Route(rules RouterRules) { c.router = rules }

// DeleteHeaders names the app response headers every Call drops
// (del-header, any case).
func (c *Core) DeleteHeaders(names []string) {
	if len(names) == 0 {
		return
	}
	c.del = CBytes(strings.Join(names, "\n"))
}

// BufferedBody marks the next Call's body as read whole before the app
// runs (post-buffering), so wsgi.input can seek: either the body given to
// Call holds all of it (fd < 0), or the file fd does, read from its start.
func (c *Core) BufferedBody(fd int) { c.buffered, c.bufFD = true, fd }

// ChunkedInput gives the next Call the chunk-encoded body bytes read with
// the head (C memory, in c.Head): uwsgi.chunked_read() decodes them, then
// the socket.
func (c *Core) ChunkedInput(raw []byte) { c.raw = raw }

// AllocBody returns n bytes of C memory for a body buffered in memory, or
// nil when there is no memory; FreeBody releases them. Any goroutine may
// call both.
func AllocBody(n int) []byte {
	if n <= 0 {
		return nil
	}
	p := C.malloc(C.size_t(n))
	if p == nil {
		return nil
	}
	return unsafe.Slice((*byte)(p), n)
}

// FreeBody releases memory from AllocBody.
func FreeBody(b []byte) {
	if cap(b) > 0 {
		C.free(unsafe.Pointer(unsafe.SliceData(b)))
	}
}

// BodyLeft reports how many body bytes of the last request are still unread
// in the socket (a keep-alive front must skip them).
func (c *Core) BodyLeft() int64 { return int64(c.req.body_left) }

// CBytes copies s into C memory that lives as long as the process, for
// constants handed to Call.
func CBytes(s string) []byte {
	p := C.CBytes([]byte(s))
	return unsafe.Slice((*byte)(p), len(s))
}

// HarakiriReply answers core id's running request with a 504 Gateway
// Timeout, unless the app already started answering; it is safe to call
// from any goroutine while the core is stuck.
func HarakiriReply(id int) bool { return C.gosgi_harakiri_reply(C.int(id)) == 1 }

// AfterRequest runs uwsgi.after_req_hook if the app set one.
func (c *Core) AfterRequest() { C.gosgi_after_request(C.int(c.ID)) }

func cptr(b []byte) *C.char {
	if len(b) == 0 {
		return nil
	}
	return (*C.char)(unsafe.Pointer(&b[0]))
}
