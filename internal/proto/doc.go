// Package proto parses the request heads a gosgi worker accepts: uwsgi
// protocol packets (WP-1..WP-8) and HTTP/1.x request heads (WP-20..WP-30,
// the http-socket front), plus the PROXY protocol v1 line (WP-27).
//
// Both parsers end with the same thing: a uwsgi variable block (u16-LE key
// length, key, u16-LE value length, value) and a Request whose fields are
// views into it, so the rest of the data path handles one format only. A
// uwsgi packet is validated in place; an HTTP head is converted into a block
// appended to a caller-owned buffer. Nothing allocates per request.
//
// The package deliberately does not read from sockets, decode chunked
// bodies, build the WSGI environ or write responses: it works on bytes the
// caller already holds. Error texts are the ones uWSGI logs, so operators'
// log searches keep working.
package proto
