package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
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

// TestDieOnIdleVassal: OP-60 under an emperor, the idle vassal asks its
// emperor to stop it (byte 22), and the emperor does.
func TestDieOnIdleVassal(t *testing.T) {
	Differential(t, Setup{NoStart: true}, func(t *testing.T, e *Env) any {
		vassals := filepath.Join(e.Vars["dir"], "vassals")
		if err := os.Mkdir(vassals, 0o755); err != nil {
			t.Fatal(err)
		}
		ini := fmt.Sprintf("[uwsgi]\nplugin = python3\nmaster = true\nprocesses = 1\nhttp-socket = %s\nwsgi-file = %s\nidle = 2\ndie-on-idle = true\n",
			e.Addr("http"), filepath.Join(e.Vars["apps"], "hello.py"))
		if err := os.WriteFile(filepath.Join(vassals, "idle.ini"), []byte(ini), 0o644); err != nil {
			t.Fatal(err)
		}
		srv := Start(t, e.Impl.Name, e.Impl.Bin, []string{"--emperor", vassals}, StartOptions{Dir: e.Vars["dir"], Ready: `vassal idle\.ini is ready to accept requests`})
		srv.WaitLog(t, `workers have been inactive for more than 2 seconds`, StartTimeout)
		srv.WaitLog(t, `received message 0 from emperor`, StartTimeout)
		srv.WaitLog(t, `\[emperor\] stop the uwsgi instance idle\.ini`, StartTimeout)
		srv.WaitLog(t, `\[emperor\] removed uwsgi instance idle\.ini`, StartTimeout)
		// Leave nothing for the emperor to start again while it stops.
		os.Remove(filepath.Join(vassals, "idle.ini"))
		return "the idle vassal asked its emperor to stop it"
	})
}

// TestCheapStart: `cheap` starts no worker; the first connection spawns
// them (their first spawn: "spawned", not "Respawned") and is served.
func TestCheapStart(t *testing.T) {
	setup := Setup{Args: helloArgs("--processes", "2", "--cheap"), Ready: `cheap mode enabled: waiting for socket connection\.\.\.`}
	Differential(t, setup, func(t *testing.T, e *Env) any {
		res := map[string]any{"workers_before": strings.Count(e.Srv.Log(), "spawned uWSGI worker")}
		wantHello(t, e.Addr("http"))
		workerPids(t, e.Srv, 2)
		res["respawn_lines"] = strings.Count(e.Srv.Log(), "Respawned uWSGI worker")
		res["exit"] = e.Srv.Stop(t)
		return res
	})
}
