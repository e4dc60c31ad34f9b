package service

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"gopkg.in/ini.v1"
)

// DefaultInheritedConfig is the config passed first to every instance
// when /etc/default/uwsgi does not name one (C-42, I-*).
const DefaultInheritedConfig = "/usr/share/uwsgi/conf/default.ini"

// Settings are the values of /etc/default/uwsgi (C-40..C-43).
type Settings struct {
	// Verbose is VERBOSE: false only for the literal "no". When false the
	// start/stop/reload commands print nothing; status still reports.
	Verbose bool
	// PrintConfnames is PRINT_CONFNAMES_IN_INITD_SCRIPT_OUTPUT: true
	// unless "no"; markers become ns/name forms (C-51).
	PrintConfnames bool
	// InheritedConfig is INHERITED_CONFIG: the file loaded before each app
	// config. Empty means no inherited config at all.
	InheritedConfig string
}

// DefaultSettings are what the controller uses when the default file is
// absent or leaves a variable unset: the values the shipped file sets.
func DefaultSettings() Settings {
	return Settings{Verbose: true, PrintConfnames: false, InheritedConfig: DefaultInheritedConfig}
}

// ReadSettings reads a /etc/default/uwsgi-style shell fragment. A missing
// file yields DefaultSettings. Only plain assignments are understood
// (VAR=value, optionally quoted, optionally prefixed by "export"); shell
// expansions are not performed.
func ReadSettings(path string) (Settings, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return DefaultSettings(), nil
	}
	if err != nil {
		return DefaultSettings(), fmt.Errorf("read defaults %s: %w", path, err)
	}
	s, err := ParseSettings(data)
	if err != nil {
		return s, fmt.Errorf("parse defaults %s: %w", path, err)
	}
	return s, nil
}

// ParseSettings parses the content of a default file.
func ParseSettings(data []byte) (Settings, error) {
	s := DefaultSettings()
	f, err := ini.LoadSources(ini.LoadOptions{
		UnescapeValueDoubleQuotes: true,
		// Shell fragments have no sections; a stray "[x]" line must not
		// hide the assignments after it.
		AllowNonUniqueSections:  true,
		SkipUnrecognizableLines: true,
	}, data)
	if err != nil {
		return s, err
	}
	vars := map[string]string{}
	for _, sec := range f.Sections() {
		for _, k := range sec.Keys() {
			name := strings.TrimSpace(strings.TrimPrefix(k.Name(), "export "))
			vars[name] = unquoteShell(k.Value())
		}
	}
	if v, ok := vars["VERBOSE"]; ok {
		s.Verbose = v != "no"
	}
	if v, ok := vars["PRINT_CONFNAMES_IN_INITD_SCRIPT_OUTPUT"]; ok {
		s.PrintConfnames = v != "no"
	}
	if v, ok := vars["INHERITED_CONFIG"]; ok {
		s.InheritedConfig = v
	}
	return s, nil
}

// unquoteShell removes one pair of single quotes, which ini.v1 keeps
// (it only understands double quotes).
func unquoteShell(v string) string {
	if len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'' {
		return v[1 : len(v)-1]
	}
	return v
}
