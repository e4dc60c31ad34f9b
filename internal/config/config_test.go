package config

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// writeFiles creates files (name -> content) in a temp dir and returns it.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func chdir(t *testing.T, dir string) {
	t.Helper()
	t.Chdir(dir)
}

func keyValues(c *Config) []string {
	var out []string
	for _, e := range c.Entries() {
		v := e.Value
		if e.NoValue {
			v = "<true>"
		}
		out = append(out, e.Key+"="+v)
	}
	return out
}

// TestPrecedence covers TOP-1, CF-3 and CF-4.
func TestPrecedence(t *testing.T) {
	dir := writeFiles(t, map[string]string{"p.ini": "[uwsgi]\nprocesses = 2\n", "r.ini": "[uwsgi]\nprocesses=2\nprocesses=3\n"})
	chdir(t, dir)
	tests := []struct {
		name string
		args []string
		env  []string
		want int
	}{
		{"CF-3 cli then ini", []string{"--processes", "5", "--ini", "p.ini"}, nil, 2},
		{"CF-3 ini then cli", []string{"--ini", "p.ini", "--processes", "5"}, nil, 5},
		{"CF-3 env then ini", []string{"--ini", "p.ini"}, []string{"UWSGI_PROCESSES=9"}, 2},
		{"CF-3 env then cli", []string{"--processes", "3"}, []string{"UWSGI_PROCESSES=9"}, 3},
		{"CF-3 repeated key", []string{"--ini", "r.ini"}, nil, 3},
		{"CF-4 bare file after options", []string{"--processes", "5", "p.ini"}, nil, 2},
		{"CF-4 bare file first", []string{"p.ini", "--processes", "5"}, nil, 2},
		{"OP-25 alias workers", []string{"--workers", "7"}, nil, 7},
		{"CF-45 short cluster value", []string{"-p7"}, nil, 7},
		{"getopt abbreviation", []string{"--processe", "4"}, nil, 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Load(append([]string{"uwsgi"}, tc.args...), tc.env, nil)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if got := c.Int("processes"); got != tc.want {
				t.Errorf("processes = %d, want %d (entries %v)", got, tc.want, keyValues(c))
			}
		})
	}
}

// TestCLIErrors covers CF-46, CF-47 and PL-3.
func TestCLIErrors(t *testing.T) {
	tests := []struct {
		args   []string
		stderr string
	}{
		{[]string{"--no-such-option"}, "uwsgi: unrecognized option '--no-such-option'\ngetopt_long() error\n"},
		{[]string{"--nope=3"}, "uwsgi: unrecognized option '--nope=3'\ngetopt_long() error\n"},
		{[]string{"--socket"}, "uwsgi: option '--socket' requires an argument\ngetopt_long() error\n"},
		{[]string{"-z"}, "uwsgi: option requires an argument -- 'z'\ngetopt_long() error\n"},
		{[]string{"-Z"}, "uwsgi: invalid option -- 'Z'\ngetopt_long() error\n"},
		{[]string{"--master=1"}, "uwsgi: option '--master' doesn't allow an argument\ngetopt_long() error\n"},
		{[]string{"--chmod-socket", "660"}, "unable to load configuration from 660\n"},
		{[]string{"app.py"}, "unable to load configuration from app.py\n"},
		{[]string{"--proc", "3"}, "uwsgi: option '--proc' is ambiguous; possibilities: '--processes' '--procname-prefix' '--procname-prefix-spaced' '--procname-append' '--procname' '--procname-master'\ngetopt_long() error\n"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			_, err := Load(append([]string{"uwsgi"}, tc.args...), nil, nil)
			var ex *Exit
			if !errors.As(err, &ex) {
				t.Fatalf("err = %v, want *Exit", err)
			}
			if ex.Code != 1 || ex.Stderr != tc.stderr {
				t.Errorf("got code %d stderr %q, want 1 %q", ex.Code, ex.Stderr, tc.stderr)
			}
		})
	}
}

func TestSmoke(t *testing.T) {
	var log bytes.Buffer
	c, err := Load([]string{"uwsgi", "--plugin", "python3", "--wsgi-file", "app.py", "-M", "--chmod-socket=660"}, nil, &log)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"plugin=python3", "wsgi-file=app.py", "master=<true>", "chmod-socket=660"}
	if got := keyValues(c); !reflect.DeepEqual(got, want) {
		t.Errorf("entries = %v, want %v", got, want)
	}
}
