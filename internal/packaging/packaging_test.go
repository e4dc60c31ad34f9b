package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestBuildDeb builds the package from fixture binaries and inspects it
// with dpkg-deb: files and modes (D-08..D-15), conffiles, relations (P-20)
// and maintainer scripts.
func TestBuildDeb(t *testing.T) {
	dpkgDeb, err := exec.LookPath("dpkg-deb")
	if err != nil {
		t.Fatalf("dpkg-deb is required: %v", err)
	}
	bin := t.TempDir()
	for _, b := range []string{"uwsgi", "uwsgi-service"} {
		// Packaging copies bytes; these stand in for the built binaries.
		if err := os.WriteFile(filepath.Join(bin, b), []byte("#!/bin/sh\necho "+b+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	out := t.TempDir()
	deb, err := BuildDeb(Spec{
		Version: DefaultVersion(1), Arch: "amd64",
		SrcDir: "../..", BinDir: bin, OutDir: out,
		MTime: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
	})
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(deb) != "gosgi_2.0.21+gosgi1_amd64.deb" {
		t.Errorf("package name %s", filepath.Base(deb))
	}
	run := func(args ...string) string {
		t.Helper()
		b, err := exec.Command(dpkgDeb, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("dpkg-deb %v: %v\n%s", args, err, b)
		}
		return string(b)
	}

	listing := run("-c", deb)
	for _, want := range []string{
		"-rwxr-xr-x root/root .* ./usr/bin/gosgi$",
		"lrwxrwxrwx root/root .* ./usr/bin/uwsgi_python3 -> gosgi$",
		"lrwxrwxrwx root/root .* ./usr/bin/uwsgi_python311 -> gosgi$",
		"-rwxr-xr-x root/root .* ./usr/sbin/uwsgi-service$",
		"-rwxr-xr-x root/root .* ./etc/init.d/uwsgi$",
		"-rw-r--r-- root/root .* ./etc/default/uwsgi$",
		"-rw-r--r-- root/root .* ./etc/logrotate.d/uwsgi$",
		"-rw-r--r-- root/root .* ./etc/uwsgi/apps-available/README$",
		"-rw-r--r-- root/root .* ./etc/uwsgi/apps-enabled/README$",
		"-rw-r--r-- root/root .* ./usr/share/uwsgi/conf/default.ini$",
		"-rw-r--r-- root/root .* ./lib/systemd/system/uwsgi.service$",
		"-rw-r--r-- root/root .* ./lib/systemd/system/uwsgi-app@.service$",
		"-rw-r--r-- root/root .* ./lib/systemd/system/uwsgi-app@.socket$",
		"-rw-r--r-- root/root .* ./usr/share/doc/gosgi/README.Debian$",
		"drwxr-xr-x root/root .* ./var/log/uwsgi/app/$",
	} {
		if !matchLine(listing, want) {
			t.Errorf("listing has no line matching %q:\n%s", want, listing)
		}
	}
	if strings.Contains(listing, "./usr/bin/uwsgi\n") {
		t.Error("/usr/bin/uwsgi must stay an alternatives link, not a packaged file")
	}

	conffiles := run("-I", deb, "conffiles")
	wantConf := []string{"/etc/default/uwsgi", "/etc/init.d/uwsgi", "/etc/logrotate.d/uwsgi",
		"/etc/uwsgi/apps-available/README", "/etc/uwsgi/apps-enabled/README"}
	for _, c := range wantConf {
		if !strings.Contains(conffiles, c+"\n") {
			t.Errorf("conffiles lacks %s:\n%s", c, conffiles)
		}
	}
	if strings.Contains(conffiles, "default.ini") {
		t.Error("default.ini must not be a conffile (D-12)")
	}

	fields := map[string]string{
		"Package":   "gosgi",
		"Version":   "2.0.21+gosgi1",
		"Provides":  "uwsgi (= 2.0.21+gosgi1), uwsgi-core (= 2.0.21+gosgi1), uwsgi-emperor (= 2.0.21+gosgi1), uwsgi-plugin-python3 (= 2.0.21+gosgi1), uwsgi-plugin-gevent-python3 (= 2.0.21+gosgi1), httpd-wsgi3",
		"Conflicts": "uwsgi, uwsgi-core, uwsgi-emperor, uwsgi-plugin-python3, uwsgi-plugin-gevent-python3",
		"Replaces":  "uwsgi, uwsgi-core, uwsgi-emperor, uwsgi-plugin-python3, uwsgi-plugin-gevent-python3",
		"Depends":   "libc6, python3, libpython3.11",
	}
	for k, want := range fields {
		if got := strings.TrimSpace(run("-f", deb, k)); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
	if p := run("-f", deb, "Provides"); strings.Contains(p, "uwsgi-abi") {
		t.Error("must not provide the uwsgi-abi token: C plugins cannot load")
	}

	postinst := run("-I", deb, "postinst")
	// What the scripts do is checked by installing the package in a
	// Debian chroot (test/chroot); here, that they are the right ones.
	for _, want := range []string{
		"update-alternatives --install /usr/bin/uwsgi uwsgi /usr/bin/gosgi 80",
		"for s in uwsgi uwsgi-emperor", `update-rc.d "$s" defaults`,
		"deb-systemd-helper enable", `invoke-rc.d "$s" restart`,
	} {
		if !strings.Contains(postinst, want) {
			t.Errorf("postinst lacks %q", want)
		}
	}
	if preinst := run("-I", deb, "preinst"); !strings.Contains(preinst, `chmod +x "/etc/init.d/$s"`) {
		t.Error("preinst does not restore +x on the init scripts (P-20)")
	}
	if prerm := run("-I", deb, "prerm"); !strings.Contains(prerm, "update-alternatives --remove uwsgi /usr/bin/gosgi") {
		t.Error("prerm does not give /usr/bin/uwsgi back")
	}

	// Debian's version ordering: gosgi sorts above the package it replaces.
	if err := exec.Command("dpkg", "--compare-versions", "2.0.21+gosgi1", "gt", "2.0.21-5.1").Run(); err != nil {
		t.Errorf("2.0.21+gosgi1 does not sort above 2.0.21-5.1: %v", err)
	}
}

func matchLine(text, pattern string) bool {
	re := regexp.MustCompile(pattern)
	for _, l := range strings.Split(text, "\n") {
		if re.MatchString(l) {
			return true
		}
	}
	return false
}
