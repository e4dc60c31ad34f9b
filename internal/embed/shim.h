// Interface between the Go worker and the C side that runs Python.
#ifndef GOSGI_SHIM_H
#define GOSGI_SHIM_H

#include <stddef.h>

// One request, filled by Go, completed by gosgi_handle.
typedef struct gosgi_req {
	// in
	int fd;                  // client connection (blocking, SO_RCVTIMEO/SO_SNDTIMEO set)
	const char *vars;        // uwsgi variable block (u16le key len, key, u16le val len, val)...
	int vars_len;
	const char *body;        // body bytes already read together with the head
	int body_len;
	long long content_length;
	const char *proto;       // SERVER_PROTOCOL for the status line ("" -> HTTP/1.0)
	int proto_len;
	const char *scheme;      // wsgi.url_scheme
	int scheme_len;
	int app;                 // index of the app to call
	int keepalive;           // 1: the connection stays open after the response (do not drain)
	const char *extra;       // "Name: value\r\n" lines to add to the app's headers (routing)
	int extra_len;
	int extra_count;
	int buffered;            // post-buffering: the whole body is in body, or in body_fd
	int body_fd;             // buffered body in a file read from its start (-1: none)
	const char *raw;         // chunked request: the encoded bytes read with the head (uwsgi.chunked_read)
	int raw_len;
	int router;              // http router response rules: GOSGI_ROUTER_* bits
	const char *del;         // "name\n" lines: app response headers to drop (del-header)
	int del_len;
	// out
	int status;              // numeric status sent (500 on an exception before headers)
	int headers;             // number of headers sent
	int header_bytes;        // bytes of the whole head, status line and blank line included
	long long body_bytes;    // body bytes written
	int exception;           // the app raised
	int sendfile;            // the body went out with sendfile()
	int switches;            // body chunks produced (uWSGI's "switches")
	int write_error;         // the client went away while writing
	int read_error;          // reading wsgi.input failed (timeout or disconnect)
	int content_length_set;  // the app sent a Content-Length header (keep-alive fronts)
	long long body_left;     // body bytes still unread in the socket
	int force_log;           // uwsgi.log_this_request(): log despite disable-logging
	const char *added_vars;  // uwsgi.add_var(): variables in block format, valid until the core's next request
	int added_vars_len;
	int chunked;             // the response went out chunked, to its last chunk
} gosgi_req;

// gosgi_req.router bits: what the http router does to a response without
// Content-Length (http-keepalive, http-auto-chunked, http-auto-gzip).
#define GOSGI_ROUTER_KEEP 1     // the client may keep the connection: else say Connection: close
#define GOSGI_ROUTER_CHUNKED 2  // ... or chunk the body and keep it
#define GOSGI_ROUTER_GZIP 4     // the client accepts gzip: compress bodies marked uWSGI-Encoding: gzip

// Worker identity, set in the forked child before the Go runtime starts.
int gosgi_role(void);        // 0 not a Python process, 2 worker
int gosgi_worker_id(void);
const char *gosgi_bundle(size_t *len);

int gosgi_core_init(int core);   // per-core Python objects; returns 0 on success
int gosgi_handle(int core, gosgi_req *r);
int gosgi_app_count(void);
const char *gosgi_app_mountpoint(int i, int *len);
void gosgi_worker_exit(void);    // atexit hooks, called once when the worker stops
long gosgi_after_request(int core); // uwsgi.after_req_hook, if any
int gosgi_harakiri_reply(int core);
void gosgi_set_scoreboard(void *p, size_t n); // shared scoreboard, for uwsgi.workers()
void gosgi_set_title(const char *title);        // process title shown by ps  // 504 for a stuck request, from another thread

// gevent mode (async.c). The functions taking the GIL as given are called
// from Python with the GIL held.
#include <sys/types.h>
extern int gosgi_async_mode;   // 1 in a worker running the gevent loop
int gosgi_async_core(int id, char *head, int cap, gosgi_req *req);
int gosgi_gevent_run(int cores, const int *socks, int nsocks, int stop_fd, int wake_fd);
int gosgi_async_wait(int fd, int write);               // GIL held; 0 ready, -1 timeout/error
ssize_t gosgi_async_recv(int fd, void *buf, size_t n); // GIL held; recv that waits through the hub
void gosgi_async_yield(void);                          // GIL held; let the other greenlets run
int gosgi_run_request(int core, gosgi_req *r);         // GIL held
void gosgi_after_request_locked(void);                 // GIL held

#endif
