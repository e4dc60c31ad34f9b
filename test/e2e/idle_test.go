package e2e

import (
	"regexp"
	"testing"
)

// inactiveLine is uWSGI's idle line without its two timestamps.
var inactiveLine = regexp.MustCompile(`(?m)^workers have been inactive for more than (\d+) seconds \(\d+-\d+\)$`)

// idleSeconds is the N of the first idle line, "" without one.
func idleSeconds(log string) string {
	if m := inactiveLine.FindStringSubmatch(log); m != nil {
		return m[1]
	}
	return ""
}

// TestIdleGoesCheap: PM-53 / OP-59, after `idle` seconds without a
// request the master stops every worker and says it waits for a
// connection; a request then still gets served, by respawned workers.
func TestIdleGoesCheap(t *testing.T) {
	Differential(t, Setup{Args: helloArgs("--processes", "2", "--idle", "2")}, func(t *testing.T, e *Env) any {
		first := workerPids(t, e.Srv, 2)
		e.Srv.WaitLog(t, `cheap mode enabled: waiting for socket connection\.\.\.`, StartTimeout)
		res := map[string]any{"inactive_line": idleSeconds(e.Srv.Log())}
		gone := 0
		for _, pid := range first {
			if !processAlive(pid) {
				gone++
			}
		}
		res["workers_stopped"] = gone
		// The connection wakes the workers up; the request waits in the
		// socket's queue meanwhile.
		wantHello(t, e.Addr("http"))
		m := e.Srv.WaitLogCount(t, `Respawned uWSGI worker (\d+) \(new pid: \d+\)`, 2, StartTimeout)
		var ids []string
		for _, x := range m {
			ids = append(ids, x[1])
		}
		res["respawned"] = ids
		// Idle again after the request: cheap a second time.
		e.Srv.WaitLogCount(t, `cheap mode enabled`, 2, StartTimeout)
		res["exit"] = e.Srv.Stop(t)
		return res
	})
}

// TestDieOnIdle: OP-60, die-on-idle ends the instance the way a SIGINT
// does, exit code 0.
func TestDieOnIdle(t *testing.T) {
	Differential(t, Setup{Args: helloArgs("--processes", "2", "--idle", "2", "--die-on-idle")}, func(t *testing.T, e *Env) any {
		workerPids(t, e.Srv, 2)
		code := e.Srv.Wait(t, StopTimeout)
		log := e.Srv.Log()
		return map[string]any{
			"exit":          code,
			"inactive_line": idleSeconds(log),
			"shutdown_line": LogHasLine(log, "SIGINT/SIGTERM received...killing workers..."),
			"goodbye":       LogHasLine(log, "goodbye to uWSGI."),
			"cheap_line":    LogHasLine(log, "cheap mode enabled"),
		}
	})
}
