// gevent mode: the request path of a worker whose cores are greenlets under
// the gevent hub, all on one OS thread (docs/architecture.md, "gevent mode").
//
// The hub loop is Python (gevent_loop.py). It calls the functions below with
// the GIL held; they run the app and do the socket I/O in C, and wait for a
// socket through the hub (gevent_loop.wait_fd) instead of blocking, so
// other greenlets run meanwhile. Go is entered only through the short
// callbacks declared below (parse a head, log a finished request): none of
// them can switch greenlets, so no Go frame is ever on a stack slice that
// greenlet saves or restores.
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "pyapi.h"
#include "shim.h"

// Go callbacks (async.go).
extern void gosgiAsyncConn(int core, int fd, int sock);
extern int gosgiAsyncHead(int core, int n);
extern int gosgiAsyncFinish(int core);
extern int gosgiAsyncAccepting(void);
extern int gosgiAsyncPending(int core, int *n);
extern void gosgiAsyncClose(int core);
extern int gosgiAsyncDrained(void);

// python.c
PyThreadState *gosgi_core_ts(int id);
void gosgi_core_set_ts(int id, PyThreadState *ts);

int gosgi_async_mode;

#define ASYNC_MAX_CORES 1024

// What async_head reports to the hub loop.
enum { HEAD_WAIT = 0, HEAD_RUN = 1, HEAD_CLOSE = 2, HEAD_HANDED = 3 };
// What gosgiAsyncHead reports: the same, plus "read more".
#define HEAD_MORE (-1)

typedef struct {
	char *head; // the core's head buffer (Go's Core.Head, C memory)
	int cap;
	int n; // head bytes read so far for the current request
	int parse_first; // the head bytes came with the connection: parse them before reading
	int fd;
	gosgi_req *req; // filled by Go (Core.Prepare) before async_run
} async_core;

static async_core acores[ASYNC_MAX_CORES];
static PyObject *wait_fn;  // gevent_loop.wait_fd(fd, write) -> bool
static PyObject *yield_fn; // gevent_loop.yield_now()
static PyObject *environ_items; // ((key, value), ...) every request's environ gets

int gosgi_async_core(int id, char *head, int cap, gosgi_req *req) {
	if (id < 0 || id >= ASYNC_MAX_CORES) return 1;
	acores[id].head = head;
	acores[id].cap = cap;
	acores[id].req = req;
	gosgi_async_mode = 1;
	return 0;
}

static PyObject *araise(PyObject *exc, const char *msg) {
	py.PyErr_SetString(exc, msg);
	return NULL;
}

static async_core *core_arg(PyObject *args, int *id) {
	PyObject *o = py.PyTuple_GetItem(args, 0);
	if (!o) return NULL;
	long v = py.PyLong_AsLong(o);
	if (v < 0 || v >= ASYNC_MAX_CORES || !acores[v].head) {
		araise(PY_EXC(ValueError), "no such async core");
		return NULL;
	}
	*id = (int)v;
	return &acores[v];
}

// gosgi_async_wait suspends the calling greenlet until fd is readable
// (write 0) or writable (write 1). It returns 0 when ready, -1 with errno
// EAGAIN on socket-timeout, -1 with errno EIO when the wait failed. The
// exception of a failed wait is printed: the request path reports the
// I/O error its own way.
int gosgi_async_wait(int fd, int write) {
	if (!wait_fn) {
		errno = EIO;
		return -1;
	}
	PyObject *args = py.PyTuple_New(2);
	py.PyTuple_SetItem(args, 0, py.PyLong_FromLong(fd));
	py.PyTuple_SetItem(args, 1, py.PyBool_FromLong(write));
	PyObject *res = py.PyObject_CallObject(wait_fn, args);
	py.Py_DecRef(args);
	if (!res) {
		py.PyErr_PrintEx(0);
		errno = EIO;
		return -1;
	}
	int ready = res == PY_TRUE;
	py.Py_DecRef(res);
	if (!ready) {
		errno = EAGAIN;
		return -1;
	}
	return 0;
}

