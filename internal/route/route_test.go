package route

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gosgi/gosgi/internal/proto"
)

func parse(t testing.TB, head string) (*proto.Request, []byte) {
	t.Helper()
	var r proto.Request
	o := proto.HTTPOptions{ServerName: "h", ServerPort: "80", RemoteAddr: "127.0.0.1", BufferSize: 8192}
	_, block, err := proto.ParseHTTP([]byte(head), nil, &o, &r)
	if err != nil {
		t.Fatalf("parse %q: %v", head, err)
	}
	return &r, block
}

// The rule set and replies below were observed on uWSGI 2.0.21 with the
// router_redirect, router_rewrite and router_static plugins (OP-198).
var observedRules = []Option{
	{"route", `^/old/(.*)$ redirect:/new/$1`},
	{"route", `^/perm redirect-301:/p2`},
	{"route", `^/rw/(.*)$ rewrite:/rewritten/$1?x=1`},
	{"route", `^/forbid return:403`},
	{"route", `^/brk break:404 Gone Away`},
	{"route", `^/hdr addheader:X-Foo: bar`},
	{"route", `^/hdr log:hdr route for ${PATH_INFO}`},
	{"route-host", `^evil\. break:403`},
	{"route-if", `equal:${PATH_INFO};/eq return:418`},
	{"route", `^/st static:/srv/alpha.txt`},
	{"route", `^/lbl goto:mylabel`},
	{"route", `^/lbl return:500`},
	{"route-label", `mylabel`},
	{"route", `^/lbl return:201`},
	{"route", `^/last last:`},
	{"route", `^/last return:500`},
	{"route-uri", `\?q=1 return:202`},
}

func TestMessages(t *testing.T) {
	tb, err := Compile(observedRules)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"[rule: 0] subject: path_info regexp: ^/old/(.*)$ action: redirect:/new/$1",
		"[rule: 7] subject: http_host regexp: ^evil\\. action: break:403",
		"[rule: 8] subject: ${PATH_INFO};/eq func: equal action: return:418",
		"[rule: 12] label: mylabel",
		"[rule: 16] subject: request_uri regexp: \\?q=1 action: return:202",
	}
	msgs := strings.Join(tb.Messages(), "\n")
	for _, w := range want {
		if !strings.Contains(msgs, w+"\n") && !strings.HasSuffix(msgs, w) {
			t.Errorf("messages lack %q:\n%s", w, msgs)
		}
	}
	if tb.Len() != len(observedRules) {
		t.Errorf("Len %d", tb.Len())
	}
}

