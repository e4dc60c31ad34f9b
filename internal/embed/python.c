// The request path on the Python side: environ, start_response, the body
// iteration and the writes, all in C with a handful of CPython calls per
// request. The Python-level parts that are not on the hot path (app loading,
// the uwsgi module, wsgi.input's class) live in the embedded loader.
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "pyapi.h"
#include "shim.h"

extern PyThreadState *gosgi_main_ts;
int gosgi_async_module_init(PyObject *m); // async.c
int gosgi_async_environ(PyObject *env);   // async.c

#define MAX_CORES 1024
#define MAX_APPS 64
#define OUT_CAP 65536
#define LA_CAP 65536

typedef struct core {
	int id;
	PyThreadState *ts;
	PyObject *environ;
	PyObject *start_response;
	PyObject *write;
	PyObject *input;
	PyObject *index; // int object: this core's id, self of the C callables
	gosgi_req *req;
	int claimed; // who answers: 0 nobody yet, 1 the app, 2 harakiri (atomic)
	// response state
	PyObject *status;  // str given to start_response
	PyObject *headers; // list given to start_response
	int headers_sent;
	char *out;
	size_t out_len;
	// wsgi.input state: look-ahead bytes, then the socket (or the file of
	// a buffered body)
	const char *la;
	size_t la_len;
	char *la_buf;
	long long remaining; // body bytes not yet handed to the app
	const char *la_base; // a body buffered in memory: its start, for seek
	// router framing of the response body: chunked, maybe gzipped first
	int chunked;
	PyObject *gz; // zlib compressobj while gzipping
	// variables the app added (uwsgi.add_var), in the uwsgi block format
	char *added;
	size_t added_len, added_cap;
} core_t;

static core_t *cores[MAX_CORES];
static PyObject *apps[MAX_APPS];
static char *app_mounts[MAX_APPS];
static int app_mount_lens[MAX_APPS];
static int napps;
static PyObject *loader;      // the _gosgi_loader module
static PyObject *file_wrapper;  // class of the objects wsgi.file_wrapper returns
static PyObject *file_wrapper_fn; // wsgi.file_wrapper itself
static PyObject *after_req_hook;

// interned environ keys and constant values
static PyObject *k_input, *k_errors, *k_version, *k_run_once, *k_multithread,
    *k_multiprocess, *k_url_scheme, *k_file_wrapper, *k_uwsgi_version,
    *k_uwsgi_node, *k_uwsgi_core;
static PyObject *v_version, *v_errors, *v_multithread, *v_multiprocess,
    *v_uwsgi_version, *v_uwsgi_node, *v_http, *v_https;
static int multi_cores;

// ---------------------------------------------------------------- helpers

static void log_line(const char *s) {
	size_t n = strlen(s);
	(void)!write(2, s, n);
}

static PyObject *raise(PyObject *exc, const char *msg) {
	py.PyErr_SetString(exc, msg);
	return NULL;
}

static core_t *self_core(PyObject *self) {
	long id = py.PyLong_AsLong(self);
	if (id < 0 || id >= MAX_CORES || !cores[id]) return NULL;
	return cores[id];
}

// send_all writes everything or reports failure; it releases the GIL only
// when the socket would block, so the common case costs one send().
static int send_all(core_t *c, struct iovec *iov, int iovcnt) {
	struct msghdr msg;
	memset(&msg, 0, sizeof msg);
	int flags = MSG_NOSIGNAL | MSG_DONTWAIT;
	PyThreadState *ts = NULL;
	while (iovcnt > 0) {
		msg.msg_iov = iov;
		msg.msg_iovlen = iovcnt;
		ssize_t n = sendmsg(c->req->fd, &msg, flags);
		if (n < 0) {
			if (errno == EINTR) continue;
			if ((errno == EAGAIN || errno == EWOULDBLOCK) && gosgi_async_mode) {
				if (gosgi_async_wait(c->req->fd, 1) == 0) continue; // gevent: other greenlets run
				break;
			}
			if ((errno == EAGAIN || errno == EWOULDBLOCK) && (flags & MSG_DONTWAIT)) {
				flags = MSG_NOSIGNAL; // now block, bounded by SO_SNDTIMEO
				ts = py.PyEval_SaveThread();
				continue;
			}
			break;
		}
		while (iovcnt > 0 && (size_t)n >= iov->iov_len) {
			n -= iov->iov_len;
			iov++;
			iovcnt--;
		}
		if (iovcnt > 0) {
			iov->iov_base = (char *)iov->iov_base + n;
			iov->iov_len -= n;
		}
	}
	if (ts) py.PyEval_RestoreThread(ts);
	if (iovcnt > 0) {
		c->req->write_error = 1;
		return -1;
	}
	return 0;
}

static int flush_out(core_t *c, const char *extra, size_t extra_len) {
	struct iovec iov[2];
	int n = 0;
	if (c->out_len) {
		iov[n].iov_base = c->out;
		iov[n++].iov_len = c->out_len;
	}
	if (extra_len) {
		iov[n].iov_base = (void *)extra;
		iov[n++].iov_len = extra_len;
	}
	c->out_len = 0;
	if (n == 0 || c->req->write_error) return c->req->write_error ? -1 : 0;
	return send_all(c, iov, n);
}

static int out_append(core_t *c, const char *p, size_t n) {
	if (c->out_len + n > OUT_CAP) {
		if (n >= OUT_CAP / 2) return flush_out(c, p, n);
		if (flush_out(c, NULL, 0) < 0) return -1;
	}
	memcpy(c->out + c->out_len, p, n);
	c->out_len += n;
	return 0;
}

// latin1 returns the latin-1 bytes of a str: zero-copy for ASCII strings.
// *tmp receives a new reference to release when a copy was needed.
static const char *latin1(PyObject *s, Py_ssize_t *len, PyObject **tmp) {
	*tmp = NULL;
	const char *u = py.PyUnicode_AsUTF8AndSize(s, len);
	if (!u) {
		py.PyErr_Clear();
	} else {
		Py_ssize_t i;
		for (i = 0; i < *len; i++)
			if ((unsigned char)u[i] >= 0x80) break;
		if (i == *len) return u;
	}
	PyObject *b = py.PyUnicode_AsLatin1String(s);
	if (!b) return NULL;
	char *p;
	if (py.PyBytes_AsStringAndSize(b, &p, len) < 0) {
		py.Py_DecRef(b);
		return NULL;
	}
	*tmp = b;
	return p;
}

static const char *reason_phrase(int code) {
	switch (code) {
	case 100: return "Continue";
	case 101: return "Switching Protocols";
	case 102: return "Processing";
	case 103: return "Early Hints";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 203: return "Non-Authoritative Information";
	case 204: return "No Content";
	case 205: return "Reset Content";
	case 206: return "Partial Content";
	case 207: return "Multi-Status";
	case 208: return "Already Reported";
	case 226: return "IM Used";
	case 300: return "Multiple Choices";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 303: return "See Other";
	case 304: return "Not Modified";
	case 305: return "Use Proxy";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 402: return "Payment Required";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 406: return "Not Acceptable";
	case 407: return "Proxy Authentication Required";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 411: return "Length Required";
	case 412: return "Precondition Failed";
	case 413: return "Request Entity Too Large";
	case 414: return "Request-URI Too Long";
	case 415: return "Unsupported Media Type";
	case 416: return "Requested Range Not Satisfiable";
	case 417: return "Expectation Failed";
	case 418: return "I'm a teapot";
	case 422: return "Unprocessable Entity";
	case 423: return "Locked";
	case 424: return "Failed Dependency";
	case 426: return "Upgrade Required";
	case 428: return "Precondition Required";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 451: return "Unavailable For Legal Reasons";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	case 506: return "Variant Also Negotiates";
	case 507: return "Insufficient Storage";
	case 508: return "Loop Detected";
	case 510: return "Not Extended";
	case 511: return "Network Authentication Required";
	}
	return "Unknown";
}

