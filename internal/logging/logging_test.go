package logging

import (
	"bytes"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// The golden lines are the LG-1 and LG-3 examples of the spec, observed on
// uWSGI 2.0.21.
func TestAppendRequestLineGolden(t *testing.T) {
	tests := []struct {
		name string
		l    RequestLine
		want string
	}{
		{
			name: "LG-1 default line",
			l: RequestLine{Pid: 2344, App: 0, AppRequests: 1, Total: 1, Addr: []byte("127.0.0.1"),
				Vars: 26, VarsBytes: 293, Start: time.Date(2026, 11, 21, 1, 55, 55, 0, time.Local),
				Method: []byte("GET"), URI: []byte("/foo/bar?x=1&y=2"), Size: 1187, Duration: 900 * time.Microsecond,
				Proto: []byte("HTTP/1.1"), Status: 200, Headers: 2, HeaderBytes: 64, Switches: 1},
			want: "[pid: 2344|app: 0|req: 1/1] 127.0.0.1 () {26 vars in 293 bytes} [Sat Nov 21 01:55:55 2026] GET /foo/bar?x=1&y=2 => generated 1187 bytes in 0 msecs (HTTP/1.1 200) 2 headers in 64 bytes (1 switches on core 0)\n",
		},
		{
			name: "LG-3 offloaded static file, no app",
			l: RequestLine{Pid: 18684, App: -1, AppRequests: 7, Total: 1, Addr: []byte("127.0.0.1"),
				Vars: 22, VarsBytes: 243, Start: time.Date(2026, 11, 21, 2, 5, 25, 0, time.Local),
				Method: []byte("GET"), URI: []byte("/static/index.html"), Size: 13, Via: "offload",
				Proto: []byte("HTTP/1.0"), Status: 200, Headers: 3, HeaderBytes: 110},
			want: "[pid: 18684|app: -1|req: -1/1] 127.0.0.1 () {22 vars in 243 bytes} [Sat Nov 21 02:05:25 2026] GET /static/index.html => generated 13 bytes in 0 msecs via offload() (HTTP/1.0 200) 3 headers in 110 bytes (0 switches on core 0)\n",
		},
		{
			name: "LG-3 app raised before start_response",
			l: RequestLine{Pid: 8863, App: 0, AppRequests: 1, Total: 1, Addr: []byte("127.0.0.1"),
				Vars: 22, VarsBytes: 238, Start: time.Date(2026, 11, 21, 1, 59, 59, 0, time.Local),
				Method: []byte("GET"), URI: []byte("/raise"), Proto: []byte("HTTP/1.1"), Status: 500},
			want: "[pid: 8863|app: 0|req: 1/1] 127.0.0.1 () {22 vars in 238 bytes} [Sat Nov 21 01:59:59 2026] GET /raise => generated 0 bytes in 0 msecs (HTTP/1.1 500) 0 headers in 0 bytes (0 switches on core 0)\n",
		},
		{
			name: "LG-2 micros, user, sendfile, core, single-digit day",
			l: RequestLine{Pid: 1, App: 2, AppRequests: 5, Total: 9, Addr: []byte("10.1.2.3, 10.0.0.1"), User: []byte("bob"),
				Vars: 4, VarsBytes: 40, Start: time.Date(2026, 1, 2, 3, 4, 5, 0, time.Local),
				Method: []byte("POST"), URI: []byte("/u"), Size: 1 << 40, Duration: 1234567 * time.Microsecond,
				Via: "sendfile", Proto: []byte("HTTP/1.1"), Status: 206, Headers: 1, HeaderBytes: 30,
				Switches: 2, Core: 3, Micros: true},
			want: "[pid: 1|app: 2|req: 5/9] 10.1.2.3, 10.0.0.1 (bob) {4 vars in 40 bytes} [Fri Jan  2 03:04:05 2026] POST /u => generated 1099511627776 bytes in 1234567 micros via sendfile() (HTTP/1.1 206) 1 headers in 30 bytes (2 switches on core 3)\n",
		},
		{
			name: "LG-2 route, msecs truncated, empty fields",
			l: RequestLine{Pid: 7, App: 0, AppRequests: 1, Total: 1, Start: time.Date(2026, 12, 31, 23, 59, 59, 0, time.Local),
				Duration: 1999 * time.Microsecond, Via: "route", Status: 302, Switches: 1},
			want: "[pid: 7|app: 0|req: 1/1]  () {0 vars in 0 bytes} [Thu Dec 31 23:59:59 2026]   => generated 0 bytes in 1 msecs via route() ( 302) 0 headers in 0 bytes (1 switches on core 0)\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := string(AppendRequestLine([]byte("x"), &tc.l))
			if got != "x"+tc.want {
				t.Fatalf("got\n%q\nwant\n%q", got, "x"+tc.want)
			}
		})
	}
}

