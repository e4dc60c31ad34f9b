package service

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// sqlite3Path is the CLI used to read uid/gid from SQLite configs, as
// Debian does; without it those configs fall back to the inherited value.
var sqlite3Path = "/usr/bin/sqlite3"

var (
	iniIDRe = map[string]*regexp.Regexp{
		"uid": regexp.MustCompile(`(?m)^[ \t]*uid[ \t]*=[ \t]*(.*?)[ \t\r]*$`),
		"gid": regexp.MustCompile(`(?m)^[ \t]*gid[ \t]*=[ \t]*(.*?)[ \t\r]*$`),
	}
	xmlIDRe = map[string]*regexp.Regexp{
		"uid": regexp.MustCompile(`<uid>\s*([^<]*?)\s*</uid>`),
		"gid": regexp.MustCompile(`<gid>\s*([^<]*?)\s*</gid>`),
	}
)

// ConfigID returns the first value of kind ("uid" or "gid") in a config
// file, or "" when it has none (C-20). The value only decides who owns the
// instance's run directory; the server applies the merged config itself.
// INI and XML are matched line-wise as Debian does (the first assignment
// anywhere in the file); JSON and YAML are parsed and read from their
// "uwsgi" object, so numbers and any indentation work.
func ConfigID(path, kind string) (string, error) {
	opt, ok := OptionForFile(path)
	if !ok {
		return "", fmt.Errorf("config %s: unknown type", path)
	}
	if opt == "sqlite" {
		return sqliteID(path, kind)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read config %s: %w", path, err)
	}
	id, err := ConfigIDFrom(opt, data, kind)
	if err != nil {
		return "", fmt.Errorf("config %s: %w", path, err)
	}
	return id, nil
}

// ConfigIDFrom is ConfigID on already-read content; opt is the uwsgi
// option name of the format (ini, json, xmlconfig, yaml).
func ConfigIDFrom(opt string, data []byte, kind string) (string, error) {
	switch opt {
	case "ini":
		if m := iniIDRe[kind].FindSubmatch(data); m != nil {
			return string(m[1]), nil
		}
		return "", nil
	case "xmlconfig":
		if m := xmlIDRe[kind].FindSubmatch(data); m != nil {
			return string(m[1]), nil
		}
		return "", nil
	case "json":
		var doc map[string]any
		if err := json.Unmarshal(data, &doc); err != nil {
			return "", fmt.Errorf("invalid JSON: %w", err)
		}
		return scalarID(doc["uwsgi"], kind), nil
	case "yaml":
		var doc map[string]any
		if err := yaml.Unmarshal(data, &doc); err != nil {
			return "", fmt.Errorf("invalid YAML: %s", strings.TrimPrefix(err.Error(), "yaml: "))
		}
		return scalarID(doc["uwsgi"], kind), nil
	}
	return "", fmt.Errorf("no %s lookup for %s configs", kind, opt)
}

// scalarID reads section[kind] as a string; a list yields its first item
// (uWSGI allows repeated options as lists).
func scalarID(section any, kind string) string {
	m, ok := section.(map[string]any)
	if !ok {
		return ""
	}
	v := m[kind]
	if l, ok := v.([]any); ok && len(l) > 0 {
		v = l[0]
	}
	switch x := v.(type) {
	case string:
		return strings.TrimSpace(x)
	case int, int64, uint64:
		return fmt.Sprint(x)
	case float64:
		if x == float64(int64(x)) {
			return strconv.FormatInt(int64(x), 10)
		}
	}
	return ""
}

// sqliteID reads the first row of table uwsgi whose first column is kind.
func sqliteID(path, kind string) (string, error) {
	if _, err := os.Stat(sqlite3Path); err != nil {
		return "", nil
	}
	out, err := exec.Command(sqlite3Path, "-readonly", "-noheader", "-separator", "\x1f", "-newline", "\x1e",
		path, "SELECT * FROM uwsgi").Output()
	if err != nil {
		return "", fmt.Errorf("sqlite3 %s: %w", path, err)
	}
	for _, row := range bytes.Split(out, []byte{0x1e}) {
		cols := bytes.Split(row, []byte{0x1f})
		if len(cols) >= 2 && string(cols[0]) == kind {
			return strings.TrimSpace(string(cols[1])), nil
		}
	}
	return "", nil
}

// Owner is the uid/gid a run directory gets.
type Owner struct {
	UID, GID int
	// User and Group are the configured values, for messages.
	User, Group string
}

// GuessOwner finds the run-directory owner of an instance: uid and gid
// each come from the app config, else from the inherited config, else
// root (C-20). Values may be names or numbers. A value that names no
// account (e.g. an unresolved placeholder) falls back to root and is
// reported in warn.
func GuessOwner(config, inherited string) (o Owner, warn error) {
	var warns []error
	seen := map[string]bool{}
	get := func(kind string) string {
		for _, f := range []string{config, inherited} {
			if f == "" {
				continue
			}
			if _, err := os.Stat(f); err != nil {
				continue
			}
			v, err := ConfigID(f, kind)
			if err != nil {
				// uid and gid come from the same file: say it once.
				if !seen[err.Error()] {
					seen[err.Error()] = true
					warns = append(warns, err)
				}
				continue
			}
			if v != "" {
				return v
			}
		}
		return "root"
	}
	o.User, o.Group = get("uid"), get("gid")
	uid, err := lookupUID(o.User)
	if err != nil {
		warns = append(warns, err)
	}
	gid, err := lookupGID(o.Group)
	if err != nil {
		warns = append(warns, err)
	}
	o.UID, o.GID = uid, gid
	return o, errors.Join(warns...)
}

func lookupUID(v string) (int, error) {
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return n, nil
	}
	u, err := user.Lookup(v)
	if err != nil {
		return 0, fmt.Errorf("uid %q: %w (run directory stays root-owned)", v, err)
	}
	return strconv.Atoi(u.Uid)
}

func lookupGID(v string) (int, error) {
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return n, nil
	}
	g, err := user.LookupGroup(v)
	if err != nil {
		return 0, fmt.Errorf("gid %q: %w (run directory stays root-owned)", v, err)
	}
	return strconv.Atoi(g.Gid)
}
