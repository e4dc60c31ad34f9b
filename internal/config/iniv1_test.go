package config

import (
	"reflect"
	"strings"
	"testing"

	"gopkg.in/ini.v1"
)

// iniSample has what uWSGI's ini dialect must keep (CF-11..CF-14):
// repeated keys interleaved with others, an inline ";" that is part of the
// value, a bare key, and a %(name) reference.
const iniSample = `[uwsgi]
socket = /run/a.sock
master = true ; not a comment
socket = /run/b.sock
enable-threads
logto = /var/log/%(name)s.log
socket = :3031
`

// TestIniV1Differences records why gopkg.in/ini.v1 cannot read uWSGI ini
// files (the finding is in docs/compat.md): it keeps one value per key,
// loses the order of repeated keys relative to other keys even with
// ShadowLoad, strips inline comments, refuses bare keys unless asked, and
// expands %(name)s itself. parseINI keeps all of it.
func TestIniV1Differences(t *testing.T) {
	// Plain Load: bare keys are a syntax error.
	if _, err := ini.Load([]byte(iniSample)); err == nil || !strings.Contains(err.Error(), "enable-threads") {
		t.Errorf("ini.Load with a bare key: err = %v, want a key-value delimiter error", err)
	}
	f, err := ini.LoadSources(ini.LoadOptions{AllowBooleanKeys: true}, []byte(iniSample))
	if err != nil {
		t.Fatal(err)
	}
	sec := f.Section("uwsgi")
	// Repeated keys: the last one wins, earlier values are gone.
	if got := sec.Key("socket").String(); got != ":3031" {
		t.Errorf("ini.v1 socket = %q, want the last value only", got)
	}
	// Inline comments are stripped.
	if got := sec.Key("master").String(); got != "true" {
		t.Errorf("ini.v1 master = %q, want the inline comment stripped", got)
	}
	// Bare keys read as "true".
	if got := sec.Key("enable-threads").String(); got != "true" {
		t.Errorf("ini.v1 bare key = %q, want true", got)
	}

	// ShadowLoad keeps every value of a key, but Keys() lists each name
	// once, so socket, master, socket, ... order is lost.
	sf, err := ini.ShadowLoad([]byte(strings.Replace(iniSample, "enable-threads\n", "", 1)))
	if err != nil {
		t.Fatal(err)
	}
	ss := sf.Section("uwsgi")
	if got := ss.Key("socket").ValueWithShadows(); !reflect.DeepEqual(got, []string{"/run/a.sock", "/run/b.sock", ":3031"}) {
		t.Errorf("ShadowLoad socket values = %q", got)
	}
	if got := ss.KeyStrings(); !reflect.DeepEqual(got, []string{"socket", "master", "logto"}) {
		t.Errorf("ShadowLoad key order = %q, want one entry per name", got)
	}
	// ini.v1 interpolates %(name)s from the same section or DEFAULT:
	// an unknown name is left alone, a known one is replaced at read
	// time, unlike uWSGI's %(name) which resolves after every source.
	df, err := ini.Load([]byte("name = app\n[uwsgi]\nlogto = /var/log/%(name)s.log\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := df.Section("uwsgi").Key("logto").String(); got != "/var/log/app.log" {
		t.Errorf("ini.v1 interpolation = %q", got)
	}

	// Our reader keeps every line in order, the inline text and the bare key.
	entries, found := parseINI(iniSample, "uwsgi", "s.ini")
	if !found {
		t.Fatal("section not found")
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Key+"="+e.Value)
	}
	want := []string{"socket=/run/a.sock", "master=true ; not a comment", "socket=/run/b.sock", "enable-threads=", "logto=/var/log/%(name)s.log", "socket=:3031"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parseINI = %q, want %q", got, want)
	}
}
