package e2e

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// TestUwsgiQueue: the queue subsystem (`queue`, PY-50 queue_*) answers as
// uWSGI's, wrap-around and refused messages included, and the stats list
// its lock after the fixed ones (with `locks = 2`, "user 1" and "user 2"
// after "user 0", ST-8).
func TestUwsgiQueue(t *testing.T) {
	args := []string{"--plugin", "python3", "--master", "--http-socket", "{http}", "--processes", "1",
		"--queue", "4", "--locks", "2", "--stats", "{http2}", "--wsgi-file", "{apps}/uwsgimod_queue.py"}
	Differential(t, Setup{Args: args}, func(t *testing.T, e *Env) any {
		api := bodyLines(t, e.Addr("http"), "/")
		var doc struct {
			Locks []map[string]int `json:"locks"`
		}
		if err := json.Unmarshal(readStatsRaw(t, e.Addr("http2")), &doc); err != nil {
			t.Fatal(err)
		}
		var locks []string
		for _, l := range doc.Locks {
			for k := range l {
				locks = append(locks, k)
			}
		}
		return map[string]any{"api": api, "locks": locks,
			"log": e.Srv.WaitLog(t, `\*\*\* Queue subsystem initialized: \d+MB preallocated \*\*\*`, StartTimeout)[0]}
	})
}

// TestUwsgiQueueStore: with queue-store the queue lives in a file: a new
// instance on the same file finds what the previous one pushed.
func TestUwsgiQueueStore(t *testing.T) {
	args := []string{"--plugin", "python3", "--master", "--http-socket", "{http}", "--processes", "1",
		"--queue", "4", "--queue-store", "{dir}/queue.store", "--wsgi-file", "{apps}/uwsgimod_queue.py"}
	Differential(t, Setup{NoStart: true}, func(t *testing.T, e *Env) any {
		var out []string
		for i := 0; i < 2; i++ {
			srv := Start(t, e.Impl.Name, e.Impl.Bin, Args(args, e.Vars), StartOptions{Dir: e.Vars["dir"]})
			out = append(out, strings.Join(bodyLines(t, e.Addr("http"), "/get0"), ""))
			if i == 0 {
				out = append(out, strings.Join(bodyLines(t, e.Addr("http"), "/push?kept"), ""))
			}
			m := srv.WaitLog(t, `(?m)^(creating a new|recovered queue from backing) .*$`, StartTimeout)
			out = append(out, strings.ReplaceAll(m[0], filepath.Clean(e.Vars["dir"]), "DIR"))
			srv.Stop(t)
		}
		return out
	})
}
