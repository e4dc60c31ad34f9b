package master

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLogFailuresReportOnce: a log that cannot be written is reported on
// the original stderr once, not once per lost line; a working log is not.
func TestLogFailuresReportOnce(t *testing.T) {
	for _, tc := range []struct {
		name    string
		logPath string
		lines   int
		reports int
	}{
		{"full disk", "/dev/full", 50, 1},
		{"working log", "", 50, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := tc.logPath
			if path == "" {
				path = filepath.Join(dir, "log")
			}
			logf, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
			if err != nil {
				t.Fatal(err)
			}
			defer logf.Close()
			orig, err := os.Create(filepath.Join(dir, "stderr"))
			if err != nil {
				t.Fatal(err)
			}
			w := &logFailures{log: logf, orig: orig, target: path}
			for i := 0; i < tc.lines; i++ {
				w.Write([]byte("a log line\n"))
			}
			orig.Close()
			b, _ := os.ReadFile(orig.Name())
			if n := strings.Count(string(b), "cannot write the log"); n != tc.reports {
				t.Errorf("%d reports, want %d:\n%s", n, tc.reports, b)
			}
		})
	}
}
