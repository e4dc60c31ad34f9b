package logging

import (
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gosgi/gosgi/internal/proto"
	"github.com/gosgi/gosgi/internal/realuwsgi"
)

// block builds a uwsgi variable block from key, value pairs.
func block(kv ...string) []byte {
	var b []byte
	for _, s := range kv {
		b = append(b, byte(len(s)), byte(len(s)>>8))
		b = append(b, s...)
	}
	return b
}

var bar = []byte("bar")

// lg12Line is the request of the LG-12 example.
func lg12Line() (*RequestLine, *RequestExtra) {
	blk := block("REQUEST_METHOD", "GET", "REQUEST_URI", "/a?b=c", "PATH_INFO", "/a", "SERVER_PROTOCOL", "HTTP/1.1",
		"SERVER_NAME", "vm", "HTTP_HOST", "127.0.0.1:9261", "CONTENT_LENGTH", "", "HTTP_X_REQUEST_ID", "abc")
	l := &RequestLine{Pid: 2101, Addr: []byte("127.0.0.1"), Vars: 16, VarsBytes: len(blk),
		Start:  time.Date(2026, 11, 21, 1, 59, 24, 420285000, time.Local),
		Method: []byte("GET"), URI: []byte("/a?b=c"), Proto: []byte("HTTP/1.1"), Status: 200,
		Size: 1141, Headers: 1, HeaderBytes: 45, Duration: 3000268 * time.Microsecond, Switches: 1, Core: 1}
	x := &RequestExtra{Block: blk, WorkerID: 2, RSS: 11878400, VSZ: 145268736, ReadErrors: 1, WriteErrors: 2,
		Now: time.Unix(1795232999, 0),
		LogVar: func(name string) []byte {
			if name == "foo" {
				return bar
			}
			return nil
		},
		Metric: func(name string) (int64, bool) { return 42, name == "worker.1.requests" }}
	return l, x
}

// TestLogFormatFields: every LG-10 field, "-" for empty ones (LG-11).
func TestLogFormatFields(t *testing.T) {
	l, x := lg12Line()
	zone := l.Start.Format("-0700")
	tests := []struct {
		format string
		want   string
	}{
		{`%(addr) - %(user) [%(ltime)] "%(method) %(uri) %(proto)" %(status) %(size) "%(referer)" "%(uagent)"`,
			`127.0.0.1 - - [21/Nov/2026:01:59:24 ` + zone + `] "GET /a?b=c HTTP/1.1" 200 1186 "-" "-"`}, // LG-12
		{"%(host)", "127.0.0.1:9261"},
		{"%(rsize) %(hsize) %(size) %(headers)", "1141 45 1186 1"},
		{"%(cl)", "0"}, // empty CONTENT_LENGTH prints 0, as uWSGI does
		{"%(micros) %(msecs) %(secs)", "3000268 3000 3.000268"},
		{"%(tmsecs) %(tmicros) %(time)", strconv.FormatInt(l.Start.UnixMilli(), 10) + " " +
			strconv.FormatInt(l.Start.UnixMicro(), 10) + " " + strconv.FormatInt(l.Start.Unix(), 10)},
		{"%(epoch)", "1795232999"},
		{"%(ctime)", "Sat Nov 21 01:59:24 2026"},
		{"%(ftime)", "21/Nov/2026:01:59:24 " + zone},
		{"%(pid) %(wid) %(core) %(switches)", "2101 2 1 1"},
		{"%(vars) %(pktsize) %(modifier1) %(modifier2)", "16 " + strconv.Itoa(len(x.Block)) + " 0 0"},
		{"%(vsz) %(rss) %(vszM) %(rssM)", "145268736 11878400 138 11"},
		{"%(werr) %(rerr) %(ioerr)", "2 1 3"},
		{"%(var.PATH_INFO) %(var.HTTP_X_REQUEST_ID) %(var.NOPE) %(var.CONTENT_LENGTH)", "/a abc - -"},
		{"%(metric.worker.1.requests) %(metric.nope)", "42 -"},
		{"%(foo) %(unset) %()", "bar - -"},
		{"no fields at all", "no fields at all"},
		{"100%% %s %(unclosed", "100%% %s %(unclosed"},
		{"%(uri)%(uri)", "/a?b=c/a?b=c"},
		{"%(x%(pid) %(%(pid)) %%(pid)", "%(x2101 %(2101) %2101"}, // a later "%(" starts the field (uWSGI garbles the text before it)
		{"", ""},
	}
	for _, tc := range tests {
		t.Run(tc.format, func(t *testing.T) {
			got := string(CompileLogFormat(tc.format, LogFormatOptions{}).Append(nil, l, x))
			if got != tc.want+"\n" {
				t.Errorf("\n got %q\nwant %q", got, tc.want+"\n")
			}
		})
	}
}

