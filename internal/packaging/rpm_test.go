package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBuildRPM builds the .rpm and inspects it with rpm(8): name, files
// and modes, config(noreplace), relations, scriptlets, then installs it
// into a scratch root (F-01..F-10).
func TestBuildRPM(t *testing.T) {
	rpm, err := exec.LookPath("rpm")
	if err != nil {
		t.Fatalf("rpm is required (apt-get install rpm): %v", err)
	}
	out := t.TempDir()
	pkg, err := BuildRPM(Spec{Version: DefaultVersion(1), Arch: "amd64", SrcDir: "../..",
		BinDir: fixtureBins(t), OutDir: out, MTime: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(pkg) != "gosgi-2.0.21+gosgi1-1.x86_64.rpm" {
		t.Errorf("package name %s", filepath.Base(pkg))
	}
	q := func(args ...string) string {
		t.Helper()
		b, err := exec.Command(rpm, append([]string{"-qp"}, append(args, pkg)...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("rpm -qp %v: %v\n%s", args, err, b)
		}
		return string(b)
	}
	listing := q("-lv")
	for _, want := range []string{
		"-rwxr-xr-x .* root +root .* /usr/sbin/uwsgi$",
		// nfpm writes rpm symlinks with no permission bits; Linux ignores them.
		"^l.{9} .* /usr/sbin/uwsgi_python3 -> uwsgi$",
		"-rw-r--r-- .* root +root .* /etc/uwsgi.ini$",
		"drwxr-xr-x .* root +root .* /etc/uwsgi.d$",
		"-rw-r--r-- .* /usr/lib/systemd/system/uwsgi.service$",
		"-rw-r--r-- .* /usr/lib/tmpfiles.d/uwsgi.conf$",
		"-rw-r--r-- .* /usr/share/doc/gosgi/examples/uwsgi@.service$",
	} {
		if !matchLine(listing, want) {
			t.Errorf("rpm -qlvp has no line matching %q:\n%s", want, listing)
		}
	}
	if c := q("-c"); !strings.Contains(c, "/etc/uwsgi.ini\n") {
		t.Errorf("config files: %q", c)
	}
	if f := q("--qf", "[%{FILENAMES} %{FILEFLAGS:fflags}\n]"); !strings.Contains(f, "/etc/uwsgi.ini cn") {
		t.Errorf("/etc/uwsgi.ini is not %%config(noreplace):\n%s", f)
	}
	prov := q("--provides")
	for _, p := range []string{"uwsgi = 2.0.21", "uwsgi-plugin-python3 = 2.0.21", "gosgi = 2.0.21+gosgi1-1"} {
		if !strings.Contains(prov, p) {
			t.Errorf("provides lacks %q:\n%s", p, prov)
		}
	}
	if obs := q("--obsoletes"); !strings.Contains(obs, "uwsgi\n") || !strings.Contains(obs, "uwsgi-plugin-python3\n") {
		t.Errorf("obsoletes:\n%s", obs)
	}
	scripts := q("--scripts")
	for _, s := range []string{"preinstall scriptlet", "useradd -r -g uwsgi", "postinstall scriptlet", "preset uwsgi.service",
		"preuninstall scriptlet", "disable --now uwsgi.service", "postuninstall scriptlet", "try-restart uwsgi.service"} {
		if !strings.Contains(scripts, s) {
			t.Errorf("scripts lack %q:\n%s", s, scripts)
		}
	}

	// Install into a scratch root: no scripts (they would create users
	// on this machine), no dependency database there.
	root := t.TempDir()
	b, err := exec.Command(rpm, "--root", root, "--dbpath", "/var/lib/rpm", "-i", "--nodeps", "--noscripts", "--ignorearch", pkg).CombinedOutput()
	if err != nil {
		t.Fatalf("rpm --root install: %v\n%s", err, b)
	}
	for _, p := range []string{"usr/sbin/uwsgi", "etc/uwsgi.ini", "usr/lib/systemd/system/uwsgi.service", "usr/lib/tmpfiles.d/uwsgi.conf"} {
		if _, err := os.Stat(filepath.Join(root, p)); err != nil {
			t.Errorf("installed root lacks %s: %v", p, err)
		}
	}
	if fi, err := os.Stat(filepath.Join(root, "etc/uwsgi.d")); err != nil || !fi.IsDir() {
		t.Errorf("/etc/uwsgi.d: %v %v", fi, err)
	}
	b, err = exec.Command(rpm, "--root", root, "--dbpath", "/var/lib/rpm", "-V", "gosgi").CombinedOutput()
	if err != nil {
		t.Errorf("rpm -V after install: %v\n%s", err, b)
	}
	b, err = exec.Command(rpm, "--root", root, "--dbpath", "/var/lib/rpm", "-e", "--noscripts", "gosgi").CombinedOutput()
	if err != nil {
		t.Errorf("rpm -e: %v\n%s", err, b)
	}
}
