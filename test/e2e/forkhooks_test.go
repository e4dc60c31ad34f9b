package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestForkHooks: with py-call-uwsgi-fork-hooks, the after_in_child hooks an
// app registers with os.register_at_fork run once in each worker, as in
// uWSGI (gosgi runs Python's fork hooks at every fork, with or without the
// option).
func TestForkHooks(t *testing.T) {
	args := []string{"--plugin", "python3", "--master", "--http-socket", "{http}", "--processes", "2",
		"--enable-threads", "--py-call-uwsgi-fork-hooks", "--wsgi-file", "{apps}/forkhooks.py"}
	Differential(t, Setup{Args: args, Env: []string{"EVENTS={dir}/events"}}, func(t *testing.T, e *Env) any {
		e.Srv.WaitLogCount(t, `spawned uWSGI worker \d+`, 2, StartTimeout)
		path := filepath.Join(e.Vars["dir"], "events")
		deadline := time.Now().Add(StartTimeout)
		for len(readEvents(path)) < 2 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		e.Srv.Settle()
		var kinds []string
		for _, l := range readEvents(path) {
			kind, _, _ := strings.Cut(l, " ")
			kinds = append(kinds, kind)
		}
		return fmt.Sprint(kinds)
	})
}