func TestLogFormatOptionsAndFallbacks(t *testing.T) {
	l, x := lg12Line()
	f := CompileLogFormat("%(ftime)", LogFormatOptions{Strftime: "%Y-%m-%d %H:%M:%S", UseStrftime: true})
	if got := string(f.Append(nil, l, x)); got != "2026-11-21 01:59:24\n" {
		t.Errorf("logformat-strftime: %q", got)
	}
	// Without HTTP_HOST, %(host) is SERVER_NAME; with no extra at all
	// every block field is "-".
	x.Block = block("SERVER_NAME", "vm", "HTTP_USER_AGENT", "curl/8", "HTTP_REFERER", "http://r/", "CONTENT_LENGTH", "5")
	f = CompileLogFormat("%(host) %(uagent) %(referer) %(cl)", LogFormatOptions{})
	if got := string(f.Append(nil, l, x)); got != "vm curl/8 http://r/ 5\n" {
		t.Errorf("block fields: %q", got)
	}
	if got := string(f.Append(nil, l, nil)); got != "- - - 0\n" {
		t.Errorf("nil extra: %q", got)
	}
	// A truncated block is read up to where it breaks.
	x.Block = block("SERVER_NAME", "vm")[:5]
	if got := string(f.Append(nil, l, x)); got != "- - - 0\n" {
		t.Errorf("truncated block: %q", got)
	}
}

// TestLogFormatNoAllocs: the steady state of the request path allocates
// nothing.
func TestLogFormatNoAllocs(t *testing.T) {
	l, x := lg12Line()
	f := CompileLogFormat(`%(addr) - %(user) [%(ltime)] "%(method) %(uri) %(proto)" %(status) %(size) "%(referer)" "%(uagent)" %(secs) %(ctime) %(ftime) %(var.HTTP_X_REQUEST_ID) %(foo) %(metric.worker.1.requests) %(host) %(cl) %(epoch)`, LogFormatOptions{})
	buf := make([]byte, 0, 1024)
	if n := testing.AllocsPerRun(200, func() { buf = f.Append(buf[:0], l, x) }); n != 0 {
		t.Errorf("%v allocations per line", n)
	}
}

func BenchmarkLogFormat(b *testing.B) {
	l, x := lg12Line()
	f := CompileLogFormat(`%(addr) - %(user) [%(ltime)] "%(method) %(uri) %(proto)" %(status) %(size) "%(referer)" "%(uagent)"`, LogFormatOptions{})
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = f.Append(buf[:0], l, x)
	}
}

// FuzzCompileLogFormat: any format compiles, formats without panicking,
// keeps text outside %(...) intact and ends with one newline.
func FuzzCompileLogFormat(f *testing.F) {
	for _, s := range []string{"", "%(", "%()", "%(uri", "a%(uri)b", "%(var.)", "%(metric.)", "%%((", "%(var.X)%(ltime)"} {
		f.Add(s)
	}
	l, x := lg12Line()
	f.Fuzz(func(t *testing.T, format string) {
		out := CompileLogFormat(format, LogFormatOptions{}).Append(nil, l, x)
		if len(out) == 0 || out[len(out)-1] != '\n' {
			t.Fatalf("%q: no final newline: %q", format, out)
		}
		if !strings.Contains(format, "%(") && string(out) != format+"\n" {
			t.Fatalf("%q: literal changed to %q", format, out)
		}
	})
}

// FuzzLookupVar: malformed blocks never panic.
func FuzzLookupVar(f *testing.F) {
	f.Add(block("A", "1", "B", "2"), "B")
	f.Add([]byte{0xff, 0xff, 'x'}, "x")
	f.Fuzz(func(t *testing.T, blk []byte, key string) {
		v := lookupVar(blk, key)
		if len(v) > len(blk) {
			t.Fatalf("value longer than block")
		}
	})
}

