// Package config turns a uWSGI command line, the UWSGI_* environment and
// the config files they name into the ordered list of option entries that
// uWSGI 2.0 would build (spec §2: TOP-1..TOP-4, CF-1..CF-53), and answers
// typed questions about it.
//
// It reads ini, XML, JSON and YAML files (plain paths and "-" for stdin;
// other schemes are refused), expands magic variables, $(ENV), @(file) and
// %(name) references, runs if-*/for blocks, include/inherit, set,
// set-placeholder and declare-option, and performs the immediate actions
// that end the program (--version, --help, --get, --stop...) by returning
// an *Exit. It does not apply options: it never calls putenv, binds, forks
// or changes directory; the master reads the result and does that.
package config

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/gosgi/gosgi/internal/options"
	"github.com/gosgi/gosgi/internal/plugins"
)

// Entry is one option occurrence, in the order uWSGI applies them.
type Entry struct {
	Key, Value string
	// NoValue marks a command-line flag given without a value (uwsgi.opt
	// shows True, --show-config prints "true"); a bare ini key instead has
	// Value "" and NoValue false.
	NoValue bool
	// Source is "file.ini:12", "command line" or "environment".
	Source string

	immediate   bool // already acted on while reading (CF-25)
	raw         bool // from an inherited file: never expanded (CF-39)
	placeholder bool // recorded by set-placeholder
	derived     bool // added by a declare-option expansion: applied, not listed by --show-config
}

// Exit asks the caller to end the program: print Stdout and Stderr and
// exit with Code. Load returns it for immediate actions (--version,
// --help, --get, --stop...) and for command-line and config errors.
type Exit struct {
	Code           int
	Stdout, Stderr string
}

func (e *Exit) Error() string {
	if e.Stderr != "" {
		return strings.TrimRight(e.Stderr, "\n")
	}
	return fmt.Sprintf("exit status %d", e.Code)
}

// Config is the loaded configuration.
type Config struct {
	// Stdout is what print/iprint produced while loading; the caller
	// writes it to standard output.
	Stdout   string
	entries  []Entry
	plugins  []string
	warnings []string
}

// Load builds the configuration from args (args[0] is the program name as
// given), environ ("K=V" strings) and the files they name, writing uWSGI's
// loading messages to log. It returns an *Exit for actions that end the
// program and for errors uWSGI reports with an exit status; other errors
// are plain, with file, line and option in the message.
func Load(args []string, environ []string, log io.Writer) (*Config, error) {
	if log == nil {
		log = io.Discard
	}
	if len(args) == 0 {
		args = []string{"uwsgi"}
	}
	l := newLoader(args[0], environ, log)
	if err := l.run(args[1:]); err != nil {
		return nil, err
	}
	return l.finish()
}

// Entries returns the final ordered list after every pass.
func (c *Config) Entries() []Entry { return append([]Entry(nil), c.entries...) }

// names returns the keys that count as name: the option's names when name
// is an option (or alias), else name itself.
func names(name string) map[string]bool {
	if o := options.Lookup(name); o != nil {
		m := map[string]bool{}
		for _, n := range o.Names() {
			m[n] = true
		}
		return m
	}
	return map[string]bool{name: true}
}

func (c *Config) values(name string) []Entry {
	ns := names(name)
	var out []Entry
	for _, e := range c.entries {
		if ns[e.Key] {
			out = append(out, e)
		}
	}
	return out
}

// Has reports whether name (or one of its aliases) was given.
func (c *Config) Has(name string) bool { return len(c.values(name)) > 0 }

// Bool reports the last value of name as a boolean (CF-15): present with no
// value, an empty value or anything but false/off/no/0 is true.
func (c *Config) Bool(name string) bool {
	vs := c.values(name)
	if len(vs) == 0 {
		return false
	}
	return truth(vs[len(vs)-1])
}

func truth(e Entry) bool {
	if e.NoValue {
		return true
	}
	switch strings.ToLower(e.Value) {
	case "false", "off", "no", "0":
		return false
	}
	return true
}

