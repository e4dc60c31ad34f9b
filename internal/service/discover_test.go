package service

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestOptionFor(t *testing.T) { // C-11
	tests := []struct {
		ext, opt string
		ok       bool
	}{
		{"ini", "ini", true}, {"INI", "ini", true},
		{"js", "json", true}, {"json", "json", true},
		{"db", "sqlite", true}, {"sqlite", "sqlite", true}, {"sqlite3", "sqlite", true},
		{"xml", "xmlconfig", true}, {"yaml", "yaml", true}, {"yml", "yaml", true},
		{"txt", "", false}, {"", "", false}, {"ini~", "", false},
	}
	for _, tt := range tests {
		opt, ok := OptionFor(tt.ext)
		if opt != tt.opt || ok != tt.ok {
			t.Errorf("OptionFor(%q) = %q, %v; want %q, %v", tt.ext, opt, ok, tt.opt, tt.ok)
		}
	}
	if len(Extensions) != 9 {
		t.Errorf("Extensions has %d entries, C-11 lists 9", len(Extensions))
	}
	for _, e := range Extensions {
		if _, ok := OptionFor(e); !ok {
			t.Errorf("extension %q has no option", e)
		}
	}
}

func TestParseSpec(t *testing.T) { // C-16, C-17
	tests := []struct {
		spec, ns, name string
		ok             bool
	}{
		{"site", "app", "site", true},
		{"app/site", "app", "site", true},
		{"test/ns1", "test", "ns1", true},
		{"with space", "app", "with space", true},
		{"site.ini", "app", "site.ini", true}, // well formed; no site.ini.* exists
		{"a/b/c", "", "", false},
		{"../x", "", "", false},
		{"x/..", "", "", false},
		{"/x", "", "", false},
		{"x/", "", "", false},
		{"", "", "", false},
		{".", "", "", false},
		{"a\x00b", "", "", false},
	}
	for _, tt := range tests {
		ns, name, ok := ParseSpec(tt.spec)
		if ns != tt.ns || name != tt.name || ok != tt.ok {
			t.Errorf("ParseSpec(%q) = %q, %q, %v; want %q, %q, %v", tt.spec, ns, name, ok, tt.ns, tt.name, tt.ok)
		}
	}
}

func FuzzParseSpec(f *testing.F) {
	for _, s := range []string{"site", "app/site", "a/b/c", "..", "x/", "with space"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		ns, name, ok := ParseSpec(spec)
		if !ok {
			return
		}
		// An accepted spec must stay inside its directories.
		for _, p := range []string{ns, name} {
			if p == "" || p == "." || p == ".." || filepath.Base(p) != p {
				t.Fatalf("ParseSpec(%q) accepted unsafe part %q", spec, p)
			}
		}
	})
}

