package e2e

import (
	"testing"
)

// TestMountManageScriptName: `mount` and `manage-script-name` (PY-5, PY-7):
// the longest mountpoint prefix picks the app, SCRIPT_NAME becomes the
// mountpoint and PATH_INFO the rest; unmatched paths go to the default app.
func TestMountManageScriptName(t *testing.T) {
	args := []string{"--plugin", "python3", "--master", "--processes", "1", "--http-socket", "{http}",
		"--mount", "/app1={apps}/envdump.py", "--mount", "/app1/deeper={apps}/hello.py",
		"--manage-script-name"}
	Differential(t, Setup{Args: args}, func(t *testing.T, e *Env) any {
		e.Srv.WaitLog(t, `WSGI app 0 \(mountpoint='/app1'\) ready`, StartTimeout)
		e.Srv.WaitLog(t, `WSGI app 1 \(mountpoint='/app1/deeper'\) ready`, StartTimeout)
		type seen struct{ Path, Script, PathInfo, Body string }
		var out []seen
		for _, path := range []string{"/app1/foo", "/app1", "/app1/deeper/x", "/elsewhere"} {
			r := Do(t, e.Addr("http"), Get(path))
			s := seen{Path: path}
			if r.Header("X-Test") != nil {
				env := DecodeEnviron(t, r.Body)
				s.Script, _ = env["SCRIPT_NAME"].(string)
				s.PathInfo, _ = env["PATH_INFO"].(string)
			} else {
				s.Body = string(r.Body)
			}
			out = append(out, s)
		}
		want := []seen{
			{"/app1/foo", "/app1", "/foo", ""},
			{"/app1", "/app1", "", ""},
			{"/app1/deeper/x", "", "", "Hello, World!\n"},
			{"/elsewhere", "", "/elsewhere", ""}, // the default (first) app, PY-6
		}
		for i := range want {
			if out[i] != want[i] {
				t.Errorf("%s: got %+v, want %+v", want[i].Path, out[i], want[i])
			}
		}
		return out
	})
}
