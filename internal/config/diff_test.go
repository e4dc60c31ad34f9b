package config

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// realUWSGI returns the path of the real uWSGI binary; the differential
// tests need it and fail when it is missing.
func realUWSGI(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("uwsgi")
	if err != nil {
		t.Fatalf("the real uwsgi (Debian package uwsgi-core) is required for differential tests: %v", err)
	}
	return p
}

// runReal runs the real uwsgi with the python3 and http plugins in dir and
// returns stdout and the exit code.
func runReal(t *testing.T, dir string, env []string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, realUWSGI(t), append([]string{"--plugin", "python3,http"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=/usr/bin:/bin"}, env...)
	var out bytes.Buffer
	cmd.Stdout = &out
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run uwsgi: %v", err)
	}
	return out.String(), code
}

// runOurs loads the same command line and returns what gosgi prints on
// stdout and its exit code.
func runOurs(t *testing.T, env []string, args ...string) (string, int) {
	t.Helper()
	_, err := Load(append([]string{"uwsgi", "--plugin", "python3,http"}, args...), append([]string{"PATH=/usr/bin:/bin"}, env...), nil)
	var ex *Exit
	if errors.As(err, &ex) {
		return ex.Stdout, ex.Code
	}
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return "", 0
}

// TestDifferentialGet compares `--get` answers with the real uWSGI for the
// expansion rules of spec §2.
func TestDifferentialGet(t *testing.T) {
	files := map[string]string{
		"cfg/a.ini": "[uwsgi]\np = %p\ns = %s\nn = %n\ne = %e\nd = %d\nc = %c\nx = %x\no = %o\nj = %j\nz = a%zb\npct = 100%%\nfirst = %0\ninc = %d/b.ini\ninclude = %(inc)\n[prod]\nx = %x\no = %o\n",
		"cfg/b.ini": "[uwsgi]\nbp = %p\nbig = %P\nbign = %N\n",
		"m.ini":     "[uwsgi]\nx = 5\ny = %(x + 4)\nz = %(x)%(nope)\nw = %(x nope 7)\nq = %(x * 2 ++)\na = %(x abc)\nb = %(abc def)\nc = %(abc)\nd = %(x 3)\nf = %(x / 0)\ng = %(abc + 2)\nr = %(later)\nlater = L1\nlater = L2\n",
		"e.ini":     "[uwsgi]\nhome = $(HOMEDIR)/venv\nunset = $(NOPE_NOT_SET)\nfile = @(val.txt)\nmix = $(HOMEDIR)-%(home)\n",
		"val.txt":   "from-file\n",
		"s.ini":     "[uwsgi]\nset = processes=4\nset-placeholder = base=/srv\nroot = %(base)/app\ndeclare-option = myopt=socket=$1;chdir=$2\nmyopt = :3031 /tmp\n",
		"l.ini":     "[uwsgi]\nif-env = LOGIC\nenvval = %(_)\nendif =\nif-not-env = LOGIC\nnotenv = yes\nendif =\nif-exists = val.txt\nexists = %(_)\nendif =\nfor = a b c\nitem = %(_)\nendfor =\nfor-times = 2\nt = %(_)\nendfor =\n",
		"i.ini":     "[uwsgi]\nprocesses = 2\ninherit = base.ini\nname = child\n",
		"base.ini":  "[uwsgi]\nprocesses = 4\nbase = %(name)\n",
		"sec.ini":   "[a]\nk = from-a\n[uwsgi]\nk = from-uwsgi\n",
		"x.xml":     "<uwsgi><master/><x>1</x><x>2</x></uwsgi>",
		"y.xml":     "<all><uwsgi id=\"one\"><v>1</v></uwsgi><uwsgi id=\"two\"><v>2</v></uwsgi></all>",
		"j.json":    `{"uwsgi":{"a":true,"b":false,"c":null,"d":[1,2.5,"s"],"e":{"z":1}}}`,
		"y.yml":     "uwsgi:\n  master: true\n  socket:\n    - a\n    - b\n  x: \"q\"\n  y: 3 # c\nother:\n  k: 1\n",
		// Debian's inherited defaults (distro-layout I-01..I-12), run paths moved.
		"default.ini": "[uwsgi]\ndeclare-option = deb-confnamespace=$1\ndeclare-option = deb-confname=$1\nmaster = true\nworkers = 2\nno-orphans = true\npidfile = /run/uwsgi/%(deb-confnamespace)/%(deb-confname)/pid\nsocket = /run/uwsgi/%(deb-confnamespace)/%(deb-confname)/socket\nchown-socket = www-data\nchmod-socket = 660\nlog-date = true\nuid = www-data\ngid = www-data\n",
		"app1.ini":    "[uwsgi]\nstrict = true\nprocesses = 4\nsocket = 127.0.0.1:39031\n",
		"inc.ini":     "[uwsgi]\ninclude = $(DIR)/b.ini\n",
		"b.ini":       "[uwsgi]\nbare\nm = true ; x\n  # c\nk=a=b\n",
	}
	dir := writeFiles(t, files)
	chdir(t, dir)
	tests := []struct {
		name string
		env  []string
		args []string
	}{
		{"CF-20 magic", nil, []string{"--ini", "cfg/a.ini", "--get", "s", "--get", "n", "--get", "e", "--get", "c", "--get", "x", "--get", "o", "--get", "z", "--get", "pct", "--get", "p", "--get", "d", "--get", "j", "--get", "first"}},
		{"CF-20 section %x %o", nil, []string{"--ini", "cfg/a.ini:prod", "--get", "x", "--get", "o"}},
		{"CF-20 upper case in include", nil, []string{"--ini", "cfg/a.ini", "--get", "bp", "--get", "big", "--get", "bign"}},
		{"CF-22 CF-23 placeholders", nil, []string{"--ini", "m.ini", "--get", "y", "--get", "z", "--get", "w", "--get", "q", "--get", "a", "--get", "b", "--get", "c", "--get", "d", "--get", "f", "--get", "g", "--get", "r"}},
		{"CF-24 env and file", []string{"HOMEDIR=/h"}, []string{"--ini", "e.ini", "--get", "home", "--get", "unset", "--get", "file", "--get", "mix"}},
		{"CF-48 cli values", []string{"HOMEDIR=/h"}, []string{"--ini", "m.ini", "--socket", "%(x)", "--chdir", "$(HOMEDIR)", "--get", "socket", "--get", "chdir"}},
		{"CF-26 CF-27 set declare", nil, []string{"--ini", "s.ini", "--get", "processes", "--get", "root", "--get", "socket", "--get", "chdir"}},
		{"CF-35 CF-36 logic", []string{"LOGIC=on"}, []string{"--ini", "l.ini", "--get", "envval", "--get", "notenv", "--get", "exists", "--get", "item", "--get", "t"}},
		{"CF-35 logic unset", nil, []string{"--ini", "l.ini", "--get", "envval", "--get", "notenv"}},
		{"CF-39 inherit", nil, []string{"--ini", "i.ini", "--get", "base"}},
		{"CF-16 sections", nil, []string{"--ini", "sec.ini:a", "--get", "k"}},
		{"CF-16 ini colon section", nil, []string{"--ini", "sec.ini", "--ini", ":a", "--get", "k"}},
		{"CF-50 xml", nil, []string{"--xml", "x.xml", "--get", "master", "--get", "x"}},
		{"CF-50 xml id", nil, []string{"y.xml:two", "--get", "v"}},
		{"CF-52 json", nil, []string{"--json", "j.json", "--get", "a", "--get", "b", "--get", "c", "--get", "d", "--get", "e"}},
		{"CF-51 yaml", nil, []string{"--yaml", "y.yml", "--get", "master", "--get", "socket", "--get", "x", "--get", "y", "--get", "k"}},
		{"CF-11 CF-13 ini dialect", nil, []string{"--ini", "b.ini", "--get", "bare", "--get", "m", "--get", "k"}},
		{"CF-30 env options", []string{"UWSGI_SOCKET=:1", "UWSGI_FOO_BAR=fb"}, []string{"--get", "socket", "--get", "foo-bar"}},
		{"CF-6 get unknown and flag", nil, []string{"--master", "--get", "master", "--get", "nothing"}},
		{"DP-1 Debian default.ini", []string{"UWSGI_DEB_CONFNAMESPACE=app", "UWSGI_DEB_CONFNAME=app1"}, []string{"--ini", "default.ini", "--ini", "app1.ini", "--get", "pidfile", "--get", "socket", "--get", "workers", "--get", "processes", "--get", "deb-confname"}},
		{"CF-25 include with $()", []string{"DIR=."}, []string{"--ini", "inc.ini", "--get", "k"}},
		{"OP-305 version", nil, []string{"--version", "--processes", "3"}},
		{"OP-301 negative", nil, []string{"--processes", "-3", "--get", "processes"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantOut, wantCode := runReal(t, dir, tc.env, tc.args...)
			gotOut, gotCode := runOurs(t, tc.env, tc.args...)
			if tc.name == "OP-305 version" {
				// Debian's build says 2.0.21-debian; gosgi prints Version.
				wantOut = strings.Replace(wantOut, "-debian", "", 1)
			}
			if gotOut != wantOut || gotCode != wantCode {
				t.Errorf("gosgi: code %d stdout %q\nuwsgi: code %d stdout %q", gotCode, gotOut, wantCode, wantOut)
			}
		})
	}
}