static PyObject *call_loader(const char *name, PyObject *args);

static int out_str(core_t *c, const char *s) { return out_append(c, s, strlen(s)); }

// deleted reports whether del-header names the header k (any case).
static int deleted(const gosgi_req *r, const char *k, Py_ssize_t kl) {
	const char *p = r->del, *end = r->del + r->del_len;
	while (p < end) {
		const char *nl = memchr(p, '\n', end - p);
		if (!nl) nl = end;
		if (nl - p == kl && strncasecmp(p, k, kl) == 0) return 1;
		p = nl + 1;
	}
	return 0;
}

// has_token reports whether v contains tok, in any case.
static int has_token(const char *v, Py_ssize_t vl, const char *tok) {
	size_t tl = strlen(tok);
	for (Py_ssize_t i = 0; i + (Py_ssize_t)tl <= vl; i++)
		if (strncasecmp(v + i, tok, tl) == 0) return 1;
	return 0;
}

// router_headers adds what the http router adds to a response without
// Content-Length, and chooses its framing: gzip when the app marked it
// (uWSGI-Encoding: gzip) and the client accepts it, chunked when kept
// alive with http-auto-chunked, else Connection: close on a kept-alive
// connection. uWSGI's log does not count these headers.
static void router_headers(core_t *c, int gzip_marked) {
	gosgi_req *r = c->req;
	if (r->content_length_set) return;
	if (gzip_marked && (r->router & GOSGI_ROUTER_GZIP)) {
		PyObject *args = py.PyTuple_New(0);
		c->gz = call_loader("gzip_start", args);
		py.Py_DecRef(args);
		if (c->gz) {
			c->chunked = 1;
			out_str(c, "Transfer-Encoding: chunked\r\nContent-Encoding: gzip\r\n");
			return;
		}
		py.PyErr_Clear();
	}
	if (!(r->router & GOSGI_ROUTER_KEEP)) return;
	if (r->router & GOSGI_ROUTER_CHUNKED) {
		c->chunked = 1;
		out_str(c, "Transfer-Encoding: chunked\r\n");
	} else {
		out_str(c, "Connection: close\r\n");
	}
}

// send_headers writes the status line and headers into the output buffer
// (WP-10, WP-11). Returns -1 with a Python exception set on bad input.
static int send_headers(core_t *c) {
	gosgi_req *r = c->req;
	c->headers_sent = 1;
	int free_ = 0;
	if (!__atomic_compare_exchange_n(&c->claimed, &free_, 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		r->write_error = 1; // harakiri answered this request already
		return 0;
	}
	if (!c->status) return 0;
	PyObject *tmp;
	Py_ssize_t slen;
	const char *s = latin1(c->status, &slen, &tmp);
	if (!s) {
		raise(PY_EXC(TypeError), "http status string must be encodable in latin1");
		return -1;
	}
	size_t start = c->out_len;
	r->status = 0;
	if (slen < 3) {
		// WP-11: uWSGI sends neither status line nor headers then, and
		// logs the request as a 500.
		if (tmp) py.Py_DecRef(tmp);
		r->status = 500;
		return 0;
	}
	{
		for (int i = 0; i < 3; i++) r->status = r->status * 10 + (s[i] >= '0' && s[i] <= '9' ? s[i] - '0' : 0);
		const char *proto = r->proto_len ? r->proto : "HTTP/1.0";
		int plen = r->proto_len ? r->proto_len : 8;
		out_append(c, proto, plen);
		out_append(c, " ", 1);
		if (slen == 3 || (slen == 4 && s[3] == ' ')) {
			out_append(c, s, 3);
			out_append(c, " ", 1);
			const char *reason = reason_phrase(r->status);
			out_append(c, reason, strlen(reason));
		} else {
			out_append(c, s, slen);
		}
		out_append(c, "\r\n", 2);
	}
	if (tmp) py.Py_DecRef(tmp);
	int gzip_marked = 0;
	Py_ssize_t n = py.PyList_Size(c->headers);
	for (Py_ssize_t i = 0; i < n; i++) {
		PyObject *h = py.PyList_GetItem(c->headers, i);
		PyObject *k = py.PyTuple_GetItem(h, 0), *v = py.PyTuple_GetItem(h, 1);
		PyObject *kt, *vt;
		Py_ssize_t kl, vl;
		const char *ks = latin1(k, &kl, &kt);
		const char *vs = ks ? latin1(v, &vl, &vt) : NULL;
		if (!ks || !vs) {
			if (kt) py.Py_DecRef(kt);
			raise(PY_EXC(TypeError), "http header must be encodable in latin1");
			return -1;
		}
		if (r->del_len > 0 && deleted(r, ks, kl)) {
			if (kt) py.Py_DecRef(kt);
			if (vt) py.Py_DecRef(vt);
			continue;
		}
		if (kl == 14 && strncasecmp(ks, "content-length", 14) == 0) r->content_length_set = 1;
		if (kl == 14 && strncasecmp(ks, "uwsgi-encoding", 14) == 0 && has_token(vs, vl, "gzip")) gzip_marked = 1;
		out_append(c, ks, kl);
		out_append(c, ": ", 2);
		out_append(c, vs, vl);
		out_append(c, "\r\n", 2);
		if (kt) py.Py_DecRef(kt);
		if (vt) py.Py_DecRef(vt);
		r->headers++;
	}
	if (r->extra_len > 0) {
		out_append(c, r->extra, r->extra_len);
		r->headers += r->extra_count;
	}
	int logged = (int)(c->out_len - start) + 2;
	if (r->router) router_headers(c, gzip_marked);
	out_append(c, "\r\n", 2);
	r->header_bytes = logged;
	return 0;
}

// chunk frames n body bytes as one HTTP/1.1 chunk.
static int chunk(core_t *c, const char *p, size_t n) {
	if (n == 0) return 0;
	char size[24];
	int sl = snprintf(size, sizeof size, "%zX\r\n", n);
	if (out_append(c, size, sl) < 0 || out_append(c, p, n) < 0) return -1;
	return out_append(c, "\r\n", 2);
}

// gzip_chunk compresses body bytes (fn "gzip_chunk") or ends the stream
// (fn "gzip_end", p NULL), and sends what zlib gives as one chunk.
static int gzip_chunk(core_t *c, const char *fn, const char *p, size_t n) {
	PyObject *data = p ? py.PyBytes_FromStringAndSize(p, n) : NULL;
	if (p && !data) return -1;
	PyObject *args = py.PyTuple_New(p ? 2 : 1);
	py.Py_IncRef(c->gz);
	py.PyTuple_SetItem(args, 0, c->gz);
	if (data) py.PyTuple_SetItem(args, 1, data);
	PyObject *z = call_loader(fn, args);
	py.Py_DecRef(args);
	if (!z) return -1;
	char *zp;
	Py_ssize_t zn;
	int rc = py.PyBytes_AsStringAndSize(z, &zp, &zn) < 0 ? -1 : chunk(c, zp, zn);
	py.Py_DecRef(z);
	return rc;
}

// end_framing sends the rest of a gzip stream and the last chunk.
static int end_framing(core_t *c) {
	if (c->gz && gzip_chunk(c, "gzip_end", NULL, 0) < 0) return -1;
	if (out_append(c, "0\r\n\r\n", 5) < 0) return -1;
	c->req->chunked = 1;
	return 0;
}

static void reset_framing(core_t *c) {
	c->chunked = 0;
	if (c->gz) {
		py.Py_DecRef(c->gz);
		c->gz = NULL;
	}
}

// write_body sends one chunk of the body, sending the headers first.
static int write_body(core_t *c, const char *p, size_t n) {
	if (!c->headers_sent && send_headers(c) < 0) return -1;
	if (c->req->write_error) return 0;
	c->req->body_bytes += n;
	if (c->gz) return gzip_chunk(c, "gzip_chunk", p, n);
	if (c->chunked) return chunk(c, p, n);
	out_append(c, p, n);
	return 0;
}

// ---------------------------------------------------------- start_response

static int check_headers(PyObject *headers) {
	if (!PY_IS(headers, TPFLAGS_LIST)) {
		raise(PY_EXC(TypeError), "http headers must be in a python list");
		return -1;
	}
	Py_ssize_t n = py.PyList_Size(headers);
	for (Py_ssize_t i = 0; i < n; i++) {
		PyObject *h = py.PyList_GetItem(headers, i);
		if (!PY_IS(h, TPFLAGS_TUPLE) || py.PyTuple_Size(h) != 2) {
			raise(PY_EXC(TypeError), "http header must be defined in a tuple");
			return -1;
		}
		if (!PY_IS(py.PyTuple_GetItem(h, 0), TPFLAGS_UNICODE)) {
			raise(PY_EXC(TypeError), "http header key must be a string");
			return -1;
		}
		if (!PY_IS(py.PyTuple_GetItem(h, 1), TPFLAGS_UNICODE)) {
			raise(PY_EXC(TypeError), "http header value must be a string");
			return -1;
		}
		for (int j = 0; j < 2; j++) {
			PyObject *tmp;
			Py_ssize_t len;
			if (!latin1(py.PyTuple_GetItem(h, j), &len, &tmp)) {
				py.PyErr_Clear();
				raise(PY_EXC(TypeError), "http header must be encodable in latin1");
				return -1;
			}
			if (tmp) py.Py_DecRef(tmp);
		}
	}
	return 0;
}

static PyObject *start_response(PyObject *self, PyObject *args) {
	core_t *c = self_core(self);
	if (!c || !c->req) return raise(PY_EXC(RuntimeError), "start_response called outside of a request");
	Py_ssize_t nargs = py.PyTuple_Size(args);
	if (nargs < 2 || nargs > 3) return raise(PY_EXC(TypeError), "start_response() takes 2 or 3 arguments");
	PyObject *status = py.PyTuple_GetItem(args, 0), *headers = py.PyTuple_GetItem(args, 1);
	if (nargs == 3) {
		PyObject *exc_info = py.PyTuple_GetItem(args, 2);
		if (exc_info != PY_NONE) {
			PyObject *fn = py.PyObject_GetAttrString(loader, "log_exc_info");
			if (fn) {
				PyObject *a = py.PyTuple_New(1);
				py.Py_IncRef(exc_info);
				py.PyTuple_SetItem(a, 0, exc_info);
				PyObject *res = py.PyObject_CallObject(fn, a);
				if (res) py.Py_DecRef(res);
				py.Py_DecRef(a);
				py.Py_DecRef(fn);
			}
			py.PyErr_Clear();
		}
	}
	if (c->headers_sent) return raise(PY_EXC(OSError), "headers already sent");
	if (!PY_IS(status, TPFLAGS_UNICODE)) return raise(PY_EXC(TypeError), "http status must be a string");
	if (check_headers(headers) < 0) return NULL;
	PyObject *tmp;
	Py_ssize_t slen;
	if (!latin1(status, &slen, &tmp)) {
		py.PyErr_Clear();
		return raise(PY_EXC(TypeError), "http status string must be encodable in latin1");
	}
	if (tmp) py.Py_DecRef(tmp);
	py.Py_IncRef(status);
	py.Py_IncRef(headers);
	if (c->status) py.Py_DecRef(c->status);
	if (c->headers) py.Py_DecRef(c->headers);
	c->status = status;
	c->headers = headers;
	py.Py_IncRef(c->write);
	return c->write;
}

static PyObject *write_cb(PyObject *self, PyObject *data) {
	core_t *c = self_core(self);
	if (!c || !c->req) return raise(PY_EXC(RuntimeError), "write() called outside of a request");
	if (!PY_IS(data, TPFLAGS_BYTES)) return raise(PY_EXC(TypeError), "write() argument must be bytes");
	char *p;
	Py_ssize_t n;
	if (py.PyBytes_AsStringAndSize(data, &p, &n) < 0) return NULL;
	if (n > 0 && write_body(c, p, n) < 0) return NULL;
	py.Py_IncRef(PY_NONE);
	return PY_NONE;
}

// -------------------------------------------------------------- wsgi.input

// body_recv reads up to n body bytes: from the file of a buffered body, or
// from the socket, releasing the GIL while the client makes us wait.
static ssize_t body_recv(core_t *c, char *dst, size_t n) {
	ssize_t got;
	if (c->req->buffered && c->req->body_fd >= 0) {
		do {
			got = read(c->req->body_fd, dst, n);
		} while (got < 0 && errno == EINTR);
		return got;
	}
	got = recv(c->req->fd, dst, n, MSG_DONTWAIT);
	if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && gosgi_async_mode) {
		got = gosgi_async_recv(c->req->fd, dst, n); // other greenlets run meanwhile
	} else if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		c->req->switches++; // a wait for the client, as uWSGI counts them
		PyThreadState *ts = py.PyEval_SaveThread();
		do {
			got = recv(c->req->fd, dst, n, 0);
		} while (got < 0 && errno == EINTR);
		py.PyEval_RestoreThread(ts);
	}
	return got;
}

