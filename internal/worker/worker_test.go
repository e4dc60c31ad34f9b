package worker

import (
	"testing"
)

func TestMatchMount(t *testing.T) { // PY-7
	mounts := []string{"", "/app1", "/app1/sub/", "/other"}
	tests := []struct {
		path  string
		app   int
		mount string
	}{
		{"/app1/foo", 1, "/app1"},
		{"/app1", 1, "/app1"},
		{"/app1x", -1, ""},
		{"/app1/sub/x", 2, "/app1/sub"},
		{"/other/", 3, "/other"},
		{"/", -1, ""},
	}
	for _, tt := range tests {
		app, mount := matchMount(mounts, tt.path)
		if app != tt.app || mount != tt.mount {
			t.Errorf("matchMount(%q) = %d, %q; want %d, %q", tt.path, app, mount, tt.app, tt.mount)
		}
	}
}

func TestHeadComplete(t *testing.T) {
	tests := []struct {
		proto string
		buf   string
		want  bool
	}{
		{"http", "GET / HTTP/1.1\r\nHost: x\r\n", false},
		{"http", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", true},
		{"http11", "GET / HTTP/1.1\r\n\r\nbody", true},
		{"uwsgi", "\x00\x05", false},
		{"uwsgi", "\x00\x05\x00\x00abcd", false},
		{"uwsgi", "\x00\x05\x00\x00abcde", true},
		{"uwsgi", "\x00\xff\xff\x00", true}, // larger than buffer-size: complete, the core refuses it
	}
	for _, tt := range tests {
		if got := headComplete(tt.proto, []byte(tt.buf), 4096); got != tt.want {
			t.Errorf("headComplete(%s, %q) = %v, want %v", tt.proto, tt.buf, got, tt.want)
		}
	}
}

func TestAppendIP(t *testing.T) {
	if got := string(appendIPv4(nil, []byte{127, 0, 0, 1})); got != "127.0.0.1" {
		t.Errorf("appendIPv4 = %q", got)
	}
}

func TestHTTPSOn(t *testing.T) { // PY-22
	for v, want := range map[string]bool{"on": true, "ON": true, "1": true, "off": false, "": false, "yes": false} {
		if on([]byte(v)) != want {
			t.Errorf("on(%q) != %v", v, want)
		}
	}
}
