package emperor

import (
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"
	"time"
)

// opts is a map-backed Options for tests: the last value wins for
// scalars, every value counts for lists.
type opts map[string][]string

func (o opts) String(n string) string {
	if v := o[n]; len(v) > 0 {
		return v[len(v)-1]
	}
	return ""
}
func (o opts) Bool(n string) bool {
	switch o.String(n) {
	case "", "0", "false", "no", "off":
		return false
	}
	return true
}
func (o opts) Int(n string) int       { i, _ := strconv.Atoi(o.String(n)); return i }
func (o opts) List(n string) []string { return o[n] }
func (o opts) Has(n string) bool      { _, ok := o[n]; return ok }
func one(kv ...string) opts {
	o := opts{}
	for i := 0; i+1 < len(kv); i += 2 {
		o[kv[i]] = append(o[kv[i]], kv[i+1])
	}
	return o
}

// TestValidName covers T-03: the six extensions, extra ones, 255 bytes.
func TestValidName(t *testing.T) {
	long := string(make([]byte, 251)) + ".ini"
	for _, tc := range []struct {
		name  string
		extra []string
		want  bool
	}{
		{"a.ini", nil, true},
		{"a.xml", nil, true},
		{"a.yml", nil, true},
		{"a.yaml", nil, true},
		{"a.js", nil, true},
		{"a.json", nil, true},
		{"a.conf", nil, false},
		{"a.conf", []string{".conf"}, true},
		{"README", nil, false},
		{"a.ini.swp", nil, false},
		{"", nil, false},
		{long, nil, false},
		{long[4:], nil, true},
	} {
		if got := ValidName(tc.name, tc.extra); got != tc.want {
			t.Errorf("ValidName(%.20q, %v) = %v, want %v", tc.name, tc.extra, got, tc.want)
		}
	}
}

// TestVassalArgs checks T-07/T-08 against the order uWSGI 2.0.21 used
// when run with the same options (observed with a stand-in vassal).
func TestVassalArgs(t *testing.T) {
	s := Settings{
		Binary:        "/usr/bin/uwsgi",
		InheritBefore: []string{"inhb.ini"}, IncludeBefore: []string{"incb.ini"},
		Set: []string{"a=b"}, Inherit: []string{"inh1.ini"}, Include: []string{"inc1.ini"},
	}
	for _, tc := range []struct{ name, flag string }{
		{"x.ini", "--ini"}, {"w.xml", "--xml"}, {"z.yml", "--yaml"}, {"z.yaml", "--yaml"},
		{"y.json", "--json"}, {"y.js", "--json"}, {"q.conf", "--config"},
	} {
		want := []string{"/usr/bin/uwsgi", "--inherit", "inhb.ini", "--include", "incb.ini", "--set", "a=b",
			tc.flag, tc.name, "--inherit", "inh1.ini", "--include", "inc1.ini"}
		if got := s.VassalArgs(tc.name); !reflect.DeepEqual(got, want) {
			t.Errorf("VassalArgs(%s) =\n%q\nwant\n%q", tc.name, got, want)
		}
	}
	plain := Settings{Binary: "/b"}
	if got := plain.VassalArgs("v1.ini"); !reflect.DeepEqual(got, []string{"/b", "--ini", "v1.ini"}) {
		t.Errorf("plain VassalArgs = %q (DP-4: <binary> --ini FILE)", got)
	}
}