// fill reads more body bytes into the look-ahead buffer.
static int fill(core_t *c, size_t want) {
	if (c->remaining <= 0) return 0;
	if (want > LA_CAP) want = LA_CAP;
	if ((long long)want > c->remaining) want = c->remaining;
	ssize_t n = body_recv(c, c->la_buf, want);
	if (n <= 0) return n == 0 || errno == ECONNRESET ? -2 : -1;
	c->la = c->la_buf;
	c->la_len = n;
	return (int)n;
}

// read_error logs the failed body read (PY-27) and raises OSError. want is
// the number of bytes the read still missed.
static PyObject *read_error(core_t *c, int rc, const char *what, long long size, long long want) {
	char msg[256];
	int timeout = rc == -1 && (errno == EAGAIN || errno == EWOULDBLOCK);
	c->req->read_error = 1;
	long long cl = c->req->content_length;
	long long left = (long long)c->la_len + c->remaining;
	snprintf(msg, sizeof msg, "[uwsgi-body-read] %s reading %lld bytes. Content-Length: %lld consumed: %lld left: %lld\n",
	         timeout ? "Timeout" : "Error", want, cl, cl - left, left);
	log_line(msg);
	snprintf(msg, sizeof msg, "%s during %s(%lld) on wsgi.input", timeout ? "timeout" : "error", what, size);
	return raise(PY_EXC(OSError), msg);
}

// _gosgi.input_read(core, size): size < 0 reads the whole remaining body.
static PyObject *input_read(PyObject *self, PyObject *args) {
	(void)self;
	core_t *c = self_core(py.PyTuple_GetItem(args, 0));
	if (!c || !c->req) return raise(PY_EXC(OSError), "wsgi.input used outside of its request");
	long long size = py.PyLong_AsLongLong(py.PyTuple_GetItem(args, 1));
	long long asked = size < 0 ? 0 : size; // uWSGI reports read() as read(0)
	long long avail = (long long)c->la_len + c->remaining;
	if (size < 0 || size > avail) size = avail;
	PyObject *b = py.PyBytes_FromStringAndSize(NULL, size);
	if (!b) return NULL;
	char *dst;
	Py_ssize_t blen;
	py.PyBytes_AsStringAndSize(b, &dst, &blen);
	long long got = 0;
	if (c->la_len) {
		size_t n = c->la_len < (size_t)size ? c->la_len : (size_t)size;
		memcpy(dst, c->la, n);
		c->la += n;
		c->la_len -= n;
		got = n;
	}
	while (got < size) {
		// Large reads go straight into the result; no look-ahead copy.
		ssize_t n = body_recv(c, dst + got, size - got);
		if (n <= 0) {
			int rc = n == 0 || errno == ECONNRESET ? -2 : -1;
			py.Py_DecRef(b);
			return read_error(c, rc, "read", asked, size - got);
		}
		got += n;
		c->remaining -= n;
	}
	return b;
}

