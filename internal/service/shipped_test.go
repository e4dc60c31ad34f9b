package service

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestShippedDefaultINI: the inherited config has the effective settings
// of Debian's default.ini, in order (I-01..I-12).
func TestShippedDefaultINI(t *testing.T) {
	f, err := os.Open("../../debian/default.ini")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var got [][2]string
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if line[0] == '[' {
			section = line
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || section != "[uwsgi]" {
			t.Fatalf("unexpected line %q in section %q", line, section)
		}
		got = append(got, [2]string{strings.TrimSpace(k), strings.TrimSpace(v)})
	}
	want := [][2]string{
		{"declare-option", "deb-confnamespace=$1"}, // I-01
		{"declare-option", "deb-confname=$1"},      // I-02
		{"master", "true"},                         // I-03
		{"workers", "2"},                           // I-04
		{"no-orphans", "true"},                     // I-05
		{"pidfile", "/run/uwsgi/%(deb-confnamespace)/%(deb-confname)/pid"},   // I-06
		{"socket", "/run/uwsgi/%(deb-confnamespace)/%(deb-confname)/socket"}, // I-07
		{"chown-socket", "www-data"},                                         // I-08
		{"chmod-socket", "660"},                                              // I-09
		{"log-date", "true"},                                                 // I-10
		{"uid", "www-data"},                                                  // I-11
		{"gid", "www-data"},                                                  // I-12
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("default.ini settings:\n%q\nwant\n%q", got, want)
	}
}

// TestShippedUnits: systemd accepts the units (S-01..S-03 on the Debian
// layout). The controller path is pointed at an existing executable, since
// verify checks that ExecStart exists.
func TestShippedUnits(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Fatalf("systemd-analyze is required: %v", err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	units := map[string]string{
		"uwsgi.service":      "uwsgi.service",
		"uwsgi-app@.service": "uwsgi-app@my-site.service",
		"uwsgi-app@.socket":  "uwsgi-app@my-site.socket",
	}
	var paths []string
	for src, dst := range units {
		data, err := os.ReadFile(filepath.Join("../../debian", src))
		if err != nil {
			t.Fatal(err)
		}
		data = []byte(strings.ReplaceAll(string(data), "/usr/sbin/uwsgi-service", exe))
		p := filepath.Join(dir, dst)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, analyze, append([]string{"verify", "--man=no"}, paths...)...).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	// The template's socket is default.ini's socket for app/NAME, with the
	// raw instance name (a dash must not become a slash).
	sock, _ := os.ReadFile("../../debian/uwsgi-app@.socket")
	if !strings.Contains(string(sock), "ListenStream=/run/uwsgi/app/%i/socket\n") {
		t.Errorf("uwsgi-app@.socket does not listen on /run/uwsgi/app/%%i/socket")
	}
}
