package config

import (
	"fmt"
	"strings"

	"github.com/gosgi/gosgi/internal/options"
)

// cliOption is what a long or short name resolves to on the command line:
// a table option of a loaded plugin or a declared custom option (which
// takes a required argument).
type cliOption struct {
	name string // as written in the table (canonical or alias)
	kind options.Kind
}

// longNames lists, in table order, every long name usable now.
func (l *loader) longNames() []cliOption {
	var out []cliOption
	for _, o := range options.All() {
		if !l.loaded[o.Plugin] {
			continue
		}
		for _, n := range o.Names() {
			out = append(out, cliOption{n, o.Kind})
		}
	}
	for n, c := range l.custom {
		if c.declared && options.Lookup(n) == nil {
			out = append(out, cliOption{n, options.Required})
		}
	}
	return out
}

// findLong resolves a long name like getopt_long: an exact match, else the
// only option it is a prefix of; several prefixes are ambiguous.
func (l *loader) findLong(name string) (cliOption, error) {
	all := l.longNames()
	var matches []cliOption
	for _, c := range all {
		if c.name == name {
			return c, nil
		}
		if strings.HasPrefix(c.name, name) {
			matches = append(matches, c)
		}
	}
	switch len(matches) {
	case 0:
		return cliOption{}, errUnknown
	case 1:
		return matches[0], nil
	}
	var b strings.Builder
	for _, m := range matches {
		fmt.Fprintf(&b, " '--%s'", m.name)
	}
	return cliOption{}, fmt.Errorf("option '--%s' is ambiguous; possibilities:%s", name, b.String())
}

var errUnknown = fmt.Errorf("unknown option")

func (l *loader) getoptError(msg string) error {
	return &Exit{Code: 1, Stderr: fmt.Sprintf("%s: %s\ngetopt_long() error\n", l.argv0, msg)}
}

// parseCLI reads dashed options left to right, adding each entry as it
// goes (immediate options act at once), and returns the bare arguments,
// which getopt permutes to the end (CF-4, CF-45..CF-47).
func (l *loader) parseCLI(args []string) ([]string, error) {
	var positional []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			positional = append(positional, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			positional = append(positional, a)
			continue
		}
		if strings.HasPrefix(a, "--") {
			body := a[2:]
			name, val, hasVal := strings.Cut(body, "=")
			c, err := l.findLong(name)
			if err == errUnknown {
				return nil, l.getoptError(fmt.Sprintf("unrecognized option '%s'", a))
			} else if err != nil {
				return nil, l.getoptError(err.Error())
			}
			e := Entry{Key: c.name, Source: "command line"}
			switch c.kind {
			case options.Flag:
				if hasVal {
					return nil, l.getoptError(fmt.Sprintf("option '--%s' doesn't allow an argument", c.name))
				}
				e.NoValue = true
			case options.Optional:
				if hasVal {
					e.Value = val
				} else {
					e.NoValue = true
				}
			case options.Required:
				if hasVal {
					e.Value = val
				} else if i+1 < len(args) {
					i++
					e.Value = args[i]
				} else {
					return nil, l.getoptError(fmt.Sprintf("option '--%s' requires an argument", c.name))
				}
			}
			if err := l.add(e); err != nil {
				return nil, err
			}
			continue
		}
		// A cluster of short options: -MT, -s value, -svalue, -C660.
		for j := 1; j < len(a); j++ {
			r := rune(a[j])
			o := options.ByShort(r)
			if o == nil || !l.loaded[o.Plugin] {
				return nil, l.getoptError(fmt.Sprintf("invalid option -- '%c'", r))
			}
			e := Entry{Key: shortName(o, r), Source: "command line"}
			rest := a[j+1:]
			switch o.Kind {
			case options.Flag:
				e.NoValue = true
				if err := l.add(e); err != nil {
					return nil, err
				}
				continue
			case options.Optional:
				if rest != "" {
					e.Value = rest
				} else {
					e.NoValue = true
				}
			case options.Required:
				if rest != "" {
					e.Value = rest
				} else if i+1 < len(args) {
					i++
					e.Value = args[i]
				} else {
					return nil, l.getoptError(fmt.Sprintf("option requires an argument -- '%c'", r))
				}
			}
			if err := l.add(e); err != nil {
				return nil, err
			}
			break
		}
	}
	return positional, nil
}

// shortName is the long name getopt reports for a short flag: the first
// table entry carrying it, which is the canonical name.
func shortName(o *options.Option, _ rune) string { return o.Name }