// TestVassalEnv covers T-07 and S-23.
func TestVassalEnv(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []string
		want []string
	}{
		{"drops notify and reloads",
			[]string{"PATH=/bin", "NOTIFY_SOCKET=/run/systemd/notify", "UWSGI_RELOADS=2", "HOME=/root"},
			[]string{"PATH=/bin", "HOME=/root", "UWSGI_EMPEROR_FD=3"}},
		{"renames vassal variables",
			[]string{"UWSGI_VASSAL_PROCESSES=4", "A=1", "UWSGI_VASSAL_PLUGIN=python3"},
			[]string{"A=1", "UWSGI_PROCESSES=4", "UWSGI_PLUGIN=python3", "UWSGI_EMPEROR_FD=3"}},
		{"renamed wins over existing",
			[]string{"UWSGI_SOCKET=a", "UWSGI_VASSAL_SOCKET=b"},
			[]string{"UWSGI_SOCKET=b", "UWSGI_EMPEROR_FD=3"}},
		{"own emperor fd and activation replaced",
			[]string{"UWSGI_EMPEROR_FD=9", "LISTEN_FDS=1", "LISTEN_PID=5"},
			[]string{"UWSGI_EMPEROR_FD=3"}},
		{"doubled prefix", []string{"UWSGI_VASSAL_VASSAL_X=1"}, []string{"UWSGI_X=1", "UWSGI_EMPEROR_FD=3"}},
		{"bare prefix kept", []string{"UWSGI_VASSAL_=x"}, []string{"UWSGI_VASSAL_=x", "UWSGI_EMPEROR_FD=3"}},
	} {
		if got := VassalEnv(tc.in, 3); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: VassalEnv = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestParseSource covers T-01: directory, glob, schemes.
func TestParseSource(t *testing.T) {
	for _, tc := range []struct {
		arg     string
		glob    bool
		dir     string
		wantErr bool
	}{
		{"/etc/uwsgi-emperor/vassals", false, "/etc/uwsgi-emperor/vassals", false},
		{"vassals", false, "/srv/vassals", false},
		{"/etc/uwsgi.d/*.ini", true, "/etc/uwsgi.d", false},
		{"/srv/*/vassal.ini", true, "", false},
		{"dir:///etc/x", false, "/etc/x", false},
		{"glob:///etc/x/a.ini", true, "/etc/x", false},
		{"pg://host/db", false, "", true},
		{"", false, "", true},
	} {
		s, err := ParseSource(tc.arg, "/srv")
		if (err != nil) != tc.wantErr {
			t.Errorf("ParseSource(%q) error %v, want error %v", tc.arg, err, tc.wantErr)
			continue
		}
		if err == nil && (s.Glob != tc.glob || s.Dir != tc.dir) {
			t.Errorf("ParseSource(%q) = %+v, want glob %v dir %q", tc.arg, s, tc.glob, tc.dir)
		}
	}
}

func FuzzParseSource(f *testing.F) {
	for _, s := range []string{"/etc/uwsgi.d", "*.ini", "glob://a/*.ini", "dir://x", "pg://x", "[", "a/[b/c.ini"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, arg string) {
		s, err := ParseSource(arg, "/cwd")
		if err != nil {
			return
		}
		if s.Dir != "" && !filepath.IsAbs(s.Dir) {
			t.Fatalf("ParseSource(%q).Dir = %q is not absolute", arg, s.Dir)
		}
		if !s.Glob && s.Dir == "" {
			t.Fatalf("ParseSource(%q): directory source without a directory", arg)
		}
	})
}

func FuzzVassalEnv(f *testing.F) {
	f.Add("UWSGI_VASSAL_A=1\x00NOTIFY_SOCKET=x\x00B=2")
	f.Add("=\x00UWSGI_VASSAL_=\x00UWSGI_A=1\x00UWSGI_VASSAL_A=2")
	f.Fuzz(func(t *testing.T, joined string) {
		var in []string
		start := 0
		for i := 0; i <= len(joined); i++ {
			if i == len(joined) || joined[i] == 0 {
				in = append(in, joined[start:i])
				start = i + 1
			}
		}
		out := VassalEnv(in, 7)
		if out[len(out)-1] != "UWSGI_EMPEROR_FD=7" {
			t.Fatalf("last entry %q", out[len(out)-1])
		}
		seen := map[string]bool{}
		for _, kv := range out {
			k := kv
			if i := indexByte(kv, '='); i >= 0 {
				k = kv[:i]
			}
			if k == "NOTIFY_SOCKET" || k == "UWSGI_RELOADS" {
				t.Fatalf("%s leaked into %q", k, out)
			}
			if len(k) > len("UWSGI_VASSAL_") && k[:len("UWSGI_VASSAL_")] == "UWSGI_VASSAL_" {
				t.Fatalf("%s not renamed in %q", k, out)
			}
			if k == "UWSGI_EMPEROR_FD" && seen[k] {
				t.Fatalf("UWSGI_EMPEROR_FD twice in %q", out)
			}
			seen[k] = true
		}
	})
}