// gosgi_async_recv is recv() that waits through the hub when the socket has
// nothing yet; its results are recv()'s.
ssize_t gosgi_async_recv(int fd, void *buf, size_t n) {
	for (;;) {
		ssize_t got = recv(fd, buf, n, MSG_DONTWAIT);
		if (got >= 0) return got;
		if (errno == EINTR) continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) return -1;
		if (gosgi_async_wait(fd, 0) < 0) return -1;
	}
}

void gosgi_async_yield(void) {
	if (!yield_fn) return;
	PyObject *res = py.PyObject_CallObject(yield_fn, NULL);
	if (res)
		py.Py_DecRef(res);
	else
		py.PyErr_PrintEx(0);
}

// gosgi_async_environ adds gevent mode's keys to a request's environ.
int gosgi_async_environ(PyObject *env) {
	if (!environ_items) return 0;
	Py_ssize_t n = py.PyTuple_Size(environ_items);
	for (Py_ssize_t i = 0; i < n; i++) {
		PyObject *kv = py.PyTuple_GetItem(environ_items, i);
		if (py.PyDict_SetItem(env, py.PyTuple_GetItem(kv, 0), py.PyTuple_GetItem(kv, 1)) < 0) return -1;
	}
	return 0;
}

// _gosgi.async_setup(wait_fd, yield_now, environ_items): the hub loop's
// functions, and the (key, value) pairs gevent mode adds to every environ.
static PyObject *async_setup(PyObject *self, PyObject *args) {
	(void)self;
	PyObject *w = py.PyTuple_GetItem(args, 0), *y = py.PyTuple_GetItem(args, 1), *e = py.PyTuple_GetItem(args, 2);
	if (!w || !y || !e) return NULL;
	if (!PY_IS(e, TPFLAGS_TUPLE)) return araise(PY_EXC(TypeError), "environ items must be a tuple");
	py.Py_IncRef(w);
	py.Py_IncRef(y);
	py.Py_IncRef(e);
	wait_fn = w;
	yield_fn = y;
	environ_items = e;
	py.Py_IncRef(PY_NONE);
	return PY_NONE;
}

// _gosgi.async_conn(core, fd, sock): core starts serving connection fd,
// accepted on the worker's socket number sock.
static PyObject *async_conn(PyObject *self, PyObject *args) {
	(void)self;
	int id;
	async_core *a = core_arg(args, &id);
	if (!a) return NULL;
	long fd = py.PyLong_AsLong(py.PyTuple_GetItem(args, 1));
	long sock = py.PyLong_AsLong(py.PyTuple_GetItem(args, 2));
	if (py.PyErr_Occurred()) return NULL;
	a->fd = (int)fd;
	a->n = 0;
	a->parse_first = 0;
	gosgiAsyncConn(id, (int)fd, (int)sock);
	py.Py_IncRef(PY_NONE);
	return PY_NONE;
}

// _gosgi.async_pending(core): core takes a connection whose head Go has
// read (TLS fronts); returns its fd, or -1 when there is none.
static PyObject *async_pending(PyObject *self, PyObject *args) {
	(void)self;
	int id;
	async_core *a = core_arg(args, &id);
	if (!a) return NULL;
	int n = 0;
	int fd = gosgiAsyncPending(id, &n);
	if (fd >= 0) {
		a->fd = fd;
		a->n = n;
		a->parse_first = n > 0;
	}
	return py.PyLong_FromLong(fd);
}

// _gosgi.async_close(core): ends the core's connection (Go owns it).
static PyObject *async_close(PyObject *self, PyObject *args) {
	(void)self;
	int id;
	if (!core_arg(args, &id)) return NULL;
	gosgiAsyncClose(id);
	py.Py_IncRef(PY_NONE);
	return PY_NONE;
}

// _gosgi.async_drained(): once stopping, True when Go has no connection
// left for the cores.
static PyObject *async_drained(PyObject *self, PyObject *unused) {
	(void)self;
	(void)unused;
	return py.PyBool_FromLong(gosgiAsyncDrained());
}

