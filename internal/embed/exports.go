package embed

// Go functions the C side calls on behalf of the uwsgi module. They run in
// workers only (the zygote, mules and spoolers never start the Go runtime),
// so the C callers check gosgi_role() first.

import "C"

import "github.com/gosgi/gosgi/internal/sockets"

// gosgiListenQueue reports the connections waiting in a listening socket's
// accept queue (uwsgi.listen_queue(), the stats "queue" value).
//
//export gosgiListenQueue
func gosgiListenQueue(fd C.int) C.int {
	q, _ := sockets.QueueLen(int(fd))
	return C.int(q)
}