// _gosgi.input_readline(core, hint)
static PyObject *input_readline(PyObject *self, PyObject *args) {
	(void)self;
	core_t *c = self_core(py.PyTuple_GetItem(args, 0));
	if (!c || !c->req) return raise(PY_EXC(OSError), "wsgi.input used outside of its request");
	long long hint = py.PyLong_AsLongLong(py.PyTuple_GetItem(args, 1));
	char *line = NULL;
	size_t len = 0, cap = 0;
	for (;;) {
		if (c->la_len == 0) {
			if (c->remaining <= 0) break;
			int rc = fill(c, LA_CAP);
			if (rc < 0) {
				free(line);
				return read_error(c, rc, "readline", hint, c->remaining);
			}
			c->remaining -= rc;
		}
		size_t take = c->la_len;
		const char *nl = memchr(c->la, '\n', c->la_len);
		int found = 0;
		if (nl) {
			take = nl - c->la + 1;
			found = 1;
		}
		if (hint > 0 && (long long)(len + take) > hint) {
			take = hint - len;
			found = 0;
		}
		if (len + take > cap) {
			cap = (len + take) * 2;
			char *nline = realloc(line, cap);
			if (!nline) {
				free(line);
				return raise(PY_EXC(RuntimeError), "out of memory");
			}
			line = nline;
		}
		memcpy(line + len, c->la, take);
		len += take;
		c->la += take;
		c->la_len -= take;
		if (found || (hint > 0 && (long long)len >= hint)) break;
	}
	PyObject *b = py.PyBytes_FromStringAndSize(line ? line : "", len);
	free(line);
	return b;
}

// _gosgi.input_seek(core, pos): only a buffered body can be re-read
// (post-buffering); pos counts from the start of the body.
static PyObject *input_seek(PyObject *self, PyObject *args) {
	(void)self;
	core_t *c = self_core(py.PyTuple_GetItem(args, 0));
	if (!c || !c->req) return raise(PY_EXC(OSError), "wsgi.input used outside of its request");
	if (!c->req->buffered) return raise(PY_EXC(OSError), "seeking wsgi.input without post_buffering is IMPOSSIBLE !!!");
	long long pos = py.PyLong_AsLongLong(py.PyTuple_GetItem(args, 1));
	if (pos == -1 && py.PyErr_Occurred()) return NULL;
	long long cl = c->req->content_length;
	if (pos < 0 || pos > cl) return raise(PY_EXC(OSError), "invalid seek position for wsgi.input");
	if (c->req->body_fd >= 0) {
		if (lseek(c->req->body_fd, pos, SEEK_SET) < 0) return raise(PY_EXC(OSError), "error seeking the buffered body of wsgi.input");
		c->la_len = 0;
		c->remaining = cl - pos;
	} else {
		c->la = c->la_base + pos;
		c->la_len = cl - pos;
		c->remaining = 0;
	}
	py.Py_IncRef(PY_NONE);
	return PY_NONE;
}

// _gosgi.input_tell(core): body bytes handed to the app so far.
static PyObject *input_tell(PyObject *self, PyObject *args) {
	(void)self;
	core_t *c = self_core(py.PyTuple_GetItem(args, 0));
	if (!c || !c->req) return raise(PY_EXC(OSError), "wsgi.input used outside of its request");
	long long cl = c->req->content_length < 0 ? 0 : c->req->content_length;
	return py.PyLong_FromLongLong(cl - (long long)c->la_len - c->remaining);
}

// _gosgi.input_fileno(core): the client socket, as uWSGI answers even when
// the body was buffered.
static PyObject *input_fileno(PyObject *self, PyObject *args) {
	(void)self;
	core_t *c = self_core(py.PyTuple_GetItem(args, 0));
	if (!c || !c->req) return raise(PY_EXC(OSError), "wsgi.input used outside of its request");
	return py.PyLong_FromLong(c->req->fd);
}

// ------------------------------------------------------------ module setup

static PyObject *register_app(PyObject *self, PyObject *args) {
	(void)self;
	if (napps >= MAX_APPS) return raise(PY_EXC(RuntimeError), "too many apps");
	PyObject *mp = py.PyTuple_GetItem(args, 0), *app = py.PyTuple_GetItem(args, 1);
	if (!mp || !app) return NULL;
	Py_ssize_t n;
	const char *s = py.PyUnicode_AsUTF8AndSize(mp, &n);
	if (!s) return NULL;
	app_mounts[napps] = strndup(s, n);
	app_mount_lens[napps] = (int)n;
	py.Py_IncRef(app);
	apps[napps] = app;
	return py.PyLong_FromLong(napps++);
}

static PyMethodDef uwsgi_sendfile_def;

// _gosgi.set_file_wrapper(cls)
static PyObject *set_file_wrapper(PyObject *self, PyObject *cls) {
	(void)self;
	py.Py_IncRef(cls);
	file_wrapper = cls;
	file_wrapper_fn = py.PyCFunction_NewEx(&uwsgi_sendfile_def, NULL, NULL);
	if (!file_wrapper_fn) return NULL;
	py.Py_IncRef(PY_NONE);
	return PY_NONE;
}

static PyObject *set_after_req_hook(PyObject *self, PyObject *fn) {
	(void)self;
	if (after_req_hook) py.Py_DecRef(after_req_hook);
	after_req_hook = fn == PY_NONE ? NULL : fn;
	if (after_req_hook) py.Py_IncRef(after_req_hook);
	py.Py_IncRef(PY_NONE);
	return PY_NONE;
}

static char *board;
static size_t board_len;

void gosgi_set_scoreboard(void *p, size_t n) {
	board = p;
	board_len = n;
}

// _gosgi.scoreboard(): a read-only view of the shared scoreboard (the
// uwsgi module decodes workers() and total_requests() from it).
static PyObject *scoreboard_fn(PyObject *self, PyObject *unused) {
	(void)self;
	(void)unused;
	if (!board) {
		py.Py_IncRef(PY_NONE);
		return PY_NONE;
	}
	return py.PyMemoryView_FromMemory(board, board_len, 0x100 /* PyBUF_READ */);
}

static PyObject *worker_id_fn(PyObject *self, PyObject *unused) {
	(void)self;
	(void)unused;
	return py.PyLong_FromLong(gosgi_worker_id());
}

// ---------------------------------------------- the running request (PY-42)

// running is the core whose request runs on this thread: the uwsgi
// module's request functions (connection_fd, env, websockets...) act on it.
static __thread core_t *running;

static core_t *running_core(void) {
	core_t *c = running;
	if (!c || !c->req) {
		raise(PY_EXC(OSError), "no request is running in this thread");
		return NULL;
	}
	return c;
}

// _gosgi.current(core): (core id, connection fd, environ, start_response)
// of the running request, or None outside a request; core is -1 but in
// gevent mode.
static PyObject *current_fn(PyObject *self, PyObject *core) {
	(void)self;
	// gevent mode: the calling greenlet names its core (greenlets switch
	// on one thread, so the thread's last request may be another's).
	long id = py.PyLong_AsLong(core);
	if (id == -1 && py.PyErr_Occurred()) return NULL;
	if (id >= 0 && id < MAX_CORES && cores[id] && cores[id]->req) running = cores[id];
	core_t *c = running;
	if (!c || !c->req) {
		py.Py_IncRef(PY_NONE);
		return PY_NONE;
	}
	PyObject *t = py.PyTuple_New(4);
	if (!t) return NULL;
	py.PyTuple_SetItem(t, 0, py.PyLong_FromLong(c->id));
	py.PyTuple_SetItem(t, 1, py.PyLong_FromLong(c->req->fd));
	py.Py_IncRef(c->environ);
	py.PyTuple_SetItem(t, 2, c->environ);
	py.Py_IncRef(c->start_response);
	py.PyTuple_SetItem(t, 3, c->start_response);
	return t;
}

