package logging

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// Logger writes server messages (not request lines) with uWSGI's log-date
// rules (LG-22). Each message goes out in a single Write, so lines from
// several processes appending to one O_APPEND file never interleave.
type Logger struct {
	// Now returns the time used for date prefixes; nil means time.Now.
	Now func() time.Time

	mu     sync.Mutex
	w      io.Writer
	format string // strftime format of log-date=FORMAT; "" = ctime
	dated  bool   // log-date set: prefix every Printf message
	buf    []byte
}

// NewLogger returns a Logger writing to w. dated reports the log-date
// option; dateFormat is its value ("" for bare log-date: ctime).
func NewLogger(w io.Writer, dateFormat string, dated bool) *Logger {
	return &Logger{w: w, format: dateFormat, dated: dated}
}

// Printf logs one message; a newline is added if it lacks one. With
// log-date it is prefixed with the date and " - ".
func (l *Logger) Printf(format string, args ...any) {
	l.output(l.dated, format, args)
}

// Verbosef logs a message that always carries the date prefix, as uWSGI's
// harakiri, touch, mercy and emperor messages do: ctime unless log-date has
// a strftime format.
func (l *Logger) Verbosef(format string, args ...any) {
	l.output(true, format, args)
}

// Write writes p as is (Python output, tracebacks: LG-25), in one call.
func (l *Logger) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (l *Logger) output(dated bool, format string, args []any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buf[:0]
	if dated {
		now := time.Now
		if l.Now != nil {
			now = l.Now
		}
		t := now()
		if l.format != "" {
			b = Strftime(b, l.format, t.Local())
		} else {
			b = AppendCtime(b, t)
		}
		b = append(b, " - "...)
	}
	b = fmt.Appendf(b, format, args...)
	if len(b) == 0 || b[len(b)-1] != '\n' {
		b = append(b, '\n')
	}
	// A failed log write has nowhere to be reported; uWSGI ignores it too.
	_, _ = l.w.Write(b)
	if cap(b) <= 64<<10 {
		l.buf = b // keep the buffer unless one huge message grew it
	}
}