func TestAppendCtime(t *testing.T) {
	tests := []struct {
		t    time.Time
		want string
	}{
		{time.Date(2026, 11, 21, 1, 55, 55, 0, time.Local), "Sat Nov 21 01:55:55 2026"},
		{time.Date(2026, 11, 1, 0, 0, 0, 0, time.Local), "Sun Nov  1 00:00:00 2026"},
		{time.Date(1999, 2, 28, 23, 59, 59, 999999999, time.Local), "Sun Feb 28 23:59:59 1999"},
		{time.Date(2026, 11, 1, 0, 0, 0, 0, time.Local), "Sun Nov  1 00:00:00 2026"}, // cached second
	}
	for _, tc := range tests {
		if got := string(AppendCtime(nil, tc.t)); got != tc.want || len(got) != CtimeLen {
			t.Errorf("AppendCtime(%v) = %q, want %q", tc.t, got, tc.want)
		}
	}
	// A time in another zone is shown in local time, as ctime() does.
	u := time.Date(2026, 11, 21, 12, 0, 0, 0, time.FixedZone("X", 5*3600))
	if got, want := string(AppendCtime(nil, u)), string(formatCtime(nil, u.Local())); got != want {
		t.Errorf("zone: got %q want %q", got, want)
	}
}

// The cache is shared by every core: concurrent callers with different
// seconds must each get their own second.
func TestAppendCtimeConcurrent(t *testing.T) {
	base := time.Date(2026, 3, 4, 5, 6, 0, 0, time.Local)
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			var buf []byte
			for i := 0; i < 2000; i++ {
				tm := base.Add(time.Duration((i+g)%50) * time.Second)
				buf = AppendCtime(buf[:0], tm)
				if want := string(formatCtime(nil, tm)); string(buf) != want {
					errs <- fmt.Sprintf("got %q want %q", buf, want)
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
}

// Strftime is checked against the C library's strftime through Python's
// time.strftime (C locale, UTC).
func TestStrftimeMatchesC(t *testing.T) {
	py, err := exec.LookPath("/usr/bin/python3")
	if err != nil {
		t.Fatalf("python3 is required for this test: %v", err)
	}
	format := "%a|%A|%b|%h|%B|%c|%C|%d|%D|%e|%F|%H|%I|%j|%k|%l|%m|%M|%p|%R|%s|%S|%T|%u|%w|%y|%Y|%z|%Z|%%|%n|%t|plain"
	times := []int64{0, 1700000000, 1795226155, 1767312245, 951782399, 1798761599, 1704067200 + 13*3600}
	for _, sec := range times {
		cmd := exec.Command(py, "-c", "import sys,time; sys.stdout.write(time.strftime(sys.argv[1], time.localtime(int(sys.argv[2]))))", format, fmt.Sprint(sec))
		cmd.Env = []string{"TZ=UTC", "LC_ALL=C"}
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("python3: %v", err)
		}
		// With TZ=UTC, localtime names the zone "UTC"; %s is
		// computed by mktime in local time, which is UTC here.
		got := string(Strftime(nil, format, time.Unix(sec, 0).UTC()))
		if got != string(out) {
			t.Errorf("%d:\n got %q\nwant %q", sec, got, out)
		}
	}
	if got := string(Strftime(nil, "%q %", time.Unix(0, 0).UTC())); got != "%q %" {
		t.Errorf("unknown conversion: %q", got)
	}
}

func TestLogger(t *testing.T) {
	now := func() time.Time { return time.Date(2026, 11, 21, 1, 59, 26, 0, time.Local) }
	tests := []struct {
		name    string
		format  string
		dated   bool
		verbose bool
		msg     string
		want    string
	}{
		{"plain", "", false, false, "spawned uWSGI worker %d (pid: %d, cores: 1)", "spawned uWSGI worker 1 (pid: 42, cores: 1)\n"},
		{"LG-22 bare log-date", "", true, false, "*** Starting uWSGI %s ***\n", "Sat Nov 21 01:59:26 2026 - *** Starting uWSGI 2.0.21 ***\n"},
		{"LG-22 log-date format", "%Y-%m-%d %H:%M:%S", true, false, "goodbye to uWSGI.", "2026-11-21 01:59:26 - goodbye to uWSGI.\n"},
		{"LG-22 verbose without log-date", "", false, true, "*** HARAKIRI ON WORKER %d ***", "Sat Nov 21 01:59:26 2026 - *** HARAKIRI ON WORKER 1 ***\n"},
		{"LG-22 verbose with format", "%d/%m/%Y", false, true, "touched", "21/11/2026 - touched\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			l := NewLogger(&buf, tc.format, tc.dated)
			l.Now = now
			var args []any
			switch strings.Count(tc.msg, "%") {
			case 1:
				if strings.Contains(tc.msg, "%s") {
					args = []any{"2.0.21"}
				} else {
					args = []any{1}
				}
			case 2:
				args = []any{1, 42}
			}
			if tc.verbose {
				l.Verbosef(tc.msg, args...)
			} else {
				l.Printf(tc.msg, args...)
			}
			if buf.String() != tc.want {
				t.Fatalf("got %q want %q", buf.String(), tc.want)
			}
		})
	}
}

