package pyrt

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeRoot lays out a file system with python3 -> python3.11 and the shared
// libraries of 3.11 and 3.12.
func fakeRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	mk := func(p, content string) {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mk("usr/bin/python3.11", "")
	if err := os.Symlink("python3.11", filepath.Join(root, "usr/bin/python3")); err != nil {
		t.Fatal(err)
	}
	mk("usr/lib/"+multiarch()+"/libpython3.11.so.1.0", "")
	mk("usr/lib/"+multiarch()+"/libpython3.12.so.1.0", "")
	mk("srv/venv/pyvenv.cfg", "home = /usr/bin\ninclude-system-site-packages = false\nversion = 3.12.1\n")
	mk("srv/broken/pyvenv.cfg", "home = /usr/bin\n")
	mk("opt/py/lib/libpython3.13.so.1.0", "")
	mk("srv/v13/pyvenv.cfg", "home = /opt/py/bin\nversion_info = 3.13.0.final.0\n")
	return root
}

func TestFind(t *testing.T) {
	Root = fakeRoot(t)
	defer func() { Root = "" }()
	arch := "/usr/lib/" + multiarch()
	tests := []struct {
		name, want, home string
		rt               Runtime
		err              string
	}{
		{name: "system python3", want: "", rt: Runtime{Version: "3.11", Lib: arch + "/libpython3.11.so.1.0"}},
		{name: "plugin python3", want: "3", rt: Runtime{Version: "3.11", Lib: arch + "/libpython3.11.so.1.0"}},
		{name: "plugin python312", want: "3.12", rt: Runtime{Version: "3.12", Lib: arch + "/libpython3.12.so.1.0"}},
		{name: "missing version", want: "3.9", err: "install the libpython3.9 package"},
		{name: "venv decides", home: "/srv/venv", rt: Runtime{Version: "3.12", Lib: arch + "/libpython3.12.so.1.0",
			Program: "/srv/venv/bin/python", Venv: "/srv/venv"}},
		{name: "venv against plugin", want: "3.11", home: "/srv/venv", err: "made with Python 3.12, not 3.11"},
		{name: "venv without version", home: "/srv/broken", err: "no Python version recorded"},
		{name: "venv of a local build", home: "/srv/v13", rt: Runtime{Version: "3.13", Lib: "/opt/py/lib/libpython3.13.so.1.0",
			Program: "/srv/v13/bin/python", Venv: "/srv/v13"}},
		{name: "plain home", home: "/opt/py", want: "3.13", rt: Runtime{Version: "3.13", Lib: "/opt/py/lib/libpython3.13.so.1.0", Home: "/opt/py"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt, err := Find(tt.want, tt.home)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if *rt != tt.rt {
				t.Errorf("got %+v\nwant %+v", *rt, tt.rt)
			}
		})
	}
}

// The machine's own python3 must resolve to a loadable library: this is
// what every test of the server relies on.
func TestFindSystem(t *testing.T) {
	rt, err := Find("", "")
	if err != nil {
		t.Fatalf("system python3: %v (install python3 and libpython3.X)", err)
	}
	if _, err := os.Stat(rt.Lib); err != nil {
		t.Fatal(err)
	}
}
