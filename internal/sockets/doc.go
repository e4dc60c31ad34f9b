// Package sockets creates and inherits the listening sockets of a gosgi
// instance: TCP, TCP6, UNIX and abstract addresses in uWSGI's forms (PM-64),
// with its backlog check, chmod/chown, bind log lines (PM-62..PM-65),
// inheritance across a re-exec, from systemd socket activation and from
// fd 0 (PM-66), and vacuum of UNIX socket files (PM-67).
//
// Sockets are made with raw system calls so the master controls every
// option: they are blocking (worker cores call a blocking accept) and
// close-on-exec until the master decides to pass them on. The package
// deliberately does not accept connections, speak any protocol, resolve
// `=N` shared-socket references or drop privileges: the master does.
package sockets