// writeCounter records each Write call separately.
type writeCounter struct {
	mu     sync.Mutex
	writes []string
}

func (w *writeCounter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes = append(w.writes, string(p))
	return len(p), nil
}

// One message is one Write, whole, even from many goroutines.
func TestLoggerOneWritePerLine(t *testing.T) {
	var w writeCounter
	l := NewLogger(&w, "", true)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				l.Printf("goroutine %d message %d %s", g, i, strings.Repeat("x", i))
			}
		}(g)
	}
	wg.Wait()
	if len(w.writes) != 800 {
		t.Fatalf("%d writes", len(w.writes))
	}
	for _, s := range w.writes {
		if strings.Count(s, "\n") != 1 || !strings.HasSuffix(s, "\n") || !strings.Contains(s, " - goroutine ") {
			t.Fatalf("bad write %q", s)
		}
	}
	if n, err := l.Write([]byte("Traceback (most recent call last):\n")); err != nil || n != 35 || w.writes[800] != "Traceback (most recent call last):\n" {
		t.Fatalf("raw write: %d %v", n, err)
	}
}

func BenchmarkAppendRequestLine(b *testing.B) {
	l := RequestLine{Pid: 2344, App: 0, AppRequests: 1, Total: 1, Addr: []byte("127.0.0.1"),
		Vars: 26, VarsBytes: 293, Start: time.Now(), Method: []byte("GET"), URI: []byte("/foo/bar?x=1&y=2"),
		Size: 1187, Duration: 900 * time.Microsecond, Proto: []byte("HTTP/1.1"), Status: 200,
		Headers: 2, HeaderBytes: 64, Switches: 1}
	dst := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		dst = AppendRequestLine(dst[:0], &l)
	}
}

func BenchmarkAppendCtimeNow(b *testing.B) {
	dst := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		dst = AppendCtime(dst[:0], time.Now())
	}
}

func FuzzStrftime(f *testing.F) {
	f.Add("%Y-%m-%d %H:%M:%S", int64(1795226155))
	f.Add("%", int64(0))
	f.Add("%%%q%z%Z", int64(-1))
	f.Fuzz(func(t *testing.T, format string, sec int64) {
		tm := time.Unix(sec%(1<<40), 0).UTC()
		out := Strftime(nil, format, tm)
		if !strings.Contains(format, "%") && string(out) != format {
			t.Fatalf("literal format changed: %q -> %q", format, out)
		}
	})
}

func TestAppendRequestLineZeroAllocs(t *testing.T) {
	l := RequestLine{Pid: 1, Addr: []byte("127.0.0.1"), Start: time.Now(), Method: []byte("GET"),
		URI: []byte("/"), Proto: []byte("HTTP/1.1"), Status: 200, Via: "offload"}
	dst := make([]byte, 0, 512)
	AppendRequestLine(dst, &l) // formats this second once
	if n := testing.AllocsPerRun(200, func() { dst = AppendRequestLine(dst[:0], &l) }); n != 0 {
		t.Fatalf("%v allocations per line", n)
	}
}