func TestEvalObserved(t *testing.T) {
	tb, err := Compile(observedRules)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, req string
		outcome   Outcome
		reply     string // direct response bytes
		headers   int
		headBytes int
		check     func(t *testing.T, d *Decision)
	}{
		{name: "redirect with capture", req: "GET /old/a/b?z=2 HTTP/1.1\r\n\r\n", outcome: Respond,
			reply: "HTTP/1.1 302 Found\r\nLocation: /new/a/b\r\n\r\nMoved", headers: 1, headBytes: 42},
		{name: "redirect keeps the protocol", req: "GET /old/x HTTP/1.0\r\n\r\n", outcome: Respond,
			reply: "HTTP/1.0 302 Found\r\nLocation: /new/x\r\n\r\nMoved", headers: 1, headBytes: 40},
		{name: "permanent redirect", req: "GET /perm HTTP/1.1\r\n\r\n", outcome: Respond,
			reply: "HTTP/1.1 301 Moved Permanently\r\nLocation: /p2\r\n\r\nMoved Permanently", headers: 1, headBytes: 49},
		{name: "return", req: "GET /forbid HTTP/1.1\r\n\r\n", outcome: Respond,
			reply: "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 9\r\n\r\nForbidden", headers: 2, headBytes: 71},
		{name: "break with reason", req: "GET /brk HTTP/1.1\r\n\r\n", outcome: Respond,
			reply: "HTTP/1.1 404 Gone Away\r\nConnection: close\r\nContent-Type: text/plain\r\n\r\n", headers: 2, headBytes: 71},
		{name: "route-host", req: "GET / HTTP/1.1\r\nHost: evil.com\r\n\r\n", outcome: Respond,
			reply: "HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Type: text/plain\r\n\r\n", headers: 2, headBytes: 71},
		{name: "route-if equal", req: "GET /eq HTTP/1.1\r\n\r\n", outcome: Respond,
			reply: "HTTP/1.1 418 I'm a teapot\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n\r\nI'm a teapot", headers: 2, headBytes: 75},
		{name: "goto label", req: "GET /lbl HTTP/1.1\r\n\r\n", outcome: Respond,
			reply: "HTTP/1.1 201 Created\r\nContent-Type: text/plain\r\nContent-Length: 7\r\n\r\nCreated", headers: 2, headBytes: 69},
		{name: "route-uri", req: "GET /zz?q=1 HTTP/1.1\r\n\r\n", outcome: Respond,
			reply: "HTTP/1.1 202 Accepted\r\nContent-Type: text/plain\r\nContent-Length: 8\r\n\r\nAccepted", headers: 2, headBytes: 70},
		{name: "last stops before return", req: "GET /last HTTP/1.1\r\n\r\n", outcome: App},
		{name: "rewrite", req: "GET /rw/zz?y=2 HTTP/1.1\r\n\r\n", outcome: App, check: func(t *testing.T, d *Decision) {
			if !d.Rewritten || d.PathInfo != "/rewritten/zz" || !d.HasQuery || d.Query != "x=1&y=2" {
				t.Errorf("rewrite %+v", d)
			}
		}},
		{name: "addheader and log", req: "GET /hdr HTTP/1.1\r\n\r\n", outcome: App, check: func(t *testing.T, d *Decision) {
			if len(d.AddHeaders) != 1 || d.AddHeaders[0] != "X-Foo: bar" {
				t.Errorf("headers %q", d.AddHeaders)
			}
			if len(d.Logs) != 1 || d.Logs[0] != "hdr route for /hdr" {
				t.Errorf("logs %q", d.Logs)
			}
		}},
		{name: "static", req: "GET /st HTTP/1.1\r\n\r\n", outcome: Static, check: func(t *testing.T, d *Decision) {
			if d.File != "/srv/alpha.txt" {
				t.Errorf("file %q", d.File)
			}
		}},
		{name: "no rule", req: "GET /plain HTTP/1.1\r\n\r\n", outcome: App, check: func(t *testing.T, d *Decision) {
			if d.Rewritten || d.AddHeaders != nil || d.Logs != nil || d.NoLog {
				t.Errorf("decision %+v", d)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, block := parse(t, c.req)
			d := tb.Eval(r, block)
			if d.Outcome != c.outcome {
				t.Fatalf("outcome %v, want %v (%+v)", d.Outcome, c.outcome, d)
			}
			if c.reply != "" {
				out, h, hb, bb := d.AppendResponse(nil, r.Proto)
				if string(out) != c.reply || h != c.headers || hb != c.headBytes || bb != len(c.reply)-c.headBytes {
					t.Errorf("reply %q (%d headers, %d+%d bytes), want %q (%d, %d)", out, h, hb, bb, c.reply, c.headers, c.headBytes)
				}
			}
			if c.check != nil {
				c.check(t, &d)
			}
		})
	}
}

func TestAppendRewrite(t *testing.T) { // the log line counts the two extra pairs
	tb, err := Compile([]Option{{"route", `^/rw/(.*)$ rewrite:/rewritten/$1?x=1`}})
	if err != nil {
		t.Fatal(err)
	}
	r, block := parse(t, "GET /rw/zz?y=2 HTTP/1.1\r\n\r\n")
	d := tb.Eval(r, block)
	nb := d.AppendRewrite(append([]byte(nil), block...))
	var r2 proto.Request
	if err := proto.ParseVars(nb, 0, &r2); err != nil {
		t.Fatal(err)
	}
	if string(r2.PathInfo) != "/rewritten/zz" || string(r2.Query) != "x=1&y=2" || r2.Pairs != r.Pairs+2 {
		t.Errorf("rewritten block: PATH_INFO %q QUERY_STRING %q pairs %d (was %d)", r2.PathInfo, r2.Query, r2.Pairs, r.Pairs)
	}
	if string(r2.URI) != "/rw/zz?y=2" {
		t.Errorf("REQUEST_URI changed: %q", r2.URI)
	}
}