// _gosgi.raw_head(head, status, headers): the app answers with a head of
// its own (the websocket handshake); it counts as the response's headers.
static PyObject *raw_head(PyObject *self, PyObject *args) {
	(void)self;
	core_t *c = running_core();
	if (!c) return NULL;
	gosgi_req *r = c->req;
	if (c->headers_sent) return raise(PY_EXC(OSError), "headers already sent");
	char *p;
	Py_ssize_t n;
	if (py.PyBytes_AsStringAndSize(py.PyTuple_GetItem(args, 0), &p, &n) < 0) return NULL;
	c->headers_sent = 1;
	int free_ = 0;
	if (!__atomic_compare_exchange_n(&c->claimed, &free_, 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		r->write_error = 1; // harakiri answered already
		return raise(PY_EXC(OSError), "the request was already answered");
	}
	r->status = (int)py.PyLong_AsLong(py.PyTuple_GetItem(args, 1));
	r->headers = (int)py.PyLong_AsLong(py.PyTuple_GetItem(args, 2));
	r->header_bytes = (int)n;
	if (flush_out(c, p, n) < 0) return raise(PY_EXC(OSError), "unable to send the response head");
	py.Py_IncRef(PY_NONE);
	return PY_NONE;
}

// _gosgi.raw_write(data): bytes straight to the client, counted as body
// (websocket frames).
static PyObject *raw_write(PyObject *self, PyObject *data) {
	(void)self;
	core_t *c = running_core();
	if (!c) return NULL;
	char *p;
	Py_ssize_t n;
	if (py.PyBytes_AsStringAndSize(data, &p, &n) < 0) return NULL;
	if (c->req->write_error || flush_out(c, p, n) < 0) return raise(PY_EXC(OSError), "unable to write to the client");
	c->req->body_bytes += n;
	py.Py_IncRef(PY_NONE);
	return PY_NONE;
}

// _gosgi.log_this_request(): log the running request even under
// disable-logging (PY-43).
static PyObject *log_this_request_fn(PyObject *self, PyObject *unused) {
	(void)self;
	(void)unused;
	core_t *c = running_core();
	if (!c) return NULL;
	c->req->force_log = 1;
	py.Py_IncRef(PY_NONE);
	return PY_NONE;
}

// _gosgi.disconnect(): what is buffered goes out, then the client
// connection is shut down; later writes of the request fail quietly.
static PyObject *disconnect_fn(PyObject *self, PyObject *unused) {
	(void)self;
	(void)unused;
	core_t *c = running_core();
	if (!c) return NULL;
	flush_out(c, NULL, 0);
	shutdown(c->req->fd, SHUT_RDWR);
	c->req->write_error = 1;
	py.Py_IncRef(PY_NONE);
	return PY_NONE;
}

// _gosgi.raw_read(size): up to size bytes of the request as the client
// sent them past the head (chunked input): those read with the head first,
// then what the socket has now. b"" at the end, None when nothing is there
// yet (the caller waits for the socket: a poll, or the gevent hub).
static PyObject *raw_read(PyObject *self, PyObject *arg) {
	(void)self;
	core_t *c = running_core();
	if (!c) return NULL;
	gosgi_req *r = c->req;
	long size = py.PyLong_AsLong(arg);
	if (size == -1 && py.PyErr_Occurred()) return NULL;
	if (size <= 0) size = 65536;
	if (r->raw_len > 0) {
		long n = r->raw_len < size ? r->raw_len : size;
		PyObject *b = py.PyBytes_FromStringAndSize(r->raw, n);
		r->raw += n;
		r->raw_len -= n;
		return b;
	}
	char buf[65536];
	if (size > (long)sizeof buf) size = sizeof buf;
	ssize_t n;
	do {
		n = recv(r->fd, buf, size, MSG_DONTWAIT);
	} while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		py.Py_IncRef(PY_NONE);
		return PY_NONE;
	}
	if (n < 0) return raise(PY_EXC(OSError), "unable to read the request");
	return py.PyBytes_FromStringAndSize(buf, n);
}

static int send_fd(core_t *c, int fd, off_t *pos, long long size);

// _gosgi.add_var(key, value, limit): a variable added to the running
// request, for the request log (%(var.KEY)); False when the added ones
// would pass limit bytes (the buffer-size, as uWSGI's request buffer).
static PyObject *add_var_fn(PyObject *self, PyObject *args) {
	(void)self;
	core_t *c = running_core();
	if (!c) return NULL;
	char *k, *v;
	Py_ssize_t kl, vl;
	if (py.PyBytes_AsStringAndSize(py.PyTuple_GetItem(args, 0), &k, &kl) < 0 ||
	    py.PyBytes_AsStringAndSize(py.PyTuple_GetItem(args, 1), &v, &vl) < 0)
		return NULL;
	long limit = py.PyLong_AsLong(py.PyTuple_GetItem(args, 2));
	if (limit < 0 || limit > 65536) limit = 65536;
	size_t need = c->added_len + 4 + kl + vl;
	if (kl > 0xffff || vl > 0xffff || need > (size_t)limit) return py.PyBool_FromLong(0);
	if (need > c->added_cap) {
		char *p = realloc(c->added, limit);
		if (!p) return raise(PY_EXC(RuntimeError), "out of memory");
		c->added = p;
		c->added_cap = limit;
	}
	char *p = c->added + c->added_len;
	p[0] = kl & 0xff;
	p[1] = kl >> 8;
	memcpy(p + 2, k, kl);
	p[2 + kl] = vl & 0xff;
	p[3 + kl] = vl >> 8;
	memcpy(p + 4 + kl, v, vl);
	c->added_len = need;
	return py.PyBool_FromLong(1);
}

// _gosgi.sendfile(fd, pos, size): uwsgi.sendfile() sends (part of) a file
// as the running request's body at once (PY-50); size < 0: to the end.
static PyObject *sendfile_fn(PyObject *self, PyObject *args) {
	(void)self;
	core_t *c = running_core();
	if (!c) return NULL;
	int fd = (int)py.PyLong_AsLong(py.PyTuple_GetItem(args, 0));
	off_t pos = (off_t)py.PyLong_AsLongLong(py.PyTuple_GetItem(args, 1));
	long long size = py.PyLong_AsLongLong(py.PyTuple_GetItem(args, 2));
	if (py.PyErr_Occurred()) return NULL;
	if (send_fd(c, fd, &pos, size) < 0) return NULL;
	return py.PyBool_FromLong(!c->req->write_error);
}

extern int gosgiListenQueue(int fd);

// _gosgi.listen_queue(fd): the accept queue of a listening socket, 0
// outside workers (only workers run Go).
static PyObject *listen_queue_fn(PyObject *self, PyObject *fd) {
	(void)self;
	long n = py.PyLong_AsLong(fd);
	if (n == -1 && py.PyErr_Occurred()) return NULL;
	return py.PyLong_FromLong(gosgi_role() == 2 ? gosgiListenQueue((int)n) : 0);
}

