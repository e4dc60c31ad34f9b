package options

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files")

// factNames reads every option name of the extracted uWSGI facts.
func factNames(t *testing.T) []string {
	t.Helper()
	f, err := os.Open("gen/uwsgi-options.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var names []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := sc.Text(); line != "" && !strings.HasPrefix(line, "#") {
			names = append(names, strings.Split(line, "\t")[1])
		}
	}
	return names
}

// TestTableCoversUWSGI checks OP-300: every name uWSGI 2.0.21 accepts with
// core, python3 and http is in the table, once.
func TestTableCoversUWSGI(t *testing.T) {
	facts := factNames(t)
	if len(facts) < 890 {
		t.Fatalf("facts file has %d names, want the ~893 of uWSGI 2.0.21", len(facts))
	}
	seen := map[string]bool{}
	own := ownNames(t)
	for _, o := range All() {
		for _, n := range o.Names() {
			if own[n] {
				continue // gosgi's own additions
			}
			if seen[n] {
				t.Errorf("%s appears twice", n)
			}
			seen[n] = true
		}
	}
	for _, n := range facts {
		if Lookup(n) == nil {
			t.Errorf("uWSGI option %s missing", n)
		}
	}
	if len(seen) != len(facts) {
		t.Errorf("table has %d names, uWSGI %d", len(seen), len(facts))
	}
}

// TestTableRows checks table-wide rules and spec facts (OP-1..OP-242,
// CF-5, CF-8, CF-46).
func TestTableRows(t *testing.T) {
	for _, o := range All() {
		if o.Help == "" {
			t.Errorf("%s: no description", o.Name)
		}
		if o.Status != Implemented && o.Reason == "" {
			t.Errorf("%s: %s without a reason", o.Name, o.Status)
		}
		if o.Plugin != PluginCore && o.Plugin != PluginPython && o.Plugin != PluginHTTP && o.Plugin != PluginGevent {
			t.Errorf("%s: plugin %q", o.Name, o.Plugin)
		}
	}
	tests := []struct {
		name, canon string
		kind        Kind
		list, imm   bool
		master      bool
		plugin      string
		short       rune
	}{
		{"socket", "socket", Required, true, false, false, "core", 's'},
		{"uwsgi-socket", "socket", Required, true, false, false, "core", 's'},
		{"workers", "processes", Required, false, false, false, "core", 'p'},
		{"master", "master", Flag, false, false, false, "core", 'M'},
		{"chmod-socket", "chmod-socket", Optional, false, false, false, "core", 'C'},
		{"log-prefix", "log-date", Optional, false, false, false, "core", 0},
		{"http-keepalive", "http-keepalive", Optional, false, false, false, "http", 0},
		{"ini", "ini", Required, true, true, false, "core", 0},
		{"xmlconfig", "xml", Required, true, true, false, "core", 'x'},
		{"set-ph", "set-placeholder", Required, true, true, false, "core", 0},
		{"ifdir", "if-dir", Required, false, true, false, "core", 0},
		{"end-if", "endif", Optional, false, true, false, "core", 0},
		{"env", "env", Required, true, false, false, "core", 0},
		{"stats-server", "stats", Required, false, false, true, "core", 0},
		{"touch-reload", "touch-reload", Required, true, false, true, "core", 0},
		{"attach-daemon", "attach-daemon", Required, true, false, true, "core", 0},
		{"logger", "logger", Required, true, false, true, "core", 0},
		{"module", "module", Required, false, false, false, "python", 'w'},
		{"venv", "home", Required, false, false, false, "python", 'H'},
		{"pp", "pythonpath", Required, true, false, false, "python", 0},
		{"pyimport", "import", Required, true, false, false, "python", 0},
		{"py-autoreload", "py-auto-reload", Required, false, false, true, "python", 0},
		{"httprouter", "http", Required, true, false, false, "http", 0},
		{"help", "help", Flag, false, true, false, "core", 'h'},
		{"usage", "help", Flag, false, true, false, "core", 'h'},
		{"version", "version", Flag, false, false, false, "core", 0},
		{"stop", "stop", Required, false, true, false, "core", 0},
	}
	for _, tc := range tests {
		o := Lookup(tc.name)
		if o == nil {
			t.Errorf("Lookup(%q) = nil", tc.name)
			continue
		}
		if o.Name != tc.canon || o.Kind != tc.kind || o.List != tc.list || o.Immediate != tc.imm ||
			o.ImpliesMaster != tc.master || o.Plugin != tc.plugin || o.Short != tc.short {
			t.Errorf("Lookup(%q) = %+v, want canon %s kind %s list %t immediate %t master %t plugin %s short %q",
				tc.name, *o, tc.canon, tc.kind, tc.list, tc.imm, tc.master, tc.plugin, tc.short)
		}
	}
	if Lookup("no-such-option") != nil {
		t.Error("Lookup of an unknown name must be nil")
	}
	for r, want := range map[rune]string{'s': "socket", 'p': "processes", 'M': "master", 'w': "module", 'H': "home", 'C': "chmod-socket", 'L': "disable-logging"} {
		if o := ByShort(r); o == nil || o.Name != want {
			t.Errorf("ByShort(%q) = %v, want %s", r, o, want)
		}
	}
	if ByShort('Z') != nil {
		t.Error("ByShort('Z') must be nil")
	}
}