func TestConditions(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f.txt")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		opt  Option
		req  string
		want bool
	}{
		{Option{"route-if", "startswith:${PATH_INFO};/api return:200"}, "GET /api/x HTTP/1.1\r\n\r\n", true},
		{Option{"route-if", "startswith:${PATH_INFO};/api return:200"}, "GET /web HTTP/1.1\r\n\r\n", false},
		{Option{"route-if", "endswith:${PATH_INFO};.php return:200"}, "GET /x.php HTTP/1.1\r\n\r\n", true},
		{Option{"route-if", "contains:${HTTP_USER_AGENT};bot return:200"}, "GET / HTTP/1.1\r\nUser-Agent: a bot b\r\n\r\n", true},
		{Option{"route-if-not", "contains:${HTTP_USER_AGENT};bot return:200"}, "GET / HTTP/1.1\r\nUser-Agent: curl\r\n\r\n", true},
		{Option{"route-if", "empty:${QUERY_STRING} return:200"}, "GET / HTTP/1.1\r\n\r\n", true},
		{Option{"route-if", "empty:${QUERY_STRING} return:200"}, "GET /?a HTTP/1.1\r\n\r\n", false},
		{Option{"route-if", "exists:" + dir + "${PATH_INFO} return:200"}, "GET /f.txt HTTP/1.1\r\n\r\n", true},
		{Option{"route-if", "isfile:" + dir + "${PATH_INFO} return:200"}, "GET / HTTP/1.1\r\n\r\n", false},
		{Option{"route-if", "isdir:" + dir + "${PATH_INFO} return:200"}, "GET / HTTP/1.1\r\n\r\n", true},
		{Option{"route-if", "regexp:${HTTP_HOST};^www\\.(.*) redirect:https://$1/"}, "GET / HTTP/1.1\r\nHost: www.example.com\r\n\r\n", true},
		{Option{"route-user-agent", "curl return:200"}, "GET / HTTP/1.1\r\nUser-Agent: curl/8\r\n\r\n", true},
		{Option{"route-referer", "spam return:200"}, "GET / HTTP/1.1\r\nReferer: http://spam/\r\n\r\n", true},
		{Option{"route-qs", "^debug return:200"}, "GET /?debug=1 HTTP/1.1\r\n\r\n", true},
		{Option{"route-remote-addr", `^127\. return:200`}, "GET / HTTP/1.1\r\n\r\n", true},
		{Option{"route-run", "return:200"}, "GET / HTTP/1.1\r\n\r\n", true},
	}
	for _, c := range cases {
		tb, err := Compile([]Option{c.opt})
		if err != nil {
			t.Fatalf("%v: %v", c.opt, err)
		}
		r, block := parse(t, c.req)
		d := tb.Eval(r, block)
		if got := d.Outcome == Respond; got != c.want {
			t.Errorf("%v on %q: matched %v", c.opt, c.req, got)
		}
	}
	// The regexp condition's captures feed the action.
	tb, _ := Compile([]Option{{"route-if", "regexp:${HTTP_HOST};^www\\.(.*) redirect:https://$1/"}})
	r, block := parse(t, "GET / HTTP/1.1\r\nHost: www.example.com\r\n\r\n")
	d := tb.Eval(r, block)
	if out, _, _, _ := d.AppendResponse(nil, r.Proto); !strings.Contains(string(out), "Location: https://example.com/\r\n") {
		t.Errorf("redirect %q", out)
	}
}

func TestRewriteQueryString(t *testing.T) { // observed on uWSGI 2.0.21
	tb, err := Compile([]Option{{"route", "^/rw/(.*)$ rewrite:/$1"}, {"route", "^/rq/(.*)$ rewrite:/$1?a=b"}})
	if err != nil {
		t.Fatal(err)
	}
	for head, want := range map[string][2]string{
		"GET /rw/x?q=1 HTTP/1.1\r\n\r\n": {"/x", "q=1"},
		"GET /rq/y?q=1 HTTP/1.1\r\n\r\n": {"/y", "a=b&q=1"},
		"GET /rw/z HTTP/1.1\r\n\r\n":     {"/z", ""},
		"GET /rq/w HTTP/1.1\r\n\r\n":     {"/w", "a=b"},
	} {
		r, block := parse(t, head)
		d := tb.Eval(r, block)
		if !d.Rewritten || !d.HasQuery || d.PathInfo != want[0] || d.Query != want[1] {
			t.Errorf("%q: %q %q, want %q", head, d.PathInfo, d.Query, want)
		}
	}
}