// Int returns the last value of name with atoi semantics (OP-301), the
// table default when absent. Megabyte options are returned in bytes and
// buffer-size is clamped to 65535.
func (c *Config) Int(name string) int {
	o := options.Lookup(name)
	s, ok := c.last(name)
	if !ok {
		if o == nil || o.Default == "" {
			return 0
		}
		s = o.Default
	}
	n := Atoi(s)
	if o != nil {
		if o.Value == options.Megabytes {
			n *= 1 << 20
		}
		if o.Name == "buffer-size" && n > 65535 {
			n = 65535
		}
	}
	return n
}

func (c *Config) last(name string) (string, bool) {
	vs := c.values(name)
	if len(vs) == 0 {
		return "", false
	}
	e := vs[len(vs)-1]
	if e.NoValue {
		return "1", true
	}
	return e.Value, true
}

// String returns the last value of name, the table default when absent.
// A command-line flag or optional-argument option given without a value
// (--log-date, --chmod-socket) reads as "".
func (c *Config) String(name string) string {
	if vs := c.values(name); len(vs) > 0 {
		return vs[len(vs)-1].Value
	}
	if o := options.Lookup(name); o != nil {
		return o.Default
	}
	return ""
}

// List returns every value of name and its aliases, in order.
func (c *Config) List(name string) []string {
	var out []string
	for _, e := range c.values(name) {
		out = append(out, e.Value)
	}
	return out
}

// First returns the first value of name (as %(name) and --get see it,
// QK-12). Aliases are not merged: uWSGI matches the key as written.
func (c *Config) First(name string) (string, bool) {
	for _, e := range c.entries {
		if e.Key == name {
			return e.Value, true
		}
	}
	return "", false
}

// Plugins returns the plugin names requested (argv[0], UWSGI_PLUGINS,
// plugin options), split and trimmed, in order, as given.
func (c *Config) Plugins() []string { return append([]string(nil), c.plugins...) }

// Env returns the values of the env entries ("K=V"), in order; the master
// applies them (CF-31).
func (c *Config) Env() []string { return c.List("env") }

// Warnings returns one line per Warn-status option used.
func (c *Config) Warnings() []string { return append([]string(nil), c.warnings...) }

// Atoi converts like C's atoi: optional space and sign, then leading
// digits; anything else gives 0 (OP-301).
func Atoi(s string) int {
	s = strings.TrimLeft(s, " \t\n\r\v\f")
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	end := 0
	for end < len(s) && s[end] >= '0' && s[end] <= '9' {
		end++
	}
	n, err := strconv.ParseInt(s[:end], 10, 64)
	if err != nil && end > 0 {
		n = 1<<63 - 1 // overflow saturates like glibc's strtol
	}
	if neg {
		n = -n
	}
	return int(int32(n)) // atoi returns a C int
}

// finish runs the second pass: expansions, inherit, checks and the
// non-immediate actions.
func (l *loader) finish() (*Config, error) {
	if l.logic != nil {
		// An unterminated block simply ends with the input, as in uWSGI.
		l.logic = nil
	}
	l.expandAll()
	// inherit is applied in the second pass; its entries go to the end
	// unexpanded (CF-39, QK-1).
	for i := 0; i < len(l.entries); i++ {
		e := l.entries[i]
		if e.Key != "inherit" || e.immediate {
			continue
		}
		l.entries[i].immediate = true
		l.inInherit = true
		err := l.loadFile(e.Value, e.Source)
		l.inInherit = false
		if err != nil {
			return nil, err
		}
	}
	// The apply pass: print and version act here, in order (they are not
	// immediate in uWSGI), and custom options append what they stand for.
	n := len(l.entries)
	for i := 0; i < n; i++ {
		e := l.entries[i]
		if e.immediate {
			continue
		}
		if o := options.Lookup(e.Key); o != nil && (o.Value == options.Int || o.Value == options.Megabytes) && !e.NoValue && Atoi(e.Value) < 0 {
			return nil, &Exit{Code: 1, Stderr: fmt.Sprintf("invalid value for option %q: must be > 0 (%s)\n", o.Name, e.Source)}
		}
		switch e.Key {
		case "print":
			l.stdout.WriteString(e.Value + "\n")
		case "version":
			return nil, &Exit{Code: 0, Stdout: l.stdout.String() + options.Version + "\n"}
		}
	}
	if gets := l.listValues("get"); len(gets) > 0 {
		var out strings.Builder
		for _, k := range gets {
			for _, e := range l.entries {
				if e.Key == k {
					if !e.NoValue {
						out.WriteString(e.Value + "\n")
					}
					break
				}
			}
		}
		return nil, &Exit{Code: 0, Stdout: l.stdout.String() + out.String()}
	}
	// Custom options append what they stand for when applied (CF-27),
	// which is after --get has answered.
	for i := 0; i < n; i++ {
		e := l.entries[i]
		if c, ok := l.custom[e.Key]; ok && c.declared && !e.immediate && options.Lookup(e.Key) == nil {
			if err := l.expandCustom(e, c); err != nil {
				return nil, err
			}
		}
	}
	cfg := &Config{entries: l.entries, plugins: l.plugins}
	if err := l.check(cfg); err != nil {
		return nil, err
	}
	if l.stdout.Len() > 0 {
		cfg.Stdout = l.stdout.String()
	}
	return cfg, nil
}

