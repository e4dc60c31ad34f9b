package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestAddHeaderAndLogFilters: add-header on every response; with
// disable-logging, log-5xx still logs the failing request only (LG-5).
func TestAddHeaderAndLogFilters(t *testing.T) {
	args := []string{"--plugin", "python3", "--master", "--processes", "1", "--http-socket", "{http}",
		"--wsgi-file", "{apps}/router.py", "--add-header", "X-Frame-Options: DENY",
		"--disable-logging", "--log-5xx"}
	Differential(t, Setup{Args: args}, func(t *testing.T, e *Env) any {
		r := Do(t, e.Addr("http"), Get("/hello"))
		if got := r.Header("X-Frame-Options"); len(got) != 1 || got[0] != "DENY" {
			t.Errorf("X-Frame-Options = %q", got)
		}
		RawExchange(e.Addr("http"), []byte(Get("/raise_early")))
		e.Srv.WaitLog(t, `GET /raise_early => generated 0 bytes in \d+ msecs \(HTTP/1\.1 500\)`, StartTimeout)
		time.Sleep(200 * time.Millisecond)
		lines := RequestLines(e.Srv.Log())
		if len(lines) != 1 || !strings.Contains(lines[0], "/raise_early") {
			t.Errorf("request lines %q, want only the 500", lines)
		}
		return Summarise(r, "Date")
	})
}