// tree creates files (content = path) and symlinks ("->target") under root.
func tree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for rel, v := range files {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		if len(v) > 2 && v[:2] == "->" {
			err = os.Symlink(v[2:], p)
		} else {
			err = os.WriteFile(p, []byte(v), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestAll(t *testing.T) { // C-12..C-15, C-18
	root := t.TempDir()
	tree(t, root, map[string]string{
		"apps-available/linked.ini":          "",
		"apps-enabled/linked.ini":            "->../apps-available/linked.ini",
		"apps-enabled/dup.json":              "",
		"apps-enabled/dup.ini":               "",
		"apps-enabled/dup.yaml":              "",
		"apps-enabled/sub/third.xml":         "",
		"apps-enabled/with space.ini":        "",
		"apps-enabled/Upper.INI":             "",
		"apps-enabled/other.txt":             "",
		"apps-enabled/README":                "",
		"apps-enabled/site.ini~":             "",
		"apps-enabled/.ini":                  "",
		"apps-enabled/dangling.ini":          "->nowhere.ini",
		"apps-enabled/dirlink.ini":           "->sub",
		"apps-enabled/deep/er/nested.sqlite": "",
		"tests-enabled/ns1.ini":              "",
	})
	l := Layout{ConfDir: root}
	got, err := l.All()
	if err != nil {
		t.Fatal(err)
	}
	en := filepath.Join(root, "apps-enabled")
	want := []Instance{
		{"app", "Upper", en + "/Upper.INI"},
		{"app", "dup", en + "/dup.ini"},
		{"app", "linked", en + "/linked.ini"},
		{"app", "nested", en + "/deep/er/nested.sqlite"},
		{"app", "third", en + "/sub/third.xml"},
		{"app", "with space", en + "/with space.ini"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("All() =\n%v\nwant\n%v", got, want)
	}

	// A missing apps-enabled is an empty list, not an error (C-52).
	if got, err := (Layout{ConfDir: t.TempDir()}).All(); err != nil || len(got) != 0 {
		t.Errorf("All() on empty root = %v, %v", got, err)
	}
}

func TestLookup(t *testing.T) { // C-16, C-17
	root := t.TempDir()
	tree(t, root, map[string]string{
		"apps-enabled/site.yml":     "",
		"apps-enabled/site.json":    "",
		"apps-enabled/a/twice.ini":  "",
		"apps-enabled/b/twice.ini":  "",
		"apps-enabled/Case.Ini":     "",
		"tests-enabled/sub/ns1.xml": "",
		"apps-enabled/onlylink.ini": "->gone",
	})
	l := Layout{ConfDir: root}
	en := filepath.Join(root, "apps-enabled")
	tests := []struct {
		spec       string
		wellFormed bool
		want       Instance
	}{
		{"site", true, Instance{"app", "site", en + "/site.json"}},
		{"app/site", true, Instance{"app", "site", en + "/site.json"}},
		{"twice", true, Instance{"app", "twice", en + "/a/twice.ini"}},
		{"Case", true, Instance{"app", "Case", en + "/Case.Ini"}},
		{"case", true, Instance{"app", "case", ""}},
		{"test/ns1", true, Instance{"test", "ns1", root + "/tests-enabled/sub/ns1.xml"}},
		{"nosuch", true, Instance{"app", "nosuch", ""}},
		{"site.json", true, Instance{"app", "site.json", ""}},
		{"onlylink", true, Instance{"app", "onlylink", ""}},
		{"apps-enabled/site", true, Instance{"apps-enabled", "site", ""}},
		{"none/x", true, Instance{"none", "x", ""}},
		{"../site", false, Instance{}},
	}
	for _, tt := range tests {
		got, wf, err := l.Lookup(tt.spec)
		if err != nil {
			t.Errorf("Lookup(%q): %v", tt.spec, err)
		}
		if got != tt.want || wf != tt.wellFormed {
			t.Errorf("Lookup(%q) = %+v, %v; want %+v, %v", tt.spec, got, wf, tt.want, tt.wellFormed)
		}
	}
}

func TestOrphans(t *testing.T) { // C-38
	run := t.TempDir()
	tree(t, run, map[string]string{
		"app/gone/pid":     "123\n",
		"app/kept/pid":     "124\n",
		"app/nopid/socket": "",
		"app/file":         "",
		"test/other/pid":   "1\n",
	})
	l := Layout{RunDir: run}
	got, err := l.Orphans("app", []Instance{{Namespace: "app", Name: "kept"}})
	if err != nil {
		t.Fatal(err)
	}
	want := []Instance{{Namespace: "app", Name: "gone"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Orphans = %v, want %v", got, want)
	}
	if got, err := (Layout{RunDir: filepath.Join(run, "missing")}).Orphans("app", nil); err != nil || got != nil {
		t.Errorf("Orphans on missing run dir = %v, %v", got, err)
	}
}

func TestPaths(t *testing.T) { // C-10, D-32..D-35
	l := DebianLayout()
	i := Instance{Namespace: "app", Name: "with space"}
	for _, c := range []struct{ got, want string }{
		{l.EnabledDir("app"), "/etc/uwsgi/apps-enabled"},
		{l.EnabledDir("test"), "/etc/uwsgi/tests-enabled"},
		{l.InstanceDir(i), "/run/uwsgi/app/with space"},
		{l.Pidfile(i), "/run/uwsgi/app/with space/pid"},
		{l.LogFile(i), "/var/log/uwsgi/app/with space.log"},
		{l.ProcessName(), "uwsgi"},
		{Layout{Daemon: "/opt/x/averyveryverylongname"}.ProcessName(), "averyveryverylo"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}