func (l *loader) listValues(name string) []string {
	var out []string
	for _, e := range l.entries {
		if e.Key == name {
			out = append(out, e.Value)
		}
	}
	return out
}

// check enforces strict mode, refused options and option values, and
// collects warnings.
func (l *loader) check(cfg *Config) error {
	strict := cfg.Bool("strict")
	seenWarn := map[string]bool{}
	for _, e := range cfg.entries {
		o := options.Lookup(e.Key)
		if o == nil {
			if strict && !e.placeholder && !l.custom[e.Key].declared {
				return &Exit{Code: 1, Stderr: fmt.Sprintf("[strict-mode] unknown config directive: %s\n", e.Key)}
			}
			continue
		}
		if o.Value == options.Bool && !truth(e) {
			continue // a disabled feature needs no support
		}
		switch o.Status {
		case options.Refused:
			return fmt.Errorf("%s: option %q is not supported by gosgi: %s", e.Source, e.Key, o.Reason)
		case options.Warn:
			if !seenWarn[o.Name] {
				seenWarn[o.Name] = true
				l.warnings = append(l.warnings, fmt.Sprintf("option %q (%s): accepted, no effect because %s", e.Key, e.Source, o.Reason))
			}
		}
	}
	for _, p := range cfg.plugins {
		for _, item := range strings.Split(p, ",") {
			if strings.TrimSpace(item) == "" {
				continue
			}
			pl, err := plugins.Resolve(item)
			if err != nil {
				return fmt.Errorf("plugin %q: %w", strings.TrimSpace(item), err)
			}
			if pl.Kind == plugins.Unsupported {
				l.warnings = append(l.warnings, pl.Message)
			}
		}
	}
	cfg.warnings = l.warnings
	return nil
}

// WriteShowConfig writes the --show-config dump (CF-7): a blank line,
// ";uWSGI instance configuration", "[uwsgi]", one "key = value" line per
// entry in order (flags without value as "true"), ";end of configuration"
// and a blank line.
func (c *Config) WriteShowConfig(w io.Writer) error {
	var b strings.Builder
	b.WriteString("\n;uWSGI instance configuration\n[uwsgi]\n")
	for _, e := range c.entries {
		if e.derived {
			continue
		}
		v := e.Value
		if e.NoValue {
			v = "true"
		}
		fmt.Fprintf(&b, "%s = %s\n", e.Key, v)
	}
	b.WriteString(";end of configuration\n\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// Master reports whether the master process runs: the master option, or
// any option that needs it (CF-8), applied in order so a later
// "master = false" still wins over an earlier implying option, as in uWSGI.
func (c *Config) Master() bool {
	return c.implied("master", func(o *options.Option) bool { return o.ImpliesMaster })
}

// EnableThreads reports whether Python thread support is on: the
// enable-threads option, or threads, py-autoreload... (CF-8).
func (c *Config) EnableThreads() bool {
	return c.implied("enable-threads", func(o *options.Option) bool { return o.ImpliesThreads })
}

func (c *Config) implied(name string, implies func(*options.Option) bool) bool {
	ns := names(name)
	on := false
	for _, e := range c.entries {
		if ns[e.Key] {
			on = truth(e)
			continue
		}
		if o := options.Lookup(e.Key); o != nil && implies(o) && (o.Value != options.Bool || truth(e)) {
			on = true
		}
	}
	return on
}
