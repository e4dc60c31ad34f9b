package main

import (
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestParseConfigs(t *testing.T) {
	tests := []struct {
		in      string
		want    []Config
		wantErr string
	}{
		{"http-socket:hello:2:1", []Config{{modeHTTPSocket, "hello", 2, 1, 50}}, ""},
		{"uwsgi-nginx:flask:4:2:100, http-router:sleep:1:8", []Config{{modeNginx, "flask", 4, 2, 100}, {modeRouter, "sleep", 1, 8, 50}}, ""},
		{"  ", nil, ""},
		{"http-socket:hello:2", nil, "want MODE:APP"},
		{"fastcgi:hello:2:1", nil, "unknown mode"},
		{"http-socket:django:2:1", nil, "unknown app"},
		{"http-socket:hello:0:1", nil, "field 3"},
		{"http-socket:hello:2:x", nil, "field 4"},
		{"http-socket:hello:2:1:1", nil, "at least 2 connections"},
		{"http-socket:hello:2:1:1:1", nil, "want MODE:APP"},
	}
	for _, tt := range tests {
		got, err := ParseConfigs(tt.in, 50)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseConfigs(%q) error = %v, want it to contain %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseConfigs(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
}

func TestConfigNameAndKeepAlive(t *testing.T) {
	c := Config{modeNginx, "flask", 2, 4, 50}
	if got, want := c.Name(), "uwsgi-nginx flask w2 t4 c50"; got != want {
		t.Errorf("Name = %q, want %q", got, want)
	}
	if got, want := c.Tag(), "uwsgi-nginx_flask_w2_t4_c50"; got != want {
		t.Errorf("Tag = %q, want %q", got, want)
	}
	for mode, want := range map[string]bool{modeNginx: true, modeHTTPSocket: false, modeRouter: false} {
		if got := (Config{Mode: mode}).keepAlive(); got != want {
			t.Errorf("keepAlive(%s) = %v, want %v", mode, got, want)
		}
	}
}

func TestParseServers(t *testing.T) {
	tests := []struct {
		in      string
		want    []Server
		wantErr string
	}{
		{"uwsgi=/usr/bin/uwsgi gosgi=./bin/uwsgi", []Server{{"uwsgi", "/usr/bin/uwsgi"}, {"gosgi", "./bin/uwsgi"}}, ""},
		{"a=/x,b=/x", []Server{{"a", "/x"}, {"b", "/x"}}, ""},
		{"", nil, "no servers"},
		{"uwsgi", nil, "want NAME=BINARY"},
		{"=/usr/bin/uwsgi", nil, "want NAME=BINARY"},
		{"a=/x a=/y", nil, "used twice"},
		{"a|b=/x", nil, "must not contain"},
	}
	for _, tt := range tests {
		got, err := ParseServers(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseServers(%q) error = %v, want it to contain %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseServers(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
}

// The command line is the contract: both servers get exactly uWSGI's.
func TestServerArgs(t *testing.T) {
	tests := []struct {
		c    Config
		want string
	}{
		{Config{modeHTTPSocket, "hello", 2, 1, 50}, "--plugin python3 --master --processes 2 --http-socket 127.0.0.1:9 --wsgi-file /a/hello.py --disable-logging"},
		{Config{modeHTTPSocket, "sleep", 2, 4, 50}, "--plugin python3 --master --processes 2 --threads 4 --http-socket 127.0.0.1:9 --wsgi-file /a/hello.py --disable-logging"},
		{Config{modeNginx, "hello", 3, 1, 50}, "--plugin python3 --master --processes 3 --socket /t/app.sock --wsgi-file /a/hello.py --disable-logging"},
		{Config{modeRouter, "hello", 2, 1, 50}, "--plugin python3 --master --processes 2 --plugin http --http 127.0.0.1:9 --wsgi-file /a/hello.py --disable-logging"},
	}
	for _, tt := range tests {
		got := strings.Join(serverArgs(tt.c, "/a/hello.py", "127.0.0.1:9", "/t/app.sock"), " ")
		if got != tt.want {
			t.Errorf("serverArgs(%s)\n got %s\nwant %s", tt.c.Name(), got, tt.want)
		}
	}
}

func TestRotate(t *testing.T) {
	s := []Server{{Name: "a"}, {Name: "b"}, {Name: "c"}}
	for k, want := range []string{"abc", "bca", "cab", "abc"} {
		var got string
		for _, x := range rotate(s, k) {
			got += x.Name
		}
		if got != want {
			t.Errorf("rotate(%d) = %s, want %s", k, got, want)
		}
	}
}

func TestParseFlagsQuick(t *testing.T) {
	o, err := parseFlags([]string{"--quick", "--rounds", "2", "--servers", "a=/x b=/x"}, new(strings.Builder))
	if err != nil {
		t.Fatal(err)
	}
	if o.Rounds != 2 || o.Duration.Seconds() != 3 || o.ReloadFor.Seconds() != 6 || len(o.SlowConfigs) != 1 {
		t.Errorf("quick: rounds %d duration %v reload %v slow configs %d; want explicit rounds 2 kept, 3s, 6s, 1",
			o.Rounds, o.Duration, o.ReloadFor, len(o.SlowConfigs))
	}
	if !o.Parts["main"] || !o.Parts["slow"] || !o.Parts["reload"] {
		t.Errorf("default parts = %v", o.Parts)
	}
	for _, bad := range [][]string{{"--parts", "main,bogus"}, {"--rounds", "0"}, {"--duration", "500ms"}, {"stray"}, {"--configs", "x"}} {
		if _, err := parseFlags(bad, new(strings.Builder)); err == nil {
			t.Errorf("parseFlags(%q) succeeded, want an error", bad)
		}
	}
}

func FuzzParseConfigs(f *testing.F) {
	for _, s := range []string{"http-socket:hello:2:1", "uwsgi-nginx:flask:4:2:100,http-router:sleep:1:8", ":::", "a:b:c:d:e:f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cs, err := ParseConfigs(s, 50)
		if err != nil {
			return
		}
		for _, c := range cs {
			// Anything accepted must round-trip through its own spec.
			back, err := ParseConfigs(strings.Join([]string{c.Mode, c.App, strconv.Itoa(c.Workers), strconv.Itoa(c.Threads), strconv.Itoa(c.Conns)}, ":"), 1)
			if err != nil || len(back) != 1 || back[0] != c {
				t.Fatalf("config %+v from %q does not round-trip: %+v %v", c, s, back, err)
			}
		}
	})
}

func FuzzParseServers(f *testing.F) {
	for _, s := range []string{"uwsgi=/usr/bin/uwsgi gosgi=./bin/uwsgi", "a=b,a=c", "=", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ss, err := ParseServers(s)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, x := range ss {
			if x.Name == "" || x.Bin == "" || seen[x.Name] {
				t.Fatalf("ParseServers(%q) accepted %+v", s, ss)
			}
			seen[x.Name] = true
		}
	})
}
