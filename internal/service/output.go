package service

import (
	"fmt"
	"io"
	"strings"
)

// Outcome is the result of one command on one instance; it selects the
// progress marker (C-51) and whether it counts in the exit status (C-53).
type Outcome int

const (
	// Done: the command did what was asked.
	Done Outcome = iota
	// Already: the instance was already in the wanted state.
	Already
	// Failed: the command failed; counts in the exit status.
	Failed
	// NotFound: no config for the argument; never an error.
	NotFound
)

// Marker renders the progress marker of an outcome; id is "ns/name"
// (used only when names are printed).
func Marker(o Outcome, id string, names bool) string {
	if !names {
		switch o {
		case Done, Already:
			return "."
		case Failed:
			return "!"
		}
		return "?"
	}
	id = SanitizeName(id)
	switch o {
	case Done:
		return id
	case Already:
		return "(" + id + ")"
	case Failed:
		return id + "!"
	}
	return id + "?"
}

// SanitizeName makes a name safe for a terminal line: ASCII control
// characters become '?', and a name with a space is single-quoted.
func SanitizeName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c == 0x7f {
			b[i] = '?'
		}
	}
	s = string(b)
	if strings.ContainsAny(s, " ") {
		return "'" + s + "'"
	}
	return s
}

// progress writes one Debian-style progress line:
// "<Verb> app server(s): uwsgi -> . ! ? done." (C-50).
type progress struct {
	w       io.Writer
	on      bool // VERBOSE
	names   bool
	color   bool
	started bool // " ->" printed
	errors  int
}

func (p *progress) begin(verb string) {
	if p.on {
		fmt.Fprintf(p.w, "%s app server(s): uwsgi", verb)
	}
}

func (p *progress) arrow() {
	if p.on && !p.started {
		io.WriteString(p.w, " ->")
	}
	p.started = true
}

func (p *progress) mark(o Outcome, id string) {
	p.arrow()
	if o == Failed {
		p.errors++
	}
	if p.on {
		io.WriteString(p.w, " "+Marker(o, id, p.names))
	}
}

// omitted ends a line for a command over "all" that found no config (C-52).
func (p *progress) omitted(dir string) {
	if p.on {
		fmt.Fprintf(p.w, " (omitted; missing conffile(s) in %s).\n", dir)
	}
}

// end closes the line: " done." with no failures, " failed!" otherwise.
func (p *progress) end() {
	if !p.on {
		return
	}
	if p.errors == 0 {
		io.WriteString(p.w, " done.\n")
		return
	}
	io.WriteString(p.w, " "+p.paint("failed!")+"\n")
}

// paint colours a failure red on a terminal, as the LSB helpers do (C-55).
func (p *progress) paint(s string) string {
	if p.color {
		return "\x1b[31m" + s + "\x1b[0m"
	}
	return s
}

// exitCode turns a failure count into an exit status; it saturates so
// that 256 failures cannot wrap around to success.
func exitCode(failures int) int {
	if failures > 255 {
		return 255
	}
	return failures
}
