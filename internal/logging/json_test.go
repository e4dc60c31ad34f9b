package logging

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestAppendRequestJSON(t *testing.T) {
	start := time.Date(2026, 11, 21, 6, 30, 28, 123456789, time.UTC)
	base := RequestLine{Pid: 42, App: 0, AppRequests: 3, Total: 7, Addr: []byte("10.0.0.1"), User: []byte("bob"),
		Vars: 24, VarsBytes: 250, Start: start, Method: []byte("GET"), URI: []byte("/a?b=c"), Size: 14,
		Duration: 1500 * time.Microsecond, Proto: []byte("HTTP/1.1"), Status: 200, Headers: 2, HeaderBytes: 65,
		Switches: 1, Core: 3}
	cases := []struct {
		name string
		edit func(l *RequestLine)
		want string
	}{
		{"plain", func(*RequestLine) {},
			`{"pid":42,"worker":2,"app":0,"app_requests":3,"requests":7,"addr":"10.0.0.1","user":"bob","vars":24,` +
				`"vars_bytes":250,"time":"2026-11-21T06:30:28.123456Z","method":"GET","uri":"/a?b=c","size":14,` +
				`"msecs":1,"micros":1500,"via":"","proto":"HTTP/1.1","status":200,"headers":2,"headers_bytes":65,` +
				`"switches":1,"core":3}` + "\n"},
		{"no app", func(l *RequestLine) { l.App, l.AppRequests = -1, 9 }, `"app":-1,"app_requests":-1,`},
		{"escapes", func(l *RequestLine) { l.URI = []byte("/\"q\"\\\x01\t\n") }, `"uri":"/\"q\"\\\u0001\t\n"`},
		{"not utf-8", func(l *RequestLine) { l.URI = []byte("/\xff\xfeé") }, `"uri":"/\ufffd\ufffdé"`},
		{"via", func(l *RequestLine) { l.Via = "sendfile" }, `"via":"sendfile"`},
		{"zone", func(l *RequestLine) { l.Start = start.In(time.FixedZone("x", 3600)) }, `"time":"2026-11-21T07:30:28.123456+01:00"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := base
			c.edit(&l)
			got := string(AppendRequestJSON([]byte("prefix:"), &l, 2))
			got = strings.TrimPrefix(got, "prefix:")
			if !strings.Contains(got, c.want) {
				t.Errorf("got  %s\nwant it to hold %s", got, c.want)
			}
			if !strings.HasSuffix(got, "}\n") || strings.Count(got, "\n") != 1 {
				t.Errorf("not one line: %q", got)
			}
			var v map[string]any
			if err := json.Unmarshal([]byte(got), &v); err != nil {
				t.Errorf("invalid JSON: %v\n%s", err, got)
			}
		})
	}
}