func TestRewriteThenMatch(t *testing.T) {
	tb, err := Compile([]Option{
		{"route", "^/a$ rewrite:/b"},
		{"route", "^/b$ addheader:X-Seen: b"},
		{"route", "^/b$ donotlog:"},
		{"route", "^/c$ rewrite-last:/d"},
		{"route", "^/d$ return:500"},
		{"route", "^/loop$ goto:top"},
		{"route-label", "top"},
		{"route", "^/loop$ goto:top"},
	})
	if err != nil {
		t.Fatal(err)
	}
	r, block := parse(t, "GET /a HTTP/1.1\r\n\r\n")
	if d := tb.Eval(r, block); d.PathInfo != "/b" || len(d.AddHeaders) != 1 || !d.NoLog {
		t.Errorf("rewrite then match: %+v", d)
	}
	r, block = parse(t, "GET /c HTTP/1.1\r\n\r\n")
	if d := tb.Eval(r, block); d.Outcome != App || d.PathInfo != "/d" {
		t.Errorf("rewrite-last: %+v", d)
	}
	r, block = parse(t, "GET /loop HTTP/1.1\r\n\r\n")
	if d := tb.Eval(r, block); d.Outcome != App { // bounded, not a hang
		t.Errorf("goto loop: %+v", d)
	}
}

func TestBreakWithoutStatus(t *testing.T) {
	tb, err := Compile([]Option{{"route", "^/x break:"}})
	if err != nil {
		t.Fatal(err)
	}
	r, block := parse(t, "GET /x HTTP/1.1\r\n\r\n")
	d := tb.Eval(r, block)
	if out, h, _, _ := d.AppendResponse(nil, r.Proto); d.Outcome != Respond || len(out) != 0 || h != 0 || d.Status != 500 {
		t.Errorf("break: %+v %q", d, out)
	}
}

func TestCompileErrors(t *testing.T) {
	for _, o := range []Option{
		{"route", "^/x"},
		{"route", "([ return:200"},
		{"route", "^/x uwsgi:127.0.0.1:3031,0,0"},
		{"route", "^/x return:abc"},
		{"route", "^/x redirect:"},
		{"route", "^/x goto:nowhere"},
		{"route-if", "nosuchfunc:a return:200"},
		{"route-if", "equal:a;b"},
		{"route-if", "regexp:${PATH_INFO};([ return:200"},
		{"route-if", "regexp:nosemicolon return:200"},
		{"route-foo", "^/ return:200"},
		{"route-run", "cache:key=x"},
	} {
		if _, err := Compile([]Option{o}); err == nil {
			t.Errorf("%v: no error", o)
		}
	}
}

func TestEvalNoMatchDoesNotAllocate(t *testing.T) {
	tb, err := Compile([]Option{
		{"route", `^/old/(.*)$ redirect:/new/$1`},
		{"route-host", `^evil\. break:403`},
		{"route-uri", `\?debug return:403`},
		{"route-user-agent", `BadBot return:403`},
	})
	if err != nil {
		t.Fatal(err)
	}
	r, block := parse(t, "GET /page?x=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl\r\n\r\n")
	if n := testing.AllocsPerRun(100, func() { tb.Eval(r, block) }); n != 0 && !raceEnabled {
		t.Errorf("%v allocations per request without a match", n)
	}
}

func FuzzCompile(f *testing.F) {
	for _, o := range observedRules {
		f.Add(o.Name, o.Value, "GET /old/a?q=1 HTTP/1.1\r\nHost: evil.x\r\n\r\n")
	}
	f.Fuzz(func(t *testing.T, name, value, head string) {
		tb, err := Compile([]Option{{name, value}})
		if err != nil {
			return
		}
		var r proto.Request
		o := proto.HTTPOptions{BufferSize: 8192}
		_, block, err := proto.ParseHTTP([]byte(head), nil, &o, &r)
		if err != nil {
			return
		}
		d := tb.Eval(&r, block)
		out, h, hb, bb := d.AppendResponse(nil, r.Proto)
		if hb+bb != len(out) || (len(out) > 0) != (h > 0) {
			t.Fatalf("inconsistent response figures: %q %d %d %d", out, h, hb, bb)
		}
	})
}

func TestNames(t *testing.T) {
	for _, n := range Names {
		if !IsRouteOption(n) {
			t.Errorf("%s", n)
		}
		if n == "route-label" || n == "route-run" || n == "route-if" || n == "route-if-not" {
			continue
		}
		if _, ok := subjects[n]; !ok {
			t.Errorf("%s has no subject", n)
		}
	}
	if IsRouteOption("static-map") {
		t.Errorf("static-map is not a routing option")
	}
}
