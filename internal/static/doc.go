// Package static serves files for the static-map, static-map2,
// check-static and check-static-docroot options straight from a worker
// core, with sendfile, before the request reaches Python (PM-79, LG-3).
//
// A Server is built once per worker from the options (New) and shared by
// all cores. Match decides, from the parsed request head, whether a file
// answers the request; it does not allocate when no mapping applies.
// Serve writes uWSGI's response head for that file (Content-Type from the
// MIME table, Content-Length, Last-Modified, Expires, Content-Encoding for
// a pre-compressed .gz twin, Content-Range) and the body to a blocking
// socket, and returns the figures of the request log line.
//
// Paths that resolve outside the mapped directory (through ".." or a
// symlink) are refused unless static-safe lists their target; like uWSGI,
// the request then falls through to the app. A NUL byte in a mapped path is
// answered with 400 instead of being truncated as uWSGI's C strings do.
//
// The package deliberately does not read request bodies, list directories,
// compress on the fly, cache stat results or implement X-Sendfile
// (file-serve-mode): the file bytes always go out through sendfile.
package static