func goTool(t *testing.T) string {
	t.Helper()
	p := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("go tool not found at %s: %v", p, err)
	}
	return p
}

// TestGeneratedFilesFresh fails when table_gen.go or docs/compat.md is out
// of date with its sources (run `go generate ./internal/options`).
func TestGeneratedFilesFresh(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "table_gen.go")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goTool(t), "run", "./gen", "-o", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go run ./gen: %v\n%s", err, b)
	}
	want, _ := os.ReadFile(out)
	got, _ := os.ReadFile("table_gen.go")
	if !bytes.Equal(got, want) {
		t.Error("table_gen.go is stale: run go generate ./internal/options")
	}
	header, err := os.ReadFile("gendoc/compat-header.md")
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := WriteCompat(&b, string(header)); err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile("../../docs/compat.md")
	if err != nil {
		t.Fatalf("read docs/compat.md: %v", err)
	}
	if !bytes.Equal(doc, b.Bytes()) {
		t.Error("docs/compat.md is stale: run go generate ./internal/options")
	}
}

// TestWriteHelpGolden checks the OP-304 layout against golden files.
func TestWriteHelpGolden(t *testing.T) {
	for _, tc := range []struct {
		file    string
		plugins []string
	}{
		{"help-core.golden", nil},
		{"help-python3-http.golden", []string{"python3", "http"}},
	} {
		var b bytes.Buffer
		WriteHelp(&b, "/usr/bin/uwsgi", tc.plugins)
		path := filepath.Join("testdata", tc.file)
		if *update {
			if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test -update)", err)
		}
		if !bytes.Equal(b.Bytes(), want) {
			t.Errorf("%s differs (run go test -update after checking the change)", tc.file)
		}
	}
}

// realHelp runs the real uwsgi --help with the given plugins.
func realHelp(t *testing.T, plugins string) string {
	t.Helper()
	bin, err := exec.LookPath("uwsgi")
	if err != nil {
		t.Fatalf("the real uwsgi is required for this test: %v", err)
	}
	args := []string{"--help"}
	if plugins != "" {
		args = []string{"--plugin", plugins, "--help"}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, args...).Output()
	if err != nil {
		t.Fatalf("uwsgi --help: %v", err)
	}
	return string(out)
}

// nameColumn returns the sorted "-s|--socket" fields of a help text and
// the column where descriptions start.
func nameColumn(help string) ([]string, map[int]int) {
	var names []string
	cols := map[int]int{}
	for _, line := range strings.Split(help, "\n") {
		if !strings.HasPrefix(line, "    -") {
			continue
		}
		f := strings.Fields(line)
		names = append(names, f[0])
		rest := strings.TrimLeft(line[4+len(f[0]):], " ")
		cols[len(line)-len(rest)]++
	}
	sort.Strings(names)
	return names, cols
}

// ownNames are the options gosgi adds to uWSGI's (gen/gosgi-options.tsv).
func ownNames(t *testing.T) map[string]bool {
	t.Helper()
	b, err := os.ReadFile("gen/gosgi-options.tsv")
	if err != nil {
		t.Fatal(err)
	}
	own := map[string]bool{}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Split(l, "\t"); len(f) > 1 && !strings.HasPrefix(l, "#") {
			own[f[1]] = true
		}
	}
	return own
}

