// Package logsink opens uWSGI's pluggable log targets (LG-24): `logger`
// and `req-logger` values such as `file:/var/log/app.log`,
// `syslog[:ident[,facility]]` and `systemd` (the journal). A target is an
// io.Writer that takes whole lines; it does not format anything.
package logsink

import (
	"fmt"
	"io"
	"log/syslog"
	"os"
	"strings"

	"github.com/coreos/go-systemd/v22/journal"
)

// Open returns the writer for one logger value. An optional leading
// "NAME " (a logger id for log-route) is ignored.
func Open(spec string) (io.WriteCloser, error) {
	if id, rest, ok := strings.Cut(spec, " "); ok && !strings.Contains(id, ":") {
		spec = strings.TrimSpace(rest)
	}
	kind, args, _ := strings.Cut(spec, ":")
	switch kind {
	case "file":
		if args == "" {
			return nil, fmt.Errorf("logger %q: file: needs a path", spec)
		}
		f, err := os.OpenFile(args, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
		if err != nil {
			return nil, fmt.Errorf("logger %q: %w", spec, err)
		}
		return f, nil
	case "stdio":
		return nopCloser{os.Stderr}, nil
	case "syslog":
		ident, facility, _ := strings.Cut(args, ",")
		if ident == "" {
			ident = "uwsgi"
		}
		prio, err := parseFacility(facility)
		if err != nil {
			return nil, fmt.Errorf("logger %q: %w", spec, err)
		}
		w, err := syslog.New(prio|syslog.LOG_INFO, ident)
		if err != nil {
			return nil, fmt.Errorf("logger %q: %w", spec, err)
		}
		return lines{w}, nil
	case "systemd", "journald":
		if !journal.Enabled() {
			return nil, fmt.Errorf("logger %q: no systemd journal socket", spec)
		}
		return lines{journalWriter{}}, nil
	}
	return nil, fmt.Errorf("unable to find logger %s", kind)
}

func parseFacility(s string) (syslog.Priority, error) {
	switch strings.ToLower(strings.TrimPrefix(strings.ToLower(s), "log_")) {
	case "", "user":
		return syslog.LOG_USER, nil
	case "daemon":
		return syslog.LOG_DAEMON, nil
	case "local0":
		return syslog.LOG_LOCAL0, nil
	case "local1":
		return syslog.LOG_LOCAL1, nil
	case "local2":
		return syslog.LOG_LOCAL2, nil
	case "local3":
		return syslog.LOG_LOCAL3, nil
	case "local4":
		return syslog.LOG_LOCAL4, nil
	case "local5":
		return syslog.LOG_LOCAL5, nil
	case "local6":
		return syslog.LOG_LOCAL6, nil
	case "local7":
		return syslog.LOG_LOCAL7, nil
	}
	return 0, fmt.Errorf("unknown syslog facility %q", s)
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// lines splits what it is given into one message per line.
type lines struct{ w io.WriteCloser }

func (l lines) Write(p []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		if _, err := l.w.Write([]byte(line)); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

func (l lines) Close() error { return l.w.Close() }

type journalWriter struct{}

func (journalWriter) Write(p []byte) (int, error) {
	return len(p), journal.Send(string(p), journal.PriInfo, map[string]string{"SYSLOG_IDENTIFIER": "uwsgi"})
}

func (journalWriter) Close() error { return nil }
