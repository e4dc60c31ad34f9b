package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func fixtureBins(t *testing.T) string {
	t.Helper()
	bin := t.TempDir()
	for _, b := range []string{"uwsgi", "uwsgi-service"} {
		// Packaging copies bytes; these stand in for the built binaries.
		if err := os.WriteFile(filepath.Join(bin, b), []byte("#!/bin/sh\necho "+b+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return bin
}

// TestDebEmperorFiles: the .deb carries the uwsgi-emperor package's
// files (D-18, D-19) as conffiles where Debian has them, and Arch's
// template as an example.
func TestDebEmperorFiles(t *testing.T) {
	dpkgDeb, err := exec.LookPath("dpkg-deb")
	if err != nil {
		t.Fatalf("dpkg-deb is required: %v", err)
	}
	deb, err := BuildDeb(Spec{Version: DefaultVersion(1), Arch: "amd64", SrcDir: "../..",
		BinDir: fixtureBins(t), OutDir: t.TempDir(), MTime: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) string {
		b, err := exec.Command(dpkgDeb, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("dpkg-deb %v: %v\n%s", args, err, b)
		}
		return string(b)
	}
	listing := run("-c", deb)
	for _, want := range []string{
		"-rwxr-xr-x root/root .* ./etc/init.d/uwsgi-emperor$",
		"-rw-r--r-- root/root .* ./etc/default/uwsgi-emperor$",
		"-rw-r--r-- root/root .* ./etc/logrotate.d/uwsgi-emperor$",
		"-rw-r--r-- root/root .* ./etc/uwsgi-emperor/emperor.ini$",
		"-rw-r--r-- root/root .* ./etc/uwsgi-emperor/vassals/README$",
		"-rw-r--r-- root/root .* ./lib/systemd/system/uwsgi-emperor.service$",
		"-rw-r--r-- root/root .* ./usr/share/doc/gosgi/examples/uwsgi@.service$",
	} {
		if !matchLine(listing, want) {
			t.Errorf("listing has no line matching %q:\n%s", want, listing)
		}
	}
	conffiles := run("-I", deb, "conffiles")
	for _, c := range []string{"/etc/init.d/uwsgi-emperor", "/etc/default/uwsgi-emperor", "/etc/logrotate.d/uwsgi-emperor",
		"/etc/uwsgi-emperor/emperor.ini", "/etc/uwsgi-emperor/vassals/README"} {
		if !strings.Contains(conffiles, c+"\n") {
			t.Errorf("conffiles lacks %s", c)
		}
	}
}

// TestEmperorConfigs checks the shipped emperor configs and units
// against the spec's keys (E-02, S-10, F-03..F-05).
func TestEmperorConfigs(t *testing.T) {
	for _, tc := range []struct {
		file string
		want []string
		not  []string
	}{
		{"debian/emperor.ini", []string{"master = true", "workers = 2", "no-orphans = true", "log-date = true",
			"uid = www-data", "gid = www-data", "emperor = /etc/uwsgi-emperor/vassals"}, []string{"\nemperor-tyrant"}},
		{"debian/uwsgi-emperor.service", []string{"ExecStart=/usr/bin/uwsgi --ini /etc/uwsgi-emperor/emperor.ini",
			"Type=notify", "NotifyAccess=all", "KillSignal=SIGQUIT", "RuntimeDirectory=uwsgi", "RuntimeDirectoryPreserve=yes",
			"Group=www-data", "WantedBy=multi-user.target"}, []string{"--daemonize"}},
		{"debian/uwsgi-emperor.default", []string{"VERBOSE=yes"}, nil},
		{"init.d/uwsgi-emperor", []string{"Provides:          uwsgi-emperor", "--ini \"$CONFIG\" --die-on-term --pidfile \"$PIDFILE\" --daemonize \"$LOGFILE\"",
			"PIDFILE=/run/uwsgi-emperor.pid", "LOGFILE=/var/log/uwsgi/emperor.log"}, []string{"init-d-script", "--exec /usr/bin/uwsgi --oknodo"}},
		{"rpm/uwsgi.ini", []string{"uid = uwsgi", "gid = uwsgi", "emperor = /etc/uwsgi.d", "emperor-tyrant = true", "cap = setgid,setuid"}, nil},
		{"rpm/uwsgi.service", []string{"Description=uWSGI Emperor Service", "EnvironmentFile=-/etc/sysconfig/uwsgi",
			"ExecStart=/usr/sbin/uwsgi --ini /etc/uwsgi.ini --pidfile /run/uwsgi/uwsgi.pid --stats /run/uwsgi/stats.sock",
			"ExecReload=/bin/kill -HUP $MAINPID", "KillSignal=SIGINT", "Restart=always", "Type=notify", "NotifyAccess=all"}, nil},
		{"rpm/uwsgi.tmpfiles", []string{"d /run/uwsgi 0775 uwsgi uwsgi -"}, nil},
		{"rpm/scripts/preinstall.sh", []string{"groupadd -r uwsgi", "useradd -r -g uwsgi -d /run/uwsgi -s /sbin/nologin"}, nil},
		{"examples/arch/uwsgi@.service", []string{"ExecStart=/usr/bin/uwsgi --ini /etc/uwsgi/%I.ini", "Type=notify", "KillSignal=SIGQUIT", "Restart=always"}, nil},
	} {
		b, err := os.ReadFile(filepath.Join("../..", tc.file))
		if err != nil {
			t.Errorf("%s: %v", tc.file, err)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(string(b), w) {
				t.Errorf("%s lacks %q", tc.file, w)
			}
		}
		for _, n := range tc.not {
			if strings.Contains(string(b), n) {
				t.Errorf("%s has %q", tc.file, n)
			}
		}
	}
}

// TestRPMInfo checks the rpm description without building it (F-01,
// F-02, F-10): paths, noreplace config, relations.
func TestRPMInfo(t *testing.T) {
	info := RPMInfo(Spec{Version: DefaultVersion(1), Arch: "amd64", SrcDir: "/src", BinDir: "/bin"})
	if info.Release != "1" || info.Version != "2.0.21+gosgi1" {
		t.Errorf("version %s-%s", info.Version, info.Release)
	}
	dest := map[string]string{}
	for _, c := range info.Contents {
		dest[c.Destination] = c.Type
	}
	for path, typ := range map[string]string{
		"/usr/sbin/uwsgi": "", "/etc/uwsgi.ini": "config|noreplace", "/etc/uwsgi.d": "dir",
		"/usr/lib/systemd/system/uwsgi.service": "", "/usr/lib/tmpfiles.d/uwsgi.conf": "",
	} {
		if got, ok := dest[path]; !ok || got != typ {
			t.Errorf("%s: type %q (present %v), want %q", path, got, ok, typ)
		}
	}
	if strings.Join(info.Provides, ",") != "uwsgi = 2.0.21,uwsgi-plugin-python3 = 2.0.21,uwsgi-plugin-common = 2.0.21,uwsgi-plugin-python3-gevent = 2.0.21" {
		t.Errorf("provides %v", info.Provides)
	}
	if strings.Join(info.Replaces, ",") != "uwsgi,uwsgi-plugin-python3,uwsgi-plugin-common,uwsgi-plugin-python3-gevent" {
		t.Errorf("obsoletes %v", info.Replaces)
	}
	if _, err := RPMVersion("2.0.21-5"); err == nil {
		t.Error("a version with '-' must be refused")
	}
}