// withoutOwn drops gosgi's own options from a list of help names.
func withoutOwn(t *testing.T, names []string) []string {
	t.Helper()
	own := ownNames(t)
	out := names[:0:0]
	for _, n := range names {
		if !own[strings.TrimPrefix(n, "--")] {
			out = append(out, n)
		}
	}
	return out
}

// TestWriteHelpMatchesUWSGI compares the names, short flags and description
// column with the real binary's --help (OP-304), with and without plugins.
func TestWriteHelpMatchesUWSGI(t *testing.T) {
	for _, tc := range []struct {
		plugins string
		list    []string
	}{{"", nil}, {"python3,http", []string{"python3", "http"}}} {
		wantNames, wantCols := nameColumn(realHelp(t, tc.plugins))
		var b bytes.Buffer
		WriteHelp(&b, "uwsgi", tc.list)
		gotNames, gotCols := nameColumn(b.String())
		gotNames = withoutOwn(t, gotNames)
		if strings.Join(gotNames, " ") != strings.Join(wantNames, " ") {
			t.Errorf("plugins %q: help names differ (%d vs %d)", tc.plugins, len(gotNames), len(wantNames))
		}
		if len(gotCols) != 1 || len(wantCols) != 1 {
			t.Errorf("plugins %q: description columns ours %v uwsgi %v", tc.plugins, gotCols, wantCols)
		}
		for c := range wantCols {
			if gotCols[c] == 0 {
				t.Errorf("plugins %q: descriptions start at %v, uwsgi at %v", tc.plugins, gotCols, wantCols)
			}
		}
		if !strings.HasPrefix(b.String(), "Usage: uwsgi [options...]\n") {
			t.Errorf("usage line: %q", strings.SplitN(b.String(), "\n", 2)[0])
		}
	}
}

// TestKindsMatchUWSGI asks the real binary about a sample of options
// (CF-45, CF-46): a flag rejects --name=x; the others accept it.
func TestKindsMatchUWSGI(t *testing.T) {
	bin, err := exec.LookPath("uwsgi")
	if err != nil {
		t.Fatalf("the real uwsgi is required for this test: %v", err)
	}
	sample := []string{"master", "enable-threads", "vacuum", "lazy-apps", "thunder-lock", "die-on-term",
		"http-auto-chunked", "wsgi-disable-file-wrapper", "stats-http", "memory-report",
		"log-date", "chmod-socket", "http-keepalive", "endif", "processes", "socket", "wsgi-file", "harakiri",
		"log-sendfile", "http-quiet"}
	for _, name := range sample {
		o := Lookup(name)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		out, _ := exec.CommandContext(ctx, bin, "--plugin", "python3,http", "--"+name+"=x", "--version").CombinedOutput()
		cancel()
		rejects := strings.Contains(string(out), "doesn't allow an argument")
		if rejects != (o.Kind == Flag) {
			t.Errorf("%s: uwsgi rejects --%s=x: %t, table kind %s", name, name, rejects, o.Kind)
		}
	}
}

// TestFactsMatchBinary re-extracts the option records from the installed
// uWSGI 2.0.21 (Debian: uwsgi-core, uwsgi-plugin-python3) and checks that
// gen/uwsgi-options.tsv still says the same.
func TestFactsMatchBinary(t *testing.T) {
	files := []string{"core=/usr/bin/uwsgi-core", "python=/usr/lib/uwsgi/plugins/python3_plugin.so", "http=/usr/lib/uwsgi/plugins/http_plugin.so"}
	for _, f := range files {
		if _, err := os.Stat(strings.SplitN(f, "=", 2)[1]); err != nil {
			t.Fatalf("the real uWSGI files are required: %v", err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, goTool(t), append([]string{"run", "./gen/extract"}, files...)...).Output()
	if err != nil {
		t.Fatalf("go run ./gen/extract: %v", err)
	}
	want, err := os.ReadFile("gen/uwsgi-options.tsv")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, want) {
		t.Error("gen/uwsgi-options.tsv differs from the installed uWSGI's option records")
	}
}
