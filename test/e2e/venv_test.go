package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestVirtualenv: `virtualenv`/`home` with a PEP 405 venv (PY-10): the
// app imports from the venv's site-packages and sys.prefix is the venv,
// and gosgi picks the interpreter the venv was made with.
func TestVirtualenv(t *testing.T) {
	RequireTools(t)
	venv := filepath.Join(t.TempDir(), "venv")
	if out, err := exec.Command(Python3, "-m", "venv", "--without-pip", venv).CombinedOutput(); err != nil {
		t.Fatalf("python3 -m venv: %v\n%s", err, out)
	}
	site, err := filepath.Glob(filepath.Join(venv, "lib", "python3*", "site-packages"))
	if err != nil || len(site) != 1 {
		t.Fatalf("venv site-packages: %v %v", site, err)
	}
	if err := os.MkdirAll(filepath.Join(site[0], "vmod"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(site[0], "vmod", "__init__.py"), []byte("NAME = 'from-venv'\n"), 0o644)
	app := filepath.Join(t.TempDir(), "venvapp.py")
	os.WriteFile(app, []byte(`import sys, vmod
def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [("%s %s" % (vmod.NAME, sys.prefix)).encode()]
`), 0o644)
	args := []string{"--plugin", "python3", "--master", "--processes", "1", "--http-socket", "{http}",
		"--wsgi-file", app, "--virtualenv", venv}
	Differential(t, Setup{Args: args}, func(t *testing.T, e *Env) any {
		r := Do(t, e.Addr("http"), Get("/"))
		if string(r.Body) != "from-venv "+venv {
			t.Errorf("body %q, want the venv's module and prefix", r.Body)
		}
		e.Srv.WaitLog(t, `Set PythonHome to `+venv, StartTimeout)
		return string(r.Body)
	})
}