// _gosgi.metric_cas(address, old, new): one compare-and-swap of the
// int64 at address, a metric value in the shared metrics region; True when
// it swapped. uwsgi.metric_inc and friends retry on False, so processes
// update a metric without a lock (uWSGI takes a rwlock per update).
static PyObject *metric_cas_fn(PyObject *self, PyObject *args) {
	(void)self;
	if (py.PyTuple_Size(args) != 3) return raise(PY_EXC(TypeError), "metric_cas(address, old, new)");
	long long addr = py.PyLong_AsLongLong(py.PyTuple_GetItem(args, 0));
	long long old = py.PyLong_AsLongLong(py.PyTuple_GetItem(args, 1));
	long long nw = py.PyLong_AsLongLong(py.PyTuple_GetItem(args, 2));
	if (py.PyErr_Occurred()) return NULL;
	if (addr == 0 || addr % 8 != 0) return raise(PY_EXC(ValueError), "metric_cas: bad address");
	int64_t expected = (int64_t)old;
	int swapped = __atomic_compare_exchange_n((int64_t *)(intptr_t)addr, &expected, (int64_t)nw, 0,
	                                          __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
	return py.PyBool_FromLong(swapped);
}

static PyMethodDef module_fns[] = {
    {"register_app", register_app, METH_VARARGS, NULL},
    {"set_file_wrapper", set_file_wrapper, METH_O, NULL},
    {"set_after_req_hook", set_after_req_hook, METH_O, NULL},
    {"worker_id", worker_id_fn, METH_NOARGS, NULL},
    {"scoreboard", scoreboard_fn, METH_NOARGS, NULL},
    {"input_read", input_read, METH_VARARGS, NULL},
    {"input_readline", input_readline, METH_VARARGS, NULL},
    {"current", current_fn, METH_O, NULL},
    {"raw_head", raw_head, METH_VARARGS, NULL},
    {"raw_write", raw_write, METH_O, NULL},
    {"log_this_request", log_this_request_fn, METH_NOARGS, NULL},
    {"listen_queue", listen_queue_fn, METH_O, NULL},
    {"metric_cas", metric_cas_fn, METH_VARARGS, NULL},
    {"sendfile", sendfile_fn, METH_VARARGS, NULL},
    {"disconnect", disconnect_fn, METH_NOARGS, NULL},
    {"add_var", add_var_fn, METH_VARARGS, NULL},
    {"raw_read", raw_read, METH_O, NULL},
    {"input_seek", input_seek, METH_VARARGS, NULL},
    {"input_tell", input_tell, METH_VARARGS, NULL},
    {"input_fileno", input_fileno, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};
// uwsgi_sendfile is wsgi.file_wrapper as uWSGI names it (PY-21): a
// builtin that wraps the file in the loader's FileWrapper class.
static PyObject *uwsgi_sendfile(PyObject *self, PyObject *args) {
	(void)self;
	if (!file_wrapper) return raise(PY_EXC(RuntimeError), "file wrapper not ready");
	return py.PyObject_Call(file_wrapper, args, NULL);
}
static PyMethodDef uwsgi_sendfile_def = {"uwsgi_sendfile", uwsgi_sendfile, METH_VARARGS, NULL};

static PyMethodDef start_response_def = {"start_response", start_response, METH_VARARGS, NULL};
static PyMethodDef write_def = {"write", write_cb, METH_O, NULL};

int gosgi_python_module_init(void) {
	PyObject *m = py.PyImport_AddModule("_gosgi");
	if (!m) goto fail;
	for (PyMethodDef *d = module_fns; d->ml_name; d++) {
		PyObject *f = py.PyCFunction_NewEx(d, NULL, NULL);
		if (!f || py.PyObject_SetAttrString(m, d->ml_name, f) < 0) goto fail;
		py.Py_DecRef(f);
	}
	if (gosgi_async_module_init(m) < 0) goto fail;
	size_t len;
	const char *b = gosgi_bundle(&len);
	PyObject *bytes = py.PyBytes_FromStringAndSize(b, len);
	if (!bytes || py.PyObject_SetAttrString(m, "bundle", bytes) < 0) goto fail;
	py.Py_DecRef(bytes);
	return 0;
fail:
	py.PyErr_PrintEx(0);
	return 1;
}

// The loader is Python source carried in the boot bundle; it configures
// sys.path, stdio and the uwsgi module, then imports the apps (unless lazy).
static const char bootstrap[] =
    "import _gosgi, json, sys\n"
    "_b = json.loads(_gosgi.bundle)\n"
    "del _gosgi.bundle\n"
    "_m = type(sys)('_gosgi_loader')\n"
    "_m.BUNDLE = _b\n"
    "sys.modules['_gosgi_loader'] = _m\n"
    "exec(compile(_b['files']['loader.py'], '<gosgi loader>', 'exec'), _m.__dict__)\n"
    "del _b, _m\n"
    "sys.modules['_gosgi_loader'].boot()\n";

int gosgi_python_boot(void) {
	if (py.PyRun_SimpleStringFlags(bootstrap, NULL) != 0) return 1;
	loader = py.PyImport_AddModule("_gosgi_loader");
	if (!loader) return 1;
	py.Py_IncRef(loader);
	return 0;
}

static PyObject *call_loader(const char *name, PyObject *args) {
	PyObject *fn = py.PyObject_GetAttrString(loader, name);
	if (!fn) return NULL;
	PyObject *res = py.PyObject_CallObject(fn, args);
	py.Py_DecRef(fn);
	return res;
}

static PyObject *intern(const char *s) { return py.PyUnicode_InternFromString(s); }

int gosgi_python_worker_init(int wid) {
	PyObject *args = py.PyTuple_New(1);
	py.PyTuple_SetItem(args, 0, py.PyLong_FromLong(wid));
	PyObject *res = call_loader("worker_init", args);
	py.Py_DecRef(args);
	if (!res) {
		py.PyErr_PrintEx(0);
		return 22;
	}
	// worker_init returns the constant parts of every environ.
	v_version = py.PyDict_GetItemString(res, "wsgi.version");
	v_errors = py.PyDict_GetItemString(res, "wsgi.errors");
	v_multithread = py.PyDict_GetItemString(res, "wsgi.multithread");
	v_multiprocess = py.PyDict_GetItemString(res, "wsgi.multiprocess");
	v_uwsgi_version = py.PyDict_GetItemString(res, "uwsgi.version");
	v_uwsgi_node = py.PyDict_GetItemString(res, "uwsgi.node");
	if (!v_version || !v_errors || !v_multithread || !v_multiprocess || !v_uwsgi_version || !v_uwsgi_node) {
		log_line("gosgi: loader returned an incomplete environ template\n");
		return 1;
	}
	multi_cores = v_multithread == PY_TRUE;
	// keep the template alive: its values are borrowed above
	k_input = intern("wsgi.input");
	k_errors = intern("wsgi.errors");
	k_version = intern("wsgi.version");
	k_run_once = intern("wsgi.run_once");
	k_multithread = intern("wsgi.multithread");
	k_multiprocess = intern("wsgi.multiprocess");
	k_url_scheme = intern("wsgi.url_scheme");
	k_file_wrapper = intern("wsgi.file_wrapper");
	k_uwsgi_version = intern("uwsgi.version");
	k_uwsgi_node = intern("uwsgi.node");
	k_uwsgi_core = intern("uwsgi.core");
	v_http = intern("http");
	v_https = intern("https");
	return 0;
}

// gosgi_python_run_role runs a mule or spooler (loader.run_role) and
// returns its exit status.
int gosgi_python_run_role(const char *role, int id) {
	PyObject *args = py.PyTuple_New(2);
	py.PyTuple_SetItem(args, 0, py.PyUnicode_FromString(role));
	py.PyTuple_SetItem(args, 1, py.PyLong_FromLong(id));
	PyObject *res = call_loader("run_role", args);
	py.Py_DecRef(args);
	if (!res) {
		py.PyErr_PrintEx(0);
		return 1;
	}
	long rc = PY_IS(res, TPFLAGS_LONG) ? py.PyLong_AsLong(res) : 0;
	py.Py_DecRef(res);
	return (int)rc;
}

int gosgi_app_count(void) { return napps; }
const char *gosgi_app_mountpoint(int i, int *len) {
	if (i < 0 || i >= napps) return NULL;
	*len = app_mount_lens[i];
	return app_mounts[i];
}

// -------------------------------------------------------------- per core

int gosgi_core_init(int id) {
	if (id < 0 || id >= MAX_CORES) return 1;
	int gil = py.PyGILState_Ensure();
	(void)gil;
	core_t *c = calloc(1, sizeof *c);
	c->id = id;
	c->req = NULL;
	c->out = malloc(OUT_CAP);
	c->la_buf = malloc(LA_CAP);
	c->index = py.PyLong_FromLong(id);
	c->environ = py.PyDict_New();
	c->start_response = py.PyCFunction_NewEx(&start_response_def, c->index, NULL);
	c->write = py.PyCFunction_NewEx(&write_def, c->index, NULL);
	PyObject *args = py.PyTuple_New(1);
	py.Py_IncRef(c->index);
	py.PyTuple_SetItem(args, 0, c->index);
	c->input = call_loader("make_input", args);
	py.Py_DecRef(args);
	if (!c->out || !c->la_buf || !c->environ || !c->start_response || !c->write || !c->input) {
		py.PyErr_PrintEx(0);
		c->ts = py.PyEval_SaveThread();
		return 1;
	}
	cores[id] = c;
	c->ts = py.PyEval_SaveThread();
	return 0;
}

// A small direct-mapped cache of str objects for short keys and values:
// most environ keys and many values (method, protocol, addresses) repeat
// from request to request, so they are decoded and hashed once. Strings are
// immutable, so sharing them between requests and cores is safe; each core
// holds the GIL while it touches the cache.
#define STR_CACHE 1024
#define STR_CACHE_MAX 40
static struct {
	PyObject *obj;
	unsigned char len;
	char bytes[STR_CACHE_MAX];
} str_cache[STR_CACHE];

static PyObject *cached_str(const char *p, size_t n) {
	if (n > STR_CACHE_MAX) return py.PyUnicode_DecodeLatin1(p, n, NULL);
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)p[i]) * 16777619u;
	h = (h ^ (uint32_t)n) % STR_CACHE;
	if (str_cache[h].obj && str_cache[h].len == n && memcmp(str_cache[h].bytes, p, n) == 0) {
		py.Py_IncRef(str_cache[h].obj);
		return str_cache[h].obj;
	}
	PyObject *o = py.PyUnicode_DecodeLatin1(p, n, NULL);
	if (!o) return NULL;
	if (str_cache[h].obj) py.Py_DecRef(str_cache[h].obj);
	py.Py_IncRef(o);
	str_cache[h].obj = o;
	str_cache[h].len = (unsigned char)n;
	memcpy(str_cache[h].bytes, p, n);
	return o;
}

