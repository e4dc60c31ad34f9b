package embed

/*
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// Gevent mode: the worker's cores are greenlets under the gevent hub on one
// OS thread. The hub loop (Python) accepts connections and drives each
// request through C; Go takes part only through the handler below, whose
// methods are short calls that never let the hub switch greenlets: a
// greenlet switch copies slices of the C stack, and a Go frame on such a
// slice would corrupt the runtime's view of the thread.

// What AsyncHandler.Head reports.
const (
	HeadMore   = -1 // the head is incomplete: read more
	HeadRun    = 1  // the request is ready (Core.Prepare was called)
	HeadClose  = 2  // answered or dropped: close the connection
	HeadHanded = 3  // answered, and the connection is no longer the core's
)

// AsyncHandler is the Go side of gevent mode, called on the hub thread.
type AsyncHandler interface {
	// Conn: core starts serving connection fd accepted on socket number sock.
	Conn(core, fd, sock int)
	// Head: n bytes of the request head are in the core's Head buffer.
	Head(core, n int) int
	// Finish: the app ran; log it. It reports whether the connection stays
	// open for another request.
	Finish(core int) bool
	// Accepting reports whether new connections may be accepted now (not
	// while the instance is paused).
	Accepting() bool
	// Pending gives core a connection whose head Go already read (the TLS
	// fronts): its fd and the n head bytes now in the core's Head; fd -1
	// when there is none.
	Pending(core int) (fd, n int)
	// Close ends core's connection.
	Close(core int)
	// Drained reports, once the worker stops, whether Go has nothing left
	// for the cores (no connection queued or being read).
	Drained() bool
}

var asyncHandler AsyncHandler

// AsyncInit makes c a greenlet core of gevent mode.
func (c *Core) AsyncInit() error {
	if C.gosgi_async_core(C.int(c.ID), (*C.char)(unsafe.Pointer(&c.Head[0])), C.int(len(c.Head)), c.req) != 0 {
		return fmt.Errorf("async core %d: out of range", c.ID)
	}
	return nil
}

// RunGevent runs the gevent hub loop on the calling thread, which must be
// the locked thread that created core 0, until the loop returns (stopFD
// readable and the requests finished). ncores cores must have been created
// and AsyncInit-ed; socks are the listening fds; wakeFD turns readable when
// Pending has connections.
func RunGevent(h AsyncHandler, ncores int, socks []int, stopFD, wakeFD int) error {
	asyncHandler = h
	n := max(len(socks), 1)
	cs := (*C.int)(C.calloc(C.size_t(n), C.size_t(unsafe.Sizeof(C.int(0)))))
	defer C.free(unsafe.Pointer(cs))
	arr := unsafe.Slice(cs, n)
	for i, fd := range socks {
		arr[i] = C.int(fd)
	}
	if C.gosgi_gevent_run(C.int(ncores), cs, C.int(len(socks)), C.int(stopFD), C.int(wakeFD)) != 0 {
		return fmt.Errorf("gevent loop failed")
	}
	return nil
}

//export gosgiAsyncConn
func gosgiAsyncConn(core, fd, sock C.int) { asyncHandler.Conn(int(core), int(fd), int(sock)) }

//export gosgiAsyncHead
func gosgiAsyncHead(core, n C.int) C.int { return C.int(asyncHandler.Head(int(core), int(n))) }

//export gosgiAsyncAccepting
func gosgiAsyncAccepting() C.int {
	if asyncHandler.Accepting() {
		return 1
	}
	return 0
}

//export gosgiAsyncPending
func gosgiAsyncPending(core C.int, n *C.int) C.int {
	fd, got := asyncHandler.Pending(int(core))
	*n = C.int(got)
	return C.int(fd)
}

//export gosgiAsyncClose
func gosgiAsyncClose(core C.int) { asyncHandler.Close(int(core)) }

//export gosgiAsyncDrained
func gosgiAsyncDrained() C.int {
	if asyncHandler.Drained() {
		return 1
	}
	return 0
}

//export gosgiAsyncFinish
func gosgiAsyncFinish(core C.int) C.int {
	if asyncHandler.Finish(int(core)) {
		return 1
	}
	return 0
}
