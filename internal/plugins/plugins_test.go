package plugins

import (
	"reflect"
	"strings"
	"testing"
)

// TestResolve covers PL-1 and PL-6.
func TestResolve(t *testing.T) {
	tests := []struct {
		item    string
		name    string
		kind    Kind
		py      string
		mod     int
		wantErr string
	}{
		{"python3", "python3", Python, "", -1, ""},
		{" python ", "python", Python, "", -1, ""},
		{"python311", "python311", Python, "3.11", -1, ""},
		{"python38", "python38", Python, "3.8", -1, ""},
		{"python3.12", "python3.12", Python, "3.12", -1, ""},
		{"0:python3", "python3", Python, "", 0, ""},
		{"python3|init", "python3", Python, "", -1, ""},
		{"/usr/lib/uwsgi/plugins/python311_plugin.so", "python311", Python, "3.11", -1, ""},
		{"python2", "python2", Refused, "2", -1, "Python 2 is not supported"},
		{"python27", "python27", Refused, "2.7", -1, "Python 2.7 is not supported"},
		{"pypy", "pypy", Refused, "", -1, "PyPy is not supported"},
		{"http", "http", Builtin, "", -1, ""},
		{"router_static", "router_static", Builtin, "", -1, ""},
		{"logfile", "logfile", Builtin, "", -1, ""},
		{"cheaper_busyness", "cheaper_busyness", Builtin, "", -1, ""},
		{"emperor_zeromq", "emperor_zeromq", Builtin, "", -1, ""},
		{"transformation_gzip", "transformation_gzip", Builtin, "", -1, ""},
		{"gevent", "gevent", Builtin, "", -1, ""},
		{"gevent_python3", "gevent_python3", Builtin, "", -1, ""},
		{"/usr/lib/uwsgi/plugins/gevent_python311_plugin.so", "gevent_python311", Builtin, "", -1, ""},
		{"greenlet", "greenlet", Unsupported, "", -1, ""},
		{"asyncio", "asyncio", Unsupported, "", -1, ""},
		{"nope_x", "nope_x", Unsupported, "", -1, ""},
		{"php", "php", Refused, "", -1, "CPython 3 only"},
		{"psgi", "psgi", Refused, "", -1, "CPython 3 only"},
		{"rack", "rack", Refused, "", -1, "CPython 3 only"},
		{"lua", "lua", Refused, "", -1, "CPython 3 only"},
		{"jvm", "jvm", Refused, "", -1, "CPython 3 only"},
		{"cgi", "cgi", Refused, "", -1, "CPython 3 only"},
		{"x:python3", "", Refused, "", -1, "invalid modifier"},
		{"", "", Refused, "", -1, "empty plugin name"},
	}
	for _, tc := range tests {
		t.Run(tc.item, func(t *testing.T) {
			p, err := Resolve(tc.item)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Resolve(%q) err = %v, want %q", tc.item, err, tc.wantErr)
				}
				if tc.name != "" && (p.Kind != Refused || p.Message == "") {
					t.Errorf("Resolve(%q) = %+v, want Refused with a message", tc.item, p)
				}
				return
			}
			if err != nil {
				t.Fatalf("Resolve(%q): %v", tc.item, err)
			}
			if p.Name != tc.name || p.Kind != tc.kind || p.PyVersion != tc.py || p.Modifier != tc.mod {
				t.Errorf("Resolve(%q) = %+v, want name %s kind %s py %q mod %d", tc.item, p, tc.name, tc.kind, tc.py, tc.mod)
			}
			if tc.kind == Unsupported && p.Message == "" {
				t.Errorf("Resolve(%q): Unsupported without a message", tc.item)
			}
		})
	}
}

// TestFromArgv0 covers PL-2.
func TestFromArgv0(t *testing.T) {
	tests := []struct {
		argv0 string
		want  []string
	}{
		{"/usr/bin/uwsgi_python311", []string{"python311"}},
		{"uwsgi_python3", []string{"python3"}},
		{"/usr/bin/uwsgi_python3_http", []string{"python3", "http"}},
		{"/usr/bin/uwsgi", nil},
		{"/usr/bin/uwsgi-core", nil},
		{"./myuwsgi_", nil},
	}
	for _, tc := range tests {
		if got := FromArgv0(tc.argv0); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("FromArgv0(%q) = %q, want %q", tc.argv0, got, tc.want)
		}
	}
}

func FuzzResolve(f *testing.F) {
	for _, s := range []string{"python3", "0:python311|init", "php", "/x/y_plugin.so", ":", "|"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, item string) {
		p, err := Resolve(item)
		if err == nil && p.Kind == Refused {
			t.Fatalf("Resolve(%q): Refused without an error", item)
		}
		if err == nil && p.Name == "" {
			t.Fatalf("Resolve(%q): empty name", item)
		}
	})
}
