package service

import (
	"path/filepath"
	"testing"
)

func TestSystemdEscape(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"site", "site"},
		{"my-site", `my\x2dsite`},
		{"with space", `with\x20space`},
		{".hidden", `\x2ehidden`},
		{"a.b:c_d", "a.b:c_d"},
		{"a/b", "a-b"},
	} {
		if got := SystemdEscape(c.in); got != c.want {
			t.Errorf("SystemdEscape(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestHandedToSystemd(t *testing.T) {
	dir := t.TempDir()
	tree(t, dir, map[string]string{
		"sockets.target.wants/uwsgi-app@sock.socket":          "->/lib/systemd/system/uwsgi-app@.socket",
		"multi-user.target.wants/uwsgi-app@svc.service":       "->/lib/systemd/system/uwsgi-app@.service",
		`sockets.target.wants/uwsgi-app@with\x20space.socket`: "->/lib/systemd/system/uwsgi-app@.socket",
		"multi-user.target.wants/uwsgi.service":               "->/lib/systemd/system/uwsgi.service",
		"uwsgi-app@loose.service":                             "",
	})
	for _, c := range []struct {
		name string
		want bool
	}{
		{"sock", true}, {"svc", true}, {"with space", true},
		{"other", false}, {"loose", false}, {"*", false},
	} {
		if got := HandedToSystemd(dir, c.name); got != c.want {
			t.Errorf("HandedToSystemd(%q) = %v, want %v", c.name, got, c.want)
		}
	}
	if HandedToSystemd("", "sock") || HandedToSystemd(filepath.Join(dir, "missing"), "sock") {
		t.Error("no systemd dir must mean not handed over")
	}
}
