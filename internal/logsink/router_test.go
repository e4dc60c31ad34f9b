package logsink

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSplitName(t *testing.T) {
	for in, want := range map[string][2]string{
		"file:/x":              {"", "file:/x"},
		"a file:/x":            {"a", "file:/x"},
		"  b   syslog:app  ":   {"b", "syslog:app"},
		"stdio":                {"", "stdio"},
		"syslog:a b,local0":    {"", "syslog:a b,local0"},
		"errors file:/a b.log": {"errors", "file:/a b.log"},
	} {
		if n, tg := SplitName(in); n != want[0] || tg != want[1] {
			t.Errorf("SplitName(%q) = %q, %q; want %q", in, n, tg, want)
		}
	}
}

// TestRouter: LG-25 as uWSGI's log master does it: drains and filters
// first, routed lines to their named loggers only, the rest to the unnamed
// loggers or the default output, encoders per logger.
func TestRouter(t *testing.T) {
	dir := t.TempDir()
	path := func(n string) string { return filepath.Join(dir, n) }
	read := func(n string) string {
		b, _ := os.ReadFile(path(n))
		return string(b)
	}
	lines := []string{"MARK one\n", "GET /x\n", "spawned worker\n", "drop me MARK\n", "other\n"}
	cases := []struct {
		name  string
		cfg   RouterConfig
		def   string
		files map[string]string
	}{
		{"routes, default for the rest", RouterConfig{
			Loggers: []string{"a file:" + path("a1"), "b file:" + path("b1")},
			Routes:  []string{"a MARK", "b GET"}, Encoders: []string{"prefix:a [A]"}},
			"spawned worker\nother\n",
			map[string]string{"a1": "[A]MARK one\n[A]drop me MARK\n", "b1": "GET /x\n"}},
		{"drain and filter", RouterConfig{
			Loggers: []string{"a file:" + path("a2")}, Routes: []string{"a MARK"},
			Drains: []string{"^drop"}, Filters: []string{"MARK|GET"}},
			"GET /x\n", map[string]string{"a2": "MARK one\n"}},
		{"unnamed logger takes the unrouted lines", RouterConfig{
			Loggers: []string{"a file:" + path("a3"), "file:" + path("u3")}, Routes: []string{"a ^GET"},
			Encoders: []string{"suffix !"}},
			"", map[string]string{"a3": "GET /x\n!", "u3": "MARK one\n!spawned worker\n!drop me MARK\n!other\n!"}},
		{"no routes: every logger", RouterConfig{
			Loggers: []string{"a file:" + path("a4"), "b file:" + path("b4")}, Filters: []string{"other"}},
			"", map[string]string{"a4": "other\n", "b4": "other\n"}},
		{"a line routed twice", RouterConfig{
			Loggers: []string{"a file:" + path("a5"), "b file:" + path("b5")}, Routes: []string{"a GET", "b /x"}, Filters: []string{"GET"}},
			"", map[string]string{"a5": "GET /x\n", "b5": "GET /x\n"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var def bytes.Buffer
			r, warnings, err := NewRouter(&def, c.cfg)
			if err != nil || len(warnings) > 0 {
				t.Fatalf("NewRouter: %v %v", err, warnings)
			}
			for _, l := range lines {
				r.Line([]byte(l))
			}
			r.Close()
			if def.String() != c.def {
				t.Errorf("default output %q, want %q", def.String(), c.def)
			}
			for f, want := range c.files {
				if got := read(f); got != want {
					t.Errorf("%s = %q, want %q", f, got, want)
				}
			}
		})
	}
}

// TestRouterBadInput: a logger that cannot be opened is a warning and its
// lines reach the default output; bad rules are errors naming the value.
func TestRouterBadInput(t *testing.T) {
	dir := t.TempDir()
	blocked := filepath.Join(dir, "not-a-dir")
	if err := os.WriteFile(blocked, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var def bytes.Buffer
	r, warnings, err := NewRouter(&def, RouterConfig{Loggers: []string{"a file:" + blocked + "/x.log"}, Routes: []string{"a ."}})
	if err != nil || len(warnings) != 1 || !strings.Contains(warnings[0].Error(), blocked+"/x.log") {
		t.Fatalf("NewRouter: %v, warnings %v", err, warnings)
	}
	r.Line([]byte("kept\n"))
	if def.String() != "kept\n" {
		t.Errorf("default output %q", def.String())
	}
	for _, c := range []struct {
		cfg  RouterConfig
		want string
	}{
		{RouterConfig{Routes: []string{"nobody x"}}, `no logger named "nobody"`},
		{RouterConfig{Routes: []string{"justname"}}, "LOGGER REGEXP"},
		{RouterConfig{Loggers: []string{"a stdio"}, Routes: []string{"a ("}}, `log-route "a ("`},
		{RouterConfig{Drains: []string{"["}}, `log-drain "["`},
		{RouterConfig{Filters: []string{"*"}}, `log-filter "*"`},
		{RouterConfig{Encoders: []string{"gzip"}}, "gzip"},
	} {
		if _, _, err := NewRouter(&def, c.cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: err = %v, want one with %q", c.cfg, err, c.want)
		}
	}
}

func FuzzRouterRules(f *testing.F) {
	for _, s := range []string{"a MARK", "a ^(GET|POST) /x$", "a", " a  b ", "b x", "a ("} {
		f.Add(s, "GET /x\n")
	}
	f.Fuzz(func(t *testing.T, route, line string) {
		name, target := SplitName(route)
		if strings.TrimSpace(route) != "" && target == "" {
			t.Fatalf("SplitName(%q) lost the target", route)
		}
		_ = name
		var def bytes.Buffer
		r, _, err := NewRouter(&def, RouterConfig{Loggers: []string{"a stdio"}, Routes: []string{route},
			Drains: []string{route}, Encoders: []string{"prefix " + route}})
		if err != nil {
			return
		}
		r.Line([]byte(line)) // must not panic, whatever the rules
	})
}