// TestLogFormatMatchesUWSGI runs the real uWSGI with a logformat using
// every field (LG-10..LG-12) and checks that Append, fed with the same
// request, writes the very same line. Only what the clock and the kernel
// decide (pid, request start, duration, current time) is read from
// uWSGI's line.
func TestLogFormatMatchesUWSGI(t *testing.T) {
	app, err := filepath.Abs("testdata/app.py")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, port, _ := net.SplitHostPort(addr)
	const format = `LF %(addr) - %(user) [%(ltime)] "%(method) %(uri) %(proto)" %(status) %(size) "%(referer)" "%(uagent)" ` +
		`host=%(host) rs=%(rsize) hs=%(hsize) cl=%(cl) ms=%(msecs) s=%(secs) tm=%(tmsecs) t=%(time) ct=%(ctime) ` +
		`ft=%(ftime) wid=%(wid) core=%(core) sw=%(switches) vars=%(vars) pkt=%(pktsize) m1=%(modifier1) ` +
		`m2=%(modifier2) h=%(headers) vsz=%(vsz) rss=%(rss) vszM=%(vszM) rssM=%(rssM) werr=%(werr) rerr=%(rerr) ` +
		`ioerr=%(ioerr) pi=%(var.PATH_INFO) xr=%(var.HTTP_X_REQUEST_ID) unk=%(nosuch) | ` +
		`pid=%(pid) tu=%(tmicros) mi=%(micros) e=%(epoch)`
	ini := filepath.Join(t.TempDir(), "lf.ini")
	conf := "[uwsgi]\nplugin = python3\nhttp-socket = " + addr + "\nwsgi-file = " + app + "\nlogformat = " + format + "\n"
	if err := os.WriteFile(ini, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	stderr := realuwsgi.Start(t, 1, "--ini", ini)
	deadline := time.Now().Add(15 * time.Second)
	hostname, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	opts := proto.HTTPOptions{ServerName: hostname, ServerPort: port, RemoteAddr: "127.0.0.1"}
	requests := []string{
		"GET /a?b=c HTTP/1.1\r\nHost: " + addr + "\r\nUser-Agent: ua/1\r\nReferer: http://ref/\r\nX-Request-Id: abc\r\n\r\n",
		"POST /p HTTP/1.0\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello",
	}
	tail := regexp.MustCompile(`(?m)^LF .* \| pid=(\d+) tu=(\d+) mi=(\d+) e=(\d+)\n`)
	f := CompileLogFormat(format, LogFormatOptions{})
	for i, raw := range requests {
		resp := roundTrip(t, addr, raw)
		var r proto.Request
		_, blk, err := proto.ParseHTTP([]byte(raw), nil, &opts, &r)
		if err != nil {
			t.Fatalf("ParseHTTP: %v", err)
		}
		head, body, ok := strings.Cut(resp, "\r\n\r\n")
		if !ok {
			t.Fatalf("response %q", resp)
		}
		status, _ := strconv.Atoi(strings.Fields(head)[1])
		l := RequestLine{Addr: r.RemoteAddr, User: r.RemoteUser, Vars: 2 * r.Pairs, VarsBytes: len(blk),
			Method: r.Method, URI: r.URI, Proto: r.Proto, Status: status, Size: int64(len(body)),
			Headers: strings.Count(head, "\r\n"), HeaderBytes: len(head) + 4, Switches: 3}
		x := RequestExtra{Block: blk, WorkerID: 1}
		var m [][]string
		for {
			m = tail.FindAllStringSubmatch(stderr.Log(), -1)
			if len(m) > i {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no logformat line %d in:\n%s", i+1, stderr.Log())
			}
			time.Sleep(20 * time.Millisecond)
		}
		num := func(s string) int64 { n, _ := strconv.ParseInt(s, 10, 64); return n }
		l.Pid = int(num(m[i][1]))
		l.Start = time.UnixMicro(num(m[i][2]))
		l.Duration = time.Duration(num(m[i][3])) * time.Microsecond
		x.Now = time.Unix(num(m[i][4]), 0)
		if got := string(f.Append(nil, &l, &x)); got != m[i][0] {
			t.Errorf("request %d:\n gosgi: %q\n uwsgi: %q", i+1, got, m[i][0])
		}
	}
}

// TestAppendMemoryReport: the LG-4 example, and the prefix of the real
// uWSGI's request line with memory-report for its own figures.
func TestAppendMemoryReport(t *testing.T) {
	want := "{address space usage: 62267392 bytes/59MB} {rss usage: 11743232 bytes/11MB} "
	if got := string(AppendMemoryReport(nil, 62267392, 11743232)); got != want {
		t.Errorf("LG-4:\n got %q\nwant %q", got, want)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	stderr := realuwsgi.Start(t, 1, "--plugin", "python3", "--http-socket", addr, "--wsgi-file", "testdata/app.py", "--memory-report")
	deadline := time.Now().Add(15 * time.Second)
	roundTrip(t, addr, "GET / HTTP/1.0\r\n\r\n")
	re := regexp.MustCompile(`(?m)^(\{address space usage: (\d+) bytes/\d+MB\} \{rss usage: (\d+) bytes/\d+MB\} )\[pid: `)
	var m []string
	for m = re.FindStringSubmatch(stderr.Log()); m == nil; m = re.FindStringSubmatch(stderr.Log()) {
		if time.Now().After(deadline) {
			t.Fatalf("no memory-report line in:\n%s", stderr.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
	vsz, _ := strconv.ParseInt(m[2], 10, 64)
	rss, _ := strconv.ParseInt(m[3], 10, 64)
	if got := string(AppendMemoryReport(nil, vsz, rss)); got != m[1] {
		t.Errorf("\n gosgi: %q\n uwsgi: %q", got, m[1])
	}
}
