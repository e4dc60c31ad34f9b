// Package logging writes uWSGI-format log output: the per-request line
// (LG-1..LG-3), the ctime date it carries, and server messages with the
// optional log-date prefix (LG-22), using the C strftime subset that uWSGI
// configs use.
//
// Request lines (the default one, logformat, gosgi's log-json) are built by
// appending to a caller-owned buffer so the hot path does not allocate;
// writing them is the caller's job (one write per line). The encoders of
// log-encoder/log-req-encoder are here too; choosing where a line goes
// (log-route, log-drain, log-filter, loggers) is internal/logsink's job and
// rotation (log-maxsize) the master's.
package logging
