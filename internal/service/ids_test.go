package service

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func TestConfigIDFrom(t *testing.T) { // C-20
	tests := []struct {
		opt, in, kind, want string
	}{
		{"ini", "[uwsgi]\nuid = www-data\ngid=33\n", "uid", "www-data"},
		{"ini", "[uwsgi]\nuid = www-data\ngid=33\n", "gid", "33"},
		{"ini", "[uwsgi]\n  uid\t=\tnobody  \nuid = second\n", "uid", "nobody"},
		{"ini", "[uwsgi]\n# uid = commented\nsocket = x\n", "uid", ""},
		{"ini", "[uwsgi]\nuidx = no\n", "uid", ""},
		{"ini", "[uwsgi]\r\nuid = crlf\r\n", "uid", "crlf"},
		{"json", `{"uwsgi": {"uid": "nobody", "gid": 65534}}`, "uid", "nobody"},
		{"json", `{"uwsgi": {"uid": "nobody", "gid": 65534}}`, "gid", "65534"},
		{"json", `{"uwsgi": {"uid": ["a", "b"]}}`, "uid", "a"},
		{"json", `{"other": {"uid": "x"}}`, "uid", ""},
		{"xmlconfig", "<uwsgi>\n <uid> nobody </uid><gid>nogroup</gid>\n</uwsgi>", "uid", "nobody"},
		{"xmlconfig", "<uwsgi>\n <uid> nobody </uid><gid>nogroup</gid>\n</uwsgi>", "gid", "nogroup"},
		{"xmlconfig", "<uwsgi/>", "uid", ""},
		{"yaml", "uwsgi:\n  uid: nobody\n  gid: 33\n", "uid", "nobody"},
		{"yaml", "uwsgi:\n  uid: nobody\n  gid: 33\n", "gid", "33"},
		{"yaml", "", "uid", ""},
	}
	for _, tt := range tests {
		got, err := ConfigIDFrom(tt.opt, []byte(tt.in), tt.kind)
		if err != nil {
			t.Errorf("%s %q: %v", tt.opt, tt.in, err)
		}
		if got != tt.want {
			t.Errorf("ConfigIDFrom(%s, %q, %s) = %q, want %q", tt.opt, tt.in, tt.kind, got, tt.want)
		}
	}
	if _, err := ConfigIDFrom("json", []byte("{"), "uid"); err == nil {
		t.Error("broken json: no error")
	}
}

func FuzzConfigIDFrom(f *testing.F) {
	for _, s := range []string{"[uwsgi]\nuid = x\n", `{"uwsgi":{"uid":1}}`, "<uid>a</uid>", "uwsgi:\n uid: [1]\n"} {
		for _, opt := range []string{"ini", "json", "xmlconfig", "yaml"} {
			f.Add(opt, []byte(s))
		}
	}
	f.Fuzz(func(t *testing.T, opt string, data []byte) {
		v, err := ConfigIDFrom(opt, data, "uid")
		if err == nil && len(v) > len(data) {
			t.Fatalf("value %q longer than input", v)
		}
	})
}

func TestSqliteID(t *testing.T) { // C-20, sqlite configs through /usr/bin/sqlite3
	if _, err := os.Stat(sqlite3Path); err != nil {
		t.Fatalf("%s is required for this test: %v", sqlite3Path, err)
	}
	db := filepath.Join(t.TempDir(), "app.sqlite")
	sql := "CREATE TABLE uwsgi (k varchar, v varchar); INSERT INTO uwsgi VALUES ('socket','/x'); INSERT INTO uwsgi VALUES ('uid','nobody'); INSERT INTO uwsgi VALUES ('uid','second');"
	if out, err := exec.Command(sqlite3Path, db, sql).CombinedOutput(); err != nil {
		t.Fatalf("sqlite3: %v %s", err, out)
	}
	if got, err := ConfigID(db, "uid"); err != nil || got != "nobody" {
		t.Errorf("uid = %q, %v", got, err)
	}
	if got, err := ConfigID(db, "gid"); err != nil || got != "" {
		t.Errorf("gid = %q, %v", got, err)
	}
}

func TestGuessOwner(t *testing.T) { // C-20
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	inherited := write("default.ini", "[uwsgi]\nuid = www-data\ngid = www-data\n")
	tests := []struct {
		name, config, inherited string
		uid, gid                int
		warn                    bool
	}{
		{"inherited", write("plain.ini", "[uwsgi]\n"), inherited, 33, 33, false},
		{"app wins per kind", write("own.yaml", "uwsgi:\n  uid: nobody\n"), inherited, 65534, 33, false},
		{"numbers", write("num.json", `{"uwsgi": {"uid": 1234, "gid": "4321"}}`), inherited, 1234, 4321, false},
		{"root when nothing says", write("none.ini", "[uwsgi]\n"), "", 0, 0, false},
		{"missing inherited file", write("none2.ini", "[uwsgi]\n"), filepath.Join(dir, "gone.ini"), 0, 0, false},
		{"unknown user falls back to root", write("bad.ini", "[uwsgi]\nuid = %(nosuchplaceholder)\n"), inherited, 0, 33, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, warn := GuessOwner(tt.config, tt.inherited)
			if o.UID != tt.uid || o.GID != tt.gid || (warn != nil) != tt.warn {
				t.Errorf("GuessOwner = %+v, warn %v; want %d:%d warn=%v", o, warn, tt.uid, tt.gid, tt.warn)
			}
		})
	}
}
