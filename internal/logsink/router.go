package logsink

import (
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/gosgi/gosgi/internal/logging"
)

// Router is what uWSGI's log master does with every line (LG-25): drop it
// (log-drain, log-filter), pick its loggers (log-route), encode it for
// each (log-encoder) and write it. Lines that no route takes go to the
// unnamed loggers, or to the default output when there is none.
type Router struct {
	Default  io.Writer // logto, or the stderr the instance started with
	Loggers  []Named
	Routes   []Route
	Drains   []*regexp.Regexp
	Filters  []*regexp.Regexp
	Encoders []*logging.Encoder
	// Now is the encoders' clock; nil means time.Now.
	Now func() time.Time
}

// Named is a logger with its id ("" for `logger = file:...`); W is nil
// when it could not be opened (its lines go to Default).
type Named struct {
	Name string
	W    io.Writer
}

func (r *Router) write(l *Named, line []byte, now time.Time) {
	w := l.W
	if w == nil {
		w = r.Default
	}
	if w != nil {
		w.Write(logging.EncodeFor(r.Encoders, l.Name, line, now))
	}
}

// Route sends the lines matching Re to the loggers called Logger.
type Route struct {
	Logger string
	Re     *regexp.Regexp
}

// RouterConfig holds the option values a Router is built from.
type RouterConfig struct {
	Loggers  []string // logger / req-logger values: "[NAME ]TARGET"
	Routes   []string // log-route / log-req-route: "NAME REGEXP"
	Drains   []string // log-drain
	Filters  []string // log-filter
	Encoders []string // log-encoder / log-req-encoder
}

// NewRouter opens the loggers and compiles the rules. A logger that
// cannot be opened is returned in warnings and its lines go to def, so the
// instance keeps its log; a rule that cannot be compiled is an error that
// names the option and value at fault.
func NewRouter(def io.Writer, c RouterConfig) (r *Router, warnings []error, err error) {
	r = &Router{Default: def}
	fail := func(err error) (*Router, []error, error) {
		r.Close()
		return nil, nil, err
	}
	for _, spec := range c.Loggers {
		name, target := SplitName(spec)
		w, err := Open(target)
		if err != nil {
			warnings = append(warnings, fmt.Errorf("%w: its lines go to the default log", err))
			w = nil
		}
		r.Loggers = append(r.Loggers, Named{Name: name, W: w})
	}
	for _, spec := range c.Routes {
		name, expr, ok := strings.Cut(strings.TrimSpace(spec), " ")
		if !ok {
			return fail(fmt.Errorf("log-route %q: want \"LOGGER REGEXP\"", spec))
		}
		re, err := regexp.Compile(strings.TrimSpace(expr))
		if err != nil {
			return fail(fmt.Errorf("log-route %q: %w", spec, err))
		}
		if !r.hasLogger(name) {
			return fail(fmt.Errorf("log-route %q: no logger named %q", spec, name))
		}
		r.Routes = append(r.Routes, Route{Logger: name, Re: re})
	}
	for _, set := range []struct {
		opt  string
		in   []string
		dest *[]*regexp.Regexp
	}{{"log-drain", c.Drains, &r.Drains}, {"log-filter", c.Filters, &r.Filters}} {
		for _, expr := range set.in {
			re, err := regexp.Compile(expr)
			if err != nil {
				return fail(fmt.Errorf("%s %q: %w", set.opt, expr, err))
			}
			*set.dest = append(*set.dest, re)
		}
	}
	for _, spec := range c.Encoders {
		e, err := logging.ParseEncoder(spec)
		if err != nil {
			return fail(err)
		}
		r.Encoders = append(r.Encoders, e)
	}
	return r, warnings, nil
}

// SplitName separates the optional logger id of a logger value: "NAME
// TARGET" names it, a value whose first word holds a ':' or is a target
// kind ("stdio", "syslog"...) does not.
func SplitName(spec string) (name, target string) {
	spec = strings.TrimSpace(spec)
	first, rest, ok := strings.Cut(spec, " ")
	if !ok || strings.Contains(first, ":") {
		return "", spec
	}
	return first, strings.TrimSpace(rest)
}

func (r *Router) hasLogger(name string) bool {
	for _, l := range r.Loggers {
		if l.Name == name {
			return true
		}
	}
	return false
}

// Keep reports whether a line passes log-drain and log-filter.
func (r *Router) Keep(line []byte) bool {
	for _, re := range r.Drains {
		if re.Match(line) {
			return false
		}
	}
	if len(r.Filters) == 0 {
		return true
	}
	for _, re := range r.Filters {
		if re.Match(line) {
			return true
		}
	}
	return false
}

// Line handles one message, normally a whole line with its "\n".
func (r *Router) Line(line []byte) {
	if !r.Keep(line) {
		return
	}
	now := time.Now()
	if r.Now != nil {
		now = r.Now()
	}
	body := line
	if n := len(body); n > 0 && body[n-1] == '\n' {
		body = body[:n-1] // regexps see the text, as uWSGI's do
	}
	routed := false
	for i := range r.Loggers {
		l := &r.Loggers[i]
		if r.routedTo(l.Name, body) {
			routed = true
			r.write(l, line, now)
		}
	}
	if routed {
		return
	}
	unnamed := false
	for i := range r.Loggers {
		if l := &r.Loggers[i]; l.Name == "" || len(r.Routes) == 0 {
			unnamed = true
			r.write(l, line, now)
		}
	}
	if !unnamed && r.Default != nil {
		r.Default.Write(logging.EncodeFor(r.Encoders, "", line, now))
	}
}

// routedTo reports whether a route sends the line to the logger name.
func (r *Router) routedTo(name string, body []byte) bool {
	if name == "" {
		return false
	}
	for _, rt := range r.Routes {
		if rt.Logger == name && rt.Re.Match(body) {
			return true
		}
	}
	return false
}

// Close closes the loggers.
func (r *Router) Close() {
	for _, l := range r.Loggers {
		if c, ok := l.W.(io.Closer); ok && l.W != nil {
			c.Close()
		}
	}
}
