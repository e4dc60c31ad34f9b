package e2e

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files from the reference uWSGI")

// showConfigDump extracts the CF-7 block (blank line, ";uWSGI instance
// configuration" ... ";end of configuration", blank line) from a log.
func showConfigDump(t *testing.T, log string) string {
	t.Helper()
	const begin, end = "\n;uWSGI instance configuration\n", ";end of configuration\n\n"
	i := strings.Index(log, begin)
	j := strings.Index(log, end)
	if i < 0 || j < i {
		t.Fatalf("no --show-config block (CF-7) in the log:\n%s", tail(log))
	}
	return log[i : j+len(end)]
}

// TestShowConfig loads testdata/configs/showconfig.ini (ini dialect:
// repeated keys, bare keys, inline text kept, %(x) first value, %d and %n,
// $(ENV), unknown keys kept, `ini = :section`) and compares the
// --show-config dump (CF-7) with the golden file and between the two
// implementations. `go test -run TestShowConfig -update` rewrites the golden
// file from the reference.
func TestShowConfig(t *testing.T) {
	cfgDir, err := filepath.Abs(filepath.Join("testdata", "configs"))
	if err != nil {
		t.Fatalf("abs: %v", err)
	}
	golden := filepath.Join(cfgDir, "showconfig.golden")
	args := []string{"--ini", filepath.Join(cfgDir, "showconfig.ini"), "--show-config", "--http-socket", "{http}"}
	Differential(t, Setup{Args: args, Env: []string{"E2E_VAR=from-env"}}, func(t *testing.T, e *Env) any {
		dump := showConfigDump(t, e.Srv.Log())
		dump = strings.ReplaceAll(dump, cfgDir, "<DIR>")
		dump = strings.ReplaceAll(dump, e.Addr("http"), "<HTTP>")
		if *update && e.Impl.Bin == RealUWSGI {
			if err := os.WriteFile(golden, []byte(dump), 0o644); err != nil {
				t.Fatalf("write golden: %v", err)
			}
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("read golden (create it with -update): %v", err)
		}
		if dump != string(want) {
			t.Errorf("--show-config dump differs from %s (-want +got):\n%s", filepath.Base(golden), LineDiff(string(want), dump))
		}
		if r := Do(t, e.Addr("http"), Get("/")); string(r.Body) != "Hello, World!\n" {
			t.Errorf("app from %%d-relative wsgi-file not served: %q", r.Raw)
		}
		return dump
	})
}