// fill_environ decodes the uwsgi variable block into the core's dict. The
// block was validated by the Go parser.
static int fill_environ(core_t *c, gosgi_req *r) {
	const unsigned char *p = (const unsigned char *)r->vars, *end = p + r->vars_len;
	PyObject *env = c->environ;
	while (p + 2 <= end) {
		size_t kl = p[0] | (p[1] << 8);
		p += 2;
		const char *k = (const char *)p;
		p += kl;
		size_t vl = p[0] | (p[1] << 8);
		p += 2;
		const char *v = (const char *)p;
		p += vl;
		PyObject *ko = cached_str(k, kl);
		PyObject *vo = cached_str(v, vl);
		if (!ko || !vo || py.PyDict_SetItem(env, ko, vo) < 0) {
			if (ko) py.Py_DecRef(ko);
			if (vo) py.Py_DecRef(vo);
			return -1;
		}
		py.Py_DecRef(ko);
		py.Py_DecRef(vo);
	}
	PyObject *scheme;
	if (r->scheme_len == 4 && memcmp(r->scheme, "http", 4) == 0) {
		scheme = v_http;
		py.Py_IncRef(scheme);
	} else if (r->scheme_len == 5 && memcmp(r->scheme, "https", 5) == 0) {
		scheme = v_https;
		py.Py_IncRef(scheme);
	} else {
		scheme = py.PyUnicode_DecodeLatin1(r->scheme, r->scheme_len, NULL);
	}
	py.PyDict_SetItem(env, k_url_scheme, scheme);
	py.Py_DecRef(scheme);
	py.PyDict_SetItem(env, k_input, c->input);
	py.PyDict_SetItem(env, k_errors, v_errors);
	py.PyDict_SetItem(env, k_version, v_version);
	py.PyDict_SetItem(env, k_run_once, PY_FALSE);
	py.PyDict_SetItem(env, k_multithread, v_multithread);
	py.PyDict_SetItem(env, k_multiprocess, v_multiprocess);
	if (file_wrapper_fn) py.PyDict_SetItem(env, k_file_wrapper, file_wrapper_fn);
	py.PyDict_SetItem(env, k_uwsgi_version, v_uwsgi_version);
	py.PyDict_SetItem(env, k_uwsgi_node, v_uwsgi_node);
	if (multi_cores || gosgi_async_mode) {
		PyObject *id = py.PyLong_FromLong(c->id);
		py.PyDict_SetItem(env, k_uwsgi_core, id);
		py.Py_DecRef(id);
	}
	if (gosgi_async_mode && gosgi_async_environ(env) < 0) return -1;
	return 0;
}

// send_fd sends the headers if due, then up to size bytes (size < 0: to
// the end) of fd from *pos with sendfile(). Returns -1 with a Python
// exception set on bad headers; a client that went away is write_error.
static int send_fd(core_t *c, int fd, off_t *pos, long long size) {
	if (!c->headers_sent && send_headers(c) < 0) return -1;
	if (c->chunked) { // framed by the router rules: copy through write_body
		char buf[16384];
		while (size != 0 && !c->req->write_error) {
			size_t want = size < 0 || size > (long long)sizeof buf ? sizeof buf : (size_t)size;
			ssize_t n = pread(fd, buf, want, *pos);
			if (n < 0 && errno == EINTR) continue;
			if (n <= 0) break;
			*pos += n;
			if (size > 0) size -= n;
			if (write_body(c, buf, n) < 0) return -1;
		}
		return 0;
	}
	if (flush_out(c, NULL, 0) < 0) return 0;
	c->req->sendfile = 1;
	PyThreadState *ts = gosgi_async_mode ? NULL : py.PyEval_SaveThread();
	while (size != 0) {
		size_t want = size < 0 || size > (1 << 20) ? (1 << 20) : (size_t)size;
		ssize_t n = sendfile(c->req->fd, fd, pos, want);
		if (n < 0 && errno == EINTR) continue;
		if (n < 0 && errno == EAGAIN && gosgi_async_mode) { // wait in the hub
			if (gosgi_async_wait(c->req->fd, 1) == 0) continue;
			errno = EIO;
		}
		if (n < 0) {
			c->req->write_error = 1;
			break;
		}
		if (n == 0) break;
		c->req->body_bytes += n;
		if (size > 0) size -= n;
	}
	if (ts) py.PyEval_RestoreThread(ts);
	return 0;
}

// send_file streams a file_wrapper's file with sendfile(). Returns 1 when
// done, 0 when the object has no usable fileno (iterate it instead).
static int send_file(core_t *c, PyObject *result) {
	PyObject *f = py.PyObject_GetAttrString(result, "filelike");
	if (!f) {
		py.PyErr_Clear();
		return 0;
	}
	PyObject *fdo = py.PyObject_GetAttrString(f, "fileno");
	PyObject *fdn = fdo ? py.PyObject_CallObject(fdo, NULL) : NULL;
	if (fdo) py.Py_DecRef(fdo);
	py.Py_DecRef(f);
	if (!fdn) {
		py.PyErr_Clear();
		return 0;
	}
	int fd = (int)py.PyLong_AsLong(fdn);
	py.Py_DecRef(fdn);
	if (fd < 0) {
		py.PyErr_Clear();
		return 0;
	}
	off_t pos = lseek(fd, 0, SEEK_CUR);
	if (pos < 0) return 0;
	if (!c->headers_sent && send_headers(c) < 0) return -1;
	if (c->chunked) return 0; // framed by the router rules: iterate it
	if (send_fd(c, fd, &pos, -1) < 0) return -1;
	lseek(fd, pos, SEEK_SET);
	return 1;
}

static void unhandled_object(PyObject *item) {
	PyObject *res = NULL;
	PyObject *args = py.PyTuple_New(1);
	py.Py_IncRef(item);
	py.PyTuple_SetItem(args, 0, item);
	res = call_loader("log_unhandled_object", args);
	py.Py_DecRef(args);
	if (res) py.Py_DecRef(res);
	py.PyErr_Clear();
}

