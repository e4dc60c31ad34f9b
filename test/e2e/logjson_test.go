package e2e

import (
	"bufio"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// defaultLineRE splits uWSGI's default request line (LG-1) into its figures.
var defaultLineRE = regexp.MustCompile(`^\[pid: (\d+)\|app: (-?\d+)\|req: (-?\d+)/(\d+)\] (\S*) \((.*?)\) ` +
	`\{(\d+) vars in (\d+) bytes\} \[[^\]]+\] (\S+) (.*) => generated (\d+) bytes in \d+ msecs ` +
	`(?:via (\w+)\(\) )?\((\S+) (\d+)\) (\d+) headers in (\d+) bytes \((\d+) switches on core (\d+)\)$`)

// requestFigures are the figures both forms share; pid and timings vary.
func figuresFromLine(t *testing.T, line string) map[string]any {
	t.Helper()
	m := defaultLineRE.FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("not a default request line: %q", line)
	}
	num := func(s string) int64 {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatalf("%q in %q: %v", s, line, err)
		}
		return n
	}
	return map[string]any{"app": num(m[2]), "app_requests": num(m[3]), "requests": num(m[4]), "addr": m[5],
		"user": m[6], "vars": num(m[7]), "vars_bytes": num(m[8]), "method": m[9], "uri": m[10], "size": num(m[11]),
		"via": m[12], "proto": m[13], "status": num(m[14]), "headers": num(m[15]), "headers_bytes": num(m[16]),
		"switches": num(m[17]), "core": num(m[18])}
}

// TestLogJSON: gosgi's log-json writes, for the same requests, the figures
// uWSGI's default request line shows (LG-1), one valid JSON object per
// line, plus the worker id, pid, time and durations.
func TestLogJSON(t *testing.T) {
	requests := []string{
		Get("/"),
		Get(`/path/with%20escapes?q="quoted"&x=\back`),
		Request("POST", "/form", "a=1&b=2", "Content-Type: application/x-www-form-urlencoded"),
		Get("/bytes/\xff\xfe", "X-Extra: 1", "X-Other: 2"),
	}
	run := func(impl Impl, extra ...string) []string {
		e := NewEnv(t, impl, Setup{NoStart: true})
		args := Args(helloArgs(append([]string{"--processes", "1"}, extra...)...), e.Vars)
		srv := Start(t, impl.Name, impl.Bin, args, StartOptions{Dir: e.Vars["dir"]})
		for _, req := range requests {
			Do(t, e.Addr("http"), req)
		}
		var lines []string
		deadline := time.Now().Add(RequestTimeout)
		for len(lines) < len(requests) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d request lines of %d in:\n%s", impl.Name, len(lines), len(requests), srv.Log())
			}
			time.Sleep(20 * time.Millisecond)
			lines = lines[:0]
			sc := bufio.NewScanner(strings.NewReader(srv.Log()))
			for sc.Scan() {
				if l := sc.Text(); strings.HasPrefix(l, "{") || strings.HasPrefix(l, "[pid: ") {
					lines = append(lines, l)
				}
			}
		}
		return lines
	}
	impls := Impls(t)
	got := run(impls[0], "--log-json")
	want := run(impls[1])
	for i := range requests {
		var obj map[string]any
		dec := json.NewDecoder(strings.NewReader(got[i]))
		dec.UseNumber()
		if err := dec.Decode(&obj); err != nil {
			t.Fatalf("request %d: not a JSON object: %v\n%s", i, err, got[i])
		}
		for _, k := range []string{"pid", "worker", "time", "msecs", "micros"} {
			if _, ok := obj[k]; !ok {
				t.Errorf("request %d: no %q in %s", i, k, got[i])
			}
		}
		if w := obj["worker"]; w != json.Number("1") {
			t.Errorf("request %d: worker %v, want 1", i, w)
		}
		if ts, _ := obj["time"].(string); !strings.HasPrefix(ts, time.Now().Format("2006-01-02T")) {
			t.Errorf("request %d: time %q is not RFC 3339 of today", i, ts)
		}
		figures := map[string]any{}
		for k, v := range obj {
			switch k {
			case "pid", "worker", "time", "msecs", "micros":
				continue
			}
			if n, ok := v.(json.Number); ok {
				v, _ = n.Int64()
			}
			figures[k] = v
		}
		wantFigures := figuresFromLine(t, want[i])
		// uWSGI prints the bytes as they came; JSON carries U+FFFD for
		// bytes that are not UTF-8.
		wantFigures["uri"] = replaceInvalidBytes(wantFigures["uri"].(string))
		gb, _ := json.Marshal(figures)
		wb, _ := json.Marshal(wantFigures)
		if string(gb) != string(wb) {
			t.Errorf("request %d differs from uWSGI's line:\ngosgi %s\nuwsgi %s\nline  %s", i, gb, wb, want[i])
		}
	}
}

// replaceInvalidBytes turns every byte that is not part of valid UTF-8
// into U+FFFD, one for one.
func replaceInvalidBytes(s string) string {
	var b strings.Builder
	for _, r := range s {
		b.WriteRune(r) // range yields U+FFFD for each invalid byte
	}
	return b.String()
}
