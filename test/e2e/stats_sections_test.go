package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// readStatsRaw returns the stats document as the server wrote it.
func readStatsRaw(t *testing.T, addr string) []byte {
	t.Helper()
	raw, err := RawExchange(addr, nil)
	if err != nil {
		t.Fatalf("stats: %v", err)
	}
	if !json.Valid(raw) {
		t.Fatalf("stats document is not JSON:\n%s", raw)
	}
	return raw
}

// jsonShape walks a JSON value keeping what a differential test compares:
// object keys in document order, each value's JSON type, and the value
// itself unless norm replaces it (pids and paths differ between runs).
func jsonShape(dec *json.Decoder, key string, norm func(key string, v any) any) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch d := tok.(type) {
	case json.Delim:
		if d == '[' {
			list := []any{}
			for dec.More() {
				v, err := jsonShape(dec, key, norm)
				if err != nil {
					return nil, err
				}
				list = append(list, v)
			}
			_, err := dec.Token()
			return list, err
		}
		var obj []string
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return nil, err
			}
			k := kt.(string)
			v, err := jsonShape(dec, k, norm)
			if err != nil {
				return nil, err
			}
			b, _ := json.Marshal(v)
			obj = append(obj, fmt.Sprint(norm("", k))+"="+string(b))
		}
		_, err := dec.Token()
		return obj, err
	case json.Number:
		return fmt.Sprintf("number:%v", norm(key, d.String())), nil
	case string:
		return fmt.Sprintf("string:%v", norm(key, d)), nil
	default:
		return fmt.Sprintf("%T:%v", d, d), nil
	}
}

// statsSections returns the top-level keys of a stats document and the
// shape of its caches, spoolers, crons and locks, with pids and the
// instance's directory normalised.
func statsSections(t *testing.T, raw []byte, dir string) map[string]any {
	t.Helper()
	norm := func(key string, v any) any {
		s := fmt.Sprint(v)
		if key == "pid" && s != "0" && s != "-1" {
			return "<pid>"
		}
		return strings.ReplaceAll(s, dir, "{dir}")
	}
	out := map[string]any{}
	var keys []string
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("stats document does not start with an object: %v", err)
	}
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			t.Fatalf("stats document: %v", err)
		}
		k := kt.(string)
		keys = append(keys, k)
		v, err := jsonShape(dec, k, norm)
		if err != nil {
			t.Fatalf("stats document, %s: %v", k, err)
		}
		switch k {
		case "caches", "spoolers", "crons", "locks":
			out[k] = v
		}
	}
	out["keys"] = keys
	return out
}

// statsNumber reads one number of the first item of a section.
func statsNumber(t *testing.T, raw []byte, section, key string) int64 {
	t.Helper()
	var all map[string]json.RawMessage
	if err := json.Unmarshal(raw, &all); err != nil {
		t.Fatalf("stats: %v", err)
	}
	var items []map[string]any
	if err := json.Unmarshal(all[section], &items); err != nil || len(items) == 0 {
		t.Fatalf("stats %s: %v\n%s", section, err, raw)
	}
	f, ok := items[0][key].(float64)
	if !ok {
		t.Fatalf("stats %s[0].%s is %T", section, key, items[0][key])
	}
	return int64(f)
}

// waitStats polls the stats server until cond holds on the document.
func waitStats(t *testing.T, addr, what string, cond func(raw []byte) bool) []byte {
	t.Helper()
	deadline := time.Now().Add(RequestTimeout)
	for {
		raw := readStatsRaw(t, addr)
		if cond(raw) {
			return raw
		}
		if time.Now().After(deadline) {
			t.Fatalf("stats never showed %s:\n%s", what, raw)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestStatsCachesSpoolersCrons: ST-8, ST-9 and ST-15 against the real
// uWSGI: the same keys in the same order with the same types, the cache's
// items, hits, miss and full as the app uses it, and a spooler's tasks,
// running and respawns as a task runs and the spooler is killed.
func TestStatsCachesSpoolersCrons(t *testing.T) {
	// The cron entry names a day that never comes (February 31st): both
	// show it, and neither runs it while the test looks.
	setup := Setup{Args: []string{"--plugin", "python3", "--master", "--processes", "1",
		"--http-socket", "{http}", "--stats", "{http2}", "--wsgi-file", "{apps}/stats_sections.py",
		"--spooler", "{dir}", "--cache2", "name=mycache,items=5", "--cron", "0 0 31 2 -1 true"}}
	Differential(t, setup, func(t *testing.T, e *Env) any {
		stats, dir := e.Addr("http2"), e.Addr("dir")
		var steps []any
		snap := func(name string, raw []byte) {
			steps = append(steps, map[string]any{"step": name, "stats": statsSections(t, raw, dir)})
		}
		// gosgi starts the spooler just after the first worker, uWSGI just
		// before: wait for it either way.
		snap("start", waitStats(t, stats, "the spooler's pid", func(raw []byte) bool {
			return statsNumber(t, raw, "spoolers", "pid") > 0
		}))
		for _, path := range []string{"/cache/get", "/cache/set", "/cache/get", "/cache/fill"} {
			if r := Do(t, e.Addr("http"), Get(path)); !strings.HasPrefix(r.StatusLine, "HTTP/1.1 200") {
				t.Fatalf("%s: %q", path, r.Raw)
			}
		}
		// 1 miss, 1 hit, 4 items (a cache of 5 holds 4), 3 refused sets.
		raw := readStatsRaw(t, stats)
		for key, want := range map[string]int64{"items": 4, "hits": 1, "miss": 1, "full": 3} {
			if got := statsNumber(t, raw, "caches", key); got != want {
				t.Errorf("caches[0].%s = %d, want %d", key, got, want)
			}
		}
		snap("cache used", raw)

		if r := Do(t, e.Addr("http"), Get("/spool")); !bytes.Contains(r.Body, []byte("True")) {
			t.Fatalf("spool: %q", r.Raw)
		}
		snap("task running", waitStats(t, stats, "a running task", func(raw []byte) bool {
			return statsNumber(t, raw, "spoolers", "running") == 1
		}))
		if err := os.WriteFile(filepath.Join(dir, "release"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		snap("task done", waitStats(t, stats, "the task done", func(raw []byte) bool {
			return statsNumber(t, raw, "spoolers", "tasks") == 1 && statsNumber(t, raw, "spoolers", "running") == 0
		}))

		pid := statsNumber(t, readStatsRaw(t, stats), "spoolers", "pid")
		if err := syscall.Kill(int(pid), syscall.SIGKILL); err != nil {
			t.Fatalf("kill spooler %d: %v", pid, err)
		}
		// The master counts the respawn when it forks; the new spooler then
		// starts its task count again, in both servers.
		snap("spooler respawned", waitStats(t, stats, "a respawned spooler", func(raw []byte) bool {
			return statsNumber(t, raw, "spoolers", "respawns") == 1 && statsNumber(t, raw, "spoolers", "pid") != pid &&
				statsNumber(t, raw, "spoolers", "tasks") == 0
		}))
		return steps
	})
}