func indexByte(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

// TestFromOptions: defaults (OP-204, OP-209, OP-210), overrides, errors.
func TestFromOptions(t *testing.T) {
	s, err := FromOptions(one("emperor", "/v"), "/bin/uwsgi")
	if err != nil {
		t.Fatal(err)
	}
	if s.Freq != 3*time.Second || s.Throttle != time.Second || s.MaxThrottle != 3*time.Minute || s.Binary != "/bin/uwsgi" {
		t.Errorf("defaults: %+v", s)
	}
	s, err = FromOptions(one("emperor", "/v", "emperor", "/w/*.ini", "emperor-freq", "1", "emperor-throttle", "50",
		"emperor-max-throttle", "200", "emperor-wrapper", "/usr/bin/uwsgi", "binary-path", "/x",
		"emperor-tyrant", "true", "no-initgroups", "true", "vassals-set", "a=b", "emperor-cap", "setuid,net_bind_service"), "/bin/uwsgi")
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Sources) != 2 || s.Freq != time.Second || s.Throttle != 50*time.Millisecond ||
		s.MaxThrottle != 200*time.Millisecond || s.Binary != "/usr/bin/uwsgi" || !s.Tyrant || !s.NoInitgroups ||
		!reflect.DeepEqual(s.Set, []string{"a=b"}) || !reflect.DeepEqual(s.VassalCaps, []string{"setuid", "net_bind_service"}) {
		t.Errorf("overrides: %+v", s)
	}
	if s, _ := FromOptions(one("emperor", "/v", "stats", "/run/s.sock"), "/b"); s.Stats != "/run/s.sock" {
		t.Errorf("stats did not become the emperor stats server: %q", s.Stats)
	}
	if s, _ := FromOptions(one("emperor", "/v", "stats", "/a", "emperor-stats", "/b"), "/b"); s.Stats != "/b" {
		t.Errorf("emperor-stats must win: %q", s.Stats)
	}
	s, _ = FromOptions(one("emperor", "/v", "no-initgroups", "1", "emperor-tyrant-initgroups", "1"), "/b")
	if s.NoInitgroups {
		t.Error("emperor-tyrant-initgroups must win over no-initgroups")
	}
	for _, bad := range []opts{one("emperor-freq", "1"), one("emperor", "/v", "emperor-cap", "nosuchcap")} {
		if _, err := FromOptions(bad, "/b"); err == nil {
			t.Errorf("FromOptions(%v) accepted", bad)
		}
	}
}

// TestTyrantIdentity covers T-11, T-14 (opt-out) and T-16.
func TestTyrantIdentity(t *testing.T) {
	lookup := func(uid int) (string, []int, bool, error) {
		switch uid {
		case 1001:
			return "gosgty", []int{1001, 1002, 0}, true, nil
		}
		return "", nil, false, nil
	}
	for _, tc := range []struct {
		name     string
		uid, gid int
		noInit   bool
		want     []int
		refused  bool
		warn     bool
	}{
		{"owner groups", 1001, 1001, false, []int{1001, 1002}, false, false},
		{"file group first", 1001, 1003, false, []int{1003, 1001, 1002}, false, false},
		{"uWSGI 2.0 parity", 1001, 1001, true, []int{}, false, false},
		{"no passwd entry", 4242, 4242, false, []int{4242}, false, true},
		{"root owner", 0, 1001, false, nil, true, false},
		{"root group", 1001, 0, false, nil, true, false},
	} {
		id, err := tyrantIdentity(tc.uid, tc.gid, tc.noInit, lookup)
		if (err != nil) != tc.refused {
			t.Errorf("%s: err %v, refused %v", tc.name, err, tc.refused)
			continue
		}
		if tc.refused {
			continue
		}
		if !reflect.DeepEqual(id.Groups, tc.want) || (id.Warning != "") != tc.warn || id.UID != tc.uid || id.GID != tc.gid {
			t.Errorf("%s: %+v, want groups %v warning %v", tc.name, id, tc.want, tc.warn)
		}
	}
}

