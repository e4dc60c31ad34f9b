package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// TestCronCommands: command crons of every kind (cron, unique-cron, cron2
// with harakiri) are registered in config order, a matching entry runs at
// startup (a dated "running" line), a run that outlives its harakiri
// (cron2's harakiri=, or cron-harakiri for the others) is killed with
// uWSGI's HARAKIRI line, and each run's end is logged with its pid (OP-99).
func TestCronCommands(t *testing.T) {
	args := []string{"--plugin", "python3", "--master", "--http-socket", "{http}", "--processes", "1",
		"--wsgi-file", "{apps}/hello.py",
		"--cron2", "minute=-1,harakiri=2 sleep 30; echo never >> {dir}/never",
		"--unique-cron", "-1 -1 -1 -1 -1 echo unique >> {dir}/unique",
		"--cron", "-1 -1 -1 -1 -1 echo plain >> {dir}/plain",
		"--cron", "0 0 31 2 -1 echo february >> {dir}/never",
		"--cron", "-1 -1 -1 -1 -1 sleep 31; echo never >> {dir}/never", "--cron-harakiri", "2"}
	pidRE := regexp.MustCompile(`pid:? \d+`)
	secondsRE := regexp.MustCompile(`after \d+ second`)
	Differential(t, Setup{Args: args}, func(t *testing.T, e *Env) any {
		dir := e.Vars["dir"]
		registered := e.Srv.WaitLogCount(t, `(?m)^\[uwsgi-cron\] command ".*" registered as cron task$`, 5, StartTimeout)
		running := e.Srv.WaitLogCount(t, `(?m)^\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4} - \[uwsgi-cron\] running ".*" \(pid \d+\)$`, 4, StartTimeout)
		killed := e.Srv.WaitLogCount(t, `(?m)^\*\*\* HARAKIRI ON CRON ".*" \(pid: \d+\) \*\*\*$`, 2, RequestTimeout)
		ended := e.Srv.WaitLogCount(t, `(?m)^\[uwsgi-cron\] command ".*" running with pid \d+ exited after \d+ second\(s\)$`, 4, RequestTimeout)
		var out, started, harakiri []string
		for _, m := range registered {
			out = append(out, strings.ReplaceAll(m[0], dir, "DIR"))
		}
		for _, m := range running {
			_, l, _ := strings.Cut(m[0], " - ")
			started = append(started, pidRE.ReplaceAllString(strings.ReplaceAll(l, dir, "DIR"), "pid N"))
		}
		for _, m := range killed {
			harakiri = append(harakiri, pidRE.ReplaceAllString(strings.ReplaceAll(m[0], dir, "DIR"), "pid N"))
		}
		var ends []string
		for _, m := range ended {
			// uWSGI's master checks once a second: durations differ by one.
			l := pidRE.ReplaceAllString(strings.ReplaceAll(m[0], dir, "DIR"), "pid N")
			ends = append(ends, secondsRE.ReplaceAllString(l, "after N second"))
		}
		for _, f := range []string{"unique", "plain"} {
			b, err := os.ReadFile(filepath.Join(dir, f))
			out = append(out, f+": "+strings.TrimSpace(string(b))+" "+errString(err))
		}
		if _, err := os.Stat(filepath.Join(dir, "never")); err == nil {
			t.Errorf("a killed or non-matching cron wrote its file")
		}
		return map[string]any{"log": out, "started": sortedCopy(started), "harakiri": sortedCopy(harakiri), "ended": sortedCopy(ends)}
	})
}

func errString(err error) string {
	if err != nil {
		return err.Error()
	}
	return ""
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}
