package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExampleIni serves examples/hello.ini (the README's `make example`) on
// a free port instead of 8080, from a copy of the examples directory, so the
// ini's `%d` magic variable (CF-20s) and bare flags are exercised too.
func TestExampleIni(t *testing.T) {
	src := filepath.Join(RepoRoot(t), "examples")
	ini, err := os.ReadFile(filepath.Join(src, "hello.ini"))
	if err != nil {
		t.Fatalf("read example: %v", err)
	}
	app, err := os.ReadFile(filepath.Join(src, "hello.py"))
	if err != nil {
		t.Fatalf("read example app: %v", err)
	}
	if !strings.Contains(string(ini), "127.0.0.1:8080") {
		t.Fatalf("examples/hello.ini no longer binds 127.0.0.1:8080; update this test")
	}
	Differential(t, Setup{NoStart: true}, func(t *testing.T, e *Env) any {
		dir := e.Vars["dir"]
		conf := strings.ReplaceAll(string(ini), "127.0.0.1:8080", e.Addr("http"))
		if err := os.WriteFile(filepath.Join(dir, "hello.ini"), []byte(conf), 0o644); err != nil {
			t.Fatalf("write ini: %v", err)
		}
		if err := os.WriteFile(filepath.Join(dir, "hello.py"), app, 0o644); err != nil {
			t.Fatalf("write app: %v", err)
		}
		srv := Start(t, e.Impl.Name, e.Impl.Bin, []string{"--ini", filepath.Join(dir, "hello.ini")}, StartOptions{Dir: dir})
		srv.WaitLog(t, `spawned uWSGI worker 2 `, StartTimeout)
		r := Do(t, e.Addr("http"), Get("/from-test"))
		if r.StatusLine != "HTTP/1.1 200 OK" || string(r.Body) != "Hello from gosgi! You asked for /from-test\n" {
			t.Errorf("reply %q", r.Raw)
		}
		if code := srv.Stop(t); code != 0 {
			t.Errorf("exit %d after SIGINT, want 0", code)
		}
		return Summarise(r)
	})
}