// TestScan covers T-03: names, regular files, symlinks, nofollow, owners.
func TestScan(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, mtime time.Time) {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("[uwsgi]\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(p, mtime, mtime)
	}
	old := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	write("a.ini", old)
	write("b.yaml", old)
	write("notes.txt", old)
	write(".hidden.ini", old)
	os.Mkdir(filepath.Join(dir, "sub.ini"), 0o755)
	write("target.conf", old.Add(time.Hour))
	os.Symlink("target.conf", filepath.Join(dir, "link.ini"))
	os.Symlink("missing", filepath.Join(dir, "dangling.ini"))
	os.MkdirAll(filepath.Join(dir, "deep"), 0o755)
	os.WriteFile(filepath.Join(dir, "deep", "c.ini"), nil, 0o644)

	names := func(fs []File) []string {
		var n []string
		for _, f := range fs {
			n = append(n, f.Name)
		}
		return n
	}
	src, _ := ParseSource(dir, "/")
	s := Settings{}
	got, err := s.Scan(src)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{".hidden.ini", "a.ini", "b.yaml", "link.ini"}; !reflect.DeepEqual(names(got), want) {
		t.Errorf("dir scan = %q, want %q (not recursive, regular files, symlinks followed)", names(got), want)
	}
	for _, f := range got {
		if f.Name == "link.ini" && !f.Mtime.Equal(old.Add(time.Hour)) {
			t.Errorf("followed symlink mtime %v, want the target's", f.Mtime)
		}
		if f.Dir != dir || f.UID != os.Getuid() {
			t.Errorf("%s: dir %q uid %d", f.Name, f.Dir, f.UID)
		}
	}
	s.Nofollow = true
	got, _ = s.Scan(src)
	if want := []string{".hidden.ini", "a.ini", "b.yaml", "dangling.ini", "link.ini"}; !reflect.DeepEqual(names(got), want) {
		t.Errorf("nofollow scan = %q, want %q", names(got), want)
	}

	gsrc, _ := ParseSource(filepath.Join(dir, "*.ini"), "/")
	got, _ = (&Settings{}).Scan(gsrc)
	if len(got) != 3 || got[0].Name != filepath.Join(dir, ".hidden.ini") || got[0].Dir != "" {
		t.Errorf("glob scan = %q", names(got))
	}

	gone, _ := ParseSource(filepath.Join(dir, "nope"), "/")
	if _, err := s.Scan(gone); err == nil {
		t.Error("scan of a missing directory must fail, not look empty")
	}
}

// TestBlacklist follows the backoff of a vassal that keeps dying before
// it is loyal (OP-209, OP-210) and its log lines.
func TestBlacklist(t *testing.T) {
	var buf syncBuffer
	e := &Emperor{Settings: Settings{Throttle: time.Second, MaxThrottle: 3 * time.Second}, Log: newTestLogger(&buf)}
	e.blacklist = map[string]*blackItem{}
	var levels []time.Duration
	for i := 0; i < 6; i++ {
		e.blacklistAdd("bad.ini")
		levels = append(levels, e.blacklist["bad.ini"].level)
	}
	want := []time.Duration{time.Millisecond, 1001 * time.Millisecond, 2001 * time.Millisecond, 3001 * time.Millisecond, 1500500 * time.Microsecond, 2500500 * time.Microsecond}
	if !reflect.DeepEqual(levels, want) {
		t.Errorf("levels %v, want %v", levels, want)
	}
	log := buf.String()
	for _, l := range []string{"[emperor] unloyal bad behaving vassal found: bad.ini throttling it...", "[emperor] maximum throttle level for vassal bad.ini reached !!!"} {
		if !contains(log, l) {
			t.Errorf("log lacks %q:\n%s", l, log)
		}
	}
	e.NoBlacklist = true
	e.blacklistAdd("other.ini")
	if e.blacklist["other.ini"] != nil {
		t.Error("emperor-no-blacklist still throttles")
	}
}

// TestOnDemandSocket covers T-20's three ways to name the socket.
func TestOnDemandSocket(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.ini.socket"), []byte(" /run/a.sock\n"), 0o644)
	script := filepath.Join(dir, "name")
	os.WriteFile(script, []byte("#!/bin/sh\necho /run/by-exec-$1\n"), 0o755)
	f := File{Name: "a.ini", Path: filepath.Join(dir, "a.ini"), Dir: dir}
	g := File{Name: "b.yaml", Path: filepath.Join(dir, "b.yaml"), Dir: dir}
	for _, tc := range []struct {
		s    Settings
		f    File
		want string
	}{
		{Settings{}, f, ""},
		{Settings{OnDemandDir: "/run/od"}, f, "/run/od/a.socket"},
		{Settings{OnDemandDir: "/run/od"}, g, "/run/od/b.socket"},
		{Settings{OnDemandExt: ".socket"}, f, "/run/a.sock"},
		{Settings{OnDemandExt: ".socket"}, g, ""},
		{Settings{OnDemandExec: script}, f, "/run/by-exec-a.ini"},
	} {
		got, err := tc.s.OnDemandSocket(tc.f)
		if err != nil || got != tc.want {
			t.Errorf("%+v %s: %q, %v; want %q", tc.s, tc.f.Name, got, err, tc.want)
		}
	}
	if _, err := (&Settings{OnDemandExec: "/nonexistent/cmd"}).OnDemandSocket(f); err == nil {
		t.Error("a failing on-demand command must be an error")
	}
}
