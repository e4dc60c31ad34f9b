// Package logging writes uWSGI-format log output: the per-request line
// (LG-1..LG-3), the ctime date it carries, and server messages with the
// optional log-date prefix (LG-22), using the C strftime subset that uWSGI
// configs use.
//
// Request lines are built by appending to a caller-owned buffer so the hot
// path does not allocate; writing them is the caller's job (one write per
// line). The package deliberately does not route, filter, rotate or encode
// logs (log-route, log-encoder, log-maxsize), nor implement logformat: those
// sit on top of it.
package logging
