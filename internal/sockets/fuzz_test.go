package sockets

import (
	"strings"
	"testing"
)

func FuzzParseName(f *testing.F) {
	for _, s := range []string{"127.0.0.1:9101", ":80", "[::]:80", "/run/a.sock", "@x", "=0", "*:80", "[", "a:b:c", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		a, err := parseName(name, false)
		if err != nil {
			return
		}
		switch a.network {
		case "tcp", "tcp6":
			if a.port < 0 || a.port > 65535 || !strings.Contains(name, ":") {
				t.Fatalf("%q -> %+v", name, a)
			}
		case "unix":
			if a.path != name || strings.Contains(name, ":") {
				t.Fatalf("%q -> %+v", name, a)
			}
		case "abstract":
			if "@"+a.path != name {
				t.Fatalf("%q -> %+v", name, a)
			}
		default:
			t.Fatalf("%q -> network %q", name, a.network)
		}
		_ = ServerPort(name)
	})
}

// decodeEntry must read back what Encode writes, for any name.
func FuzzEncodeDecode(f *testing.F) {
	f.Add("127.0.0.1:9101", "uwsgi", 3, 0, true)
	f.Add("[::]:80,x:y", "http", 10, 7, false)
	f.Fuzz(func(t *testing.T, name, proto string, fd, index int, shared bool) {
		if fd < 0 || index < 0 || strings.ContainsAny(proto, ":,") {
			return
		}
		l := &Listener{Name: name, Proto: proto, FD: fd, Index: index, Network: "tcp", Shared: shared}
		enc := Encode([]*Listener{l})
		if strings.Count(enc, ",") != 0 {
			t.Fatalf("entry %q contains a separator", enc)
		}
		got, err := decodeEntry(enc)
		if err != nil {
			t.Fatalf("%q: %v", enc, err)
		}
		if got.Name != name || got.Proto != proto || got.FD != fd || got.Index != index || got.Shared != shared || got.Network != "tcp" {
			t.Fatalf("%+v -> %q -> %+v", l, enc, got)
		}
	})
}