static int iterate_body(core_t *c, PyObject *result) {
	if (PY_IS(result, TPFLAGS_BYTES)) {
		char *p;
		Py_ssize_t n;
		py.PyBytes_AsStringAndSize(result, &p, &n);
		c->req->switches++;
		return n > 0 ? write_body(c, p, n) : 0;
	}
	// uWSGI counts one switch per body item, none for a file wrapper.
	int switches = 1;
	if (file_wrapper && py.PyObject_IsInstance(result, file_wrapper) == 1) {
		int rc = send_file(c, result);
		if (rc != 0) return rc < 0 ? -1 : 0;
		switches = 0;
	}
	PyObject *it = py.PyObject_GetIter(result);
	if (!it) return -1;
	PyObject *item;
	int rc = 0;
	while ((item = py.PyIter_Next(it)) != NULL) {
		c->req->switches += switches;
		if (PY_IS(item, TPFLAGS_BYTES)) {
			char *p;
			Py_ssize_t n;
			py.PyBytes_AsStringAndSize(item, &p, &n);
			if (n > 0) rc = write_body(c, p, n);
		} else {
			unhandled_object(item);
		}
		py.Py_DecRef(item);
		if (rc < 0 || c->req->write_error) break;
		if (gosgi_async_mode) gosgi_async_yield(); // uWSGI's async loop switches after each item
	}
	py.Py_DecRef(it);
	if (rc == 0 && py.PyErr_Occurred()) rc = -1;
	return rc;
}

// count_async_switches completes gevent mode's count: uWSGI's async loop
// switches once more at the end of an iterated body (even one that
// raised), but not after bytes or a file, which go out within the call.
static void count_async_switches(gosgi_req *r, PyObject *result) {
	if (PY_IS(result, TPFLAGS_BYTES))
		r->switches = 1;
	else if (!r->sendfile)
		r->switches++;
}

static void close_result(PyObject *result) {
	if (PY_IS(result, TPFLAGS_BYTES) || !py.PyObject_HasAttrString(result, "close")) return;
	PyObject *fn = py.PyObject_GetAttrString(result, "close");
	if (!fn) {
		py.PyErr_Clear();
		return;
	}
	PyObject *res = py.PyObject_CallObject(fn, NULL);
	py.Py_DecRef(fn);
	if (res)
		py.Py_DecRef(res);
	else
		py.PyErr_PrintEx(0);
}

int gosgi_handle(int id, gosgi_req *r) {
	core_t *c = cores[id];
	if (!c || r->app < 0 || r->app >= napps) return -1;
	py.PyEval_RestoreThread(c->ts);
	gosgi_run_request(id, r);
	c->ts = py.PyEval_SaveThread();
	return 0;
}

// gosgi_run_request runs the app on r with the GIL held: environ, the call,
// the body and the writes.
int gosgi_run_request(int id, gosgi_req *r) {
	core_t *c = id >= 0 && id < MAX_CORES ? cores[id] : NULL;
	if (!c || r->app < 0 || r->app >= napps) return -1;
	__atomic_store_n(&c->claimed, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&c->req, r, __ATOMIC_RELEASE);
	running = c;
	c->added_len = 0;
	c->headers_sent = 0;
	c->out_len = 0;
	c->la = c->la_base = r->body;
	c->la_len = r->body_len;
	c->remaining = r->content_length - r->body_len;
	if (c->remaining < 0) c->remaining = 0;
	int failed = 0;

	if (fill_environ(c, r) < 0) {
		failed = 1;
	} else {
		PyObject *args = py.PyTuple_New(2);
		py.Py_IncRef(c->environ);
		py.PyTuple_SetItem(args, 0, c->environ);
		py.Py_IncRef(c->start_response);
		py.PyTuple_SetItem(args, 1, c->start_response);
		// gevent mode counts the call and the end of the body as switches,
		// as uWSGI's async loop does.
		if (gosgi_async_mode) r->switches++;
		PyObject *result = py.PyObject_Call(apps[r->app], args, NULL);
		py.Py_DecRef(args);
		if (!result) {
			failed = 1;
		} else {
			if (iterate_body(c, result) < 0) failed = 1;
			if (gosgi_async_mode) count_async_switches(r, result);
			if (failed) {
				py.PyErr_PrintEx(0);
			} else if (!c->headers_sent && send_headers(c) < 0) {
				failed = 1;
			}
			close_result(result);
			py.Py_DecRef(result);
		}
	}
	if (failed) {
		if (py.PyErr_Occurred()) py.PyErr_PrintEx(0);
		r->exception = 1;
		if (!c->headers_sent || r->body_bytes == 0) {
			// TOP-13: nothing is sent; the log says 500 with no headers.
			c->out_len = 0;
			r->status = 500;
			r->headers = 0;
			r->header_bytes = 0;
			r->body_bytes = 0;
			if (c->headers_sent) r->switches = 0;
		}
	}
	if (!failed && c->chunked && end_framing(c) < 0) {
		py.PyErr_PrintEx(0);
		r->exception = 1;
	}
	reset_framing(c);
	if (!failed || r->body_bytes > 0) flush_out(c, NULL, 0);
	if (c->status) {
		py.Py_DecRef(c->status);
		c->status = NULL;
	}
	if (c->headers) {
		py.Py_DecRef(c->headers);
		c->headers = NULL;
	}
	py.PyDict_Clear(c->environ);
	r->body_left = r->buffered ? 0 : c->remaining; // a buffered body left nothing in the socket
	r->added_vars = c->added;
	r->added_vars_len = (int)c->added_len;
	__atomic_store_n(&c->req, NULL, __ATOMIC_RELEASE);
	running = NULL;
	return 0;
}

PyThreadState *gosgi_core_ts(int id) { return id >= 0 && id < MAX_CORES && cores[id] ? cores[id]->ts : NULL; }
void gosgi_core_set_ts(int id, PyThreadState *ts) {
	if (id >= 0 && id < MAX_CORES && cores[id]) cores[id]->ts = ts;
}

// gosgi_harakiri_reply answers core id's stuck request with a 504 unless the
// app already started its response (DESIGN §6: uWSGI just drops it). It is
// called from another thread while the core is stuck in the app.
int gosgi_harakiri_reply(int id) {
	static const char reply[] =
	    "HTTP/1.1 504 Gateway Timeout\r\nContent-Type: text/plain\r\nContent-Length: 20\r\n"
	    "Connection: close\r\n\r\n504 Gateway Timeout\n";
	if (id < 0 || id >= MAX_CORES || !cores[id]) return 0;
	core_t *c = cores[id];
	gosgi_req *r = __atomic_load_n(&c->req, __ATOMIC_ACQUIRE);
	int free_ = 0;
	if (!r || !__atomic_compare_exchange_n(&c->claimed, &free_, 2, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) return 0;
	return send(r->fd, reply, sizeof reply - 1, MSG_NOSIGNAL | MSG_DONTWAIT) > 0;
}

long gosgi_after_request(int id) {
	core_t *c = cores[id];
	if (!c || !after_req_hook) return 0;
	py.PyEval_RestoreThread(c->ts);
	gosgi_after_request_locked();
	c->ts = py.PyEval_SaveThread();
	return 0;
}

// gosgi_after_request_locked runs uwsgi.after_req_hook with the GIL held.
void gosgi_after_request_locked(void) {
	if (!after_req_hook) return;
	PyObject *res = py.PyObject_CallObject(after_req_hook, NULL);
	if (res)
		py.Py_DecRef(res);
	else
		py.PyErr_PrintEx(0);
}

void gosgi_worker_exit(void) {
	if (!loader || !gosgi_main_ts) return;
	int g = py.PyGILState_Ensure();
	PyObject *res = call_loader("worker_exit", NULL);
	if (res)
		py.Py_DecRef(res);
	else
		py.PyErr_PrintEx(0);
	py.PyGILState_Release(g);
}