// _gosgi.async_head(core): reads what the socket has of the request head
// and lets Go parse it. Returns 0 (wait for the socket, then call again),
// 1 (the request is ready: async_run), 2 (done: close the connection) or 3
// (done, and the connection is no longer the core's to close).
static PyObject *async_head(PyObject *self, PyObject *args) {
	(void)self;
	int id;
	async_core *a = core_arg(args, &id);
	if (!a) return NULL;
	if (a->parse_first) {
		a->parse_first = 0;
		int st = gosgiAsyncHead(id, a->n);
		if (st != HEAD_MORE) return py.PyLong_FromLong(st);
	}
	for (;;) {
		if (a->n >= a->cap) return py.PyLong_FromLong(HEAD_CLOSE);
		ssize_t got = recv(a->fd, a->head + a->n, a->cap - a->n, MSG_DONTWAIT);
		if (got < 0 && errno == EINTR) continue;
		if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return py.PyLong_FromLong(HEAD_WAIT);
		if (got <= 0) return py.PyLong_FromLong(HEAD_CLOSE); // client gone: nothing to answer
		a->n += (int)got;
		int st = gosgiAsyncHead(id, a->n);
		if (st != HEAD_MORE) return py.PyLong_FromLong(st);
	}
}

// _gosgi.async_run(core): runs the app on the request Go prepared, then
// lets Go log it. Returns True when the connection stays open for another
// request (keep-alive fronts).
static PyObject *async_run(PyObject *self, PyObject *args) {
	(void)self;
	int id;
	async_core *a = core_arg(args, &id);
	if (!a) return NULL;
	gosgi_run_request(id, a->req);
	gosgi_after_request_locked();
	a->n = 0;
	return py.PyBool_FromLong(gosgiAsyncFinish(id));
}

// _gosgi.async_accepting(): False while the instance is paused.
static PyObject *async_accepting(PyObject *self, PyObject *unused) {
	(void)self;
	(void)unused;
	return py.PyBool_FromLong(gosgiAsyncAccepting());
}

static PyMethodDef async_fns[] = {
    {"async_accepting", async_accepting, METH_NOARGS, NULL},
    {"async_pending", async_pending, METH_VARARGS, NULL},
    {"async_close", async_close, METH_VARARGS, NULL},
    {"async_drained", async_drained, METH_NOARGS, NULL},
    {"async_setup", async_setup, METH_VARARGS, NULL},
    {"async_conn", async_conn, METH_VARARGS, NULL},
    {"async_head", async_head, METH_VARARGS, NULL},
    {"async_run", async_run, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

int gosgi_async_module_init(PyObject *m) {
	for (PyMethodDef *d = async_fns; d->ml_name; d++) {
		PyObject *f = py.PyCFunction_NewEx(d, NULL, NULL);
		if (!f || py.PyObject_SetAttrString(m, d->ml_name, f) < 0) return -1;
		py.Py_DecRef(f);
	}
	return 0;
}

// gosgi_gevent_run runs the hub loop on the calling thread (the worker's
// only core thread) until the worker stops: gevent_loop.run(cores,
// sockets, stop_fd, wake_fd). sockets is a list of listening fds, in the
// worker's socket order.
int gosgi_gevent_run(int cores, const int *socks, int nsocks, int stop_fd, int wake_fd) {
	PyThreadState *ts = gosgi_core_ts(0);
	if (!ts) return 1;
	py.PyEval_RestoreThread(ts);
	int rc = 1;
	PyObject *mod = py.PyImport_ImportModule("_gosgi_gevent");
	PyObject *fn = mod ? py.PyObject_GetAttrString(mod, "run") : NULL;
	PyObject *list = py.PyTuple_New(nsocks);
	for (int i = 0; i < nsocks; i++) py.PyTuple_SetItem(list, i, py.PyLong_FromLong(socks[i]));
	PyObject *args = py.PyTuple_New(4);
	py.PyTuple_SetItem(args, 0, py.PyLong_FromLong(cores));
	py.PyTuple_SetItem(args, 1, list);
	py.PyTuple_SetItem(args, 2, py.PyLong_FromLong(stop_fd));
	py.PyTuple_SetItem(args, 3, py.PyLong_FromLong(wake_fd));
	PyObject *res = fn ? py.PyObject_CallObject(fn, args) : NULL;
	py.Py_DecRef(args);
	if (res) {
		rc = 0;
		py.Py_DecRef(res);
	} else {
		py.PyErr_PrintEx(0);
	}
	if (fn) py.Py_DecRef(fn);
	if (mod) py.Py_DecRef(mod);
	gosgi_core_set_ts(0, py.PyEval_SaveThread());
	return rc;
}
