package emperor

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Test accounts, created and removed by the tests (root required).
const (
	tUser    = "gosgity"  // owner of tyrant vassal files
	tEmpUser = "gosgiemp" // unprivileged emperor of the paranoid setup
	tGroupA  = "gosgitA"  // tUser's primary group
	tGroupB  = "gosgitB"  // tUser's supplementary group
)

type testIDs struct{ uid, empUID, gidA, gidB int }

// makeUsers creates a user in two groups (T-14/T-16's setup) and an
// emperor user, and removes them at the end.
func makeUsers(t *testing.T) testIDs {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("tyrant tests need root (useradd, file owners, setuid)")
	}
	run := func(args ...string) {
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	cleanup := func() {
		exec.Command("userdel", tUser).Run()
		exec.Command("userdel", tEmpUser).Run()
		exec.Command("groupdel", tGroupA).Run()
		exec.Command("groupdel", tGroupB).Run()
	}
	cleanup() // leftovers of an interrupted run
	run("groupadd", tGroupA)
	run("groupadd", tGroupB)
	run("useradd", "-M", "-N", "-g", tGroupA, "-G", tGroupB, "-s", "/usr/sbin/nologin", tUser)
	run("useradd", "-M", "-N", "-g", tGroupA, "-s", "/usr/sbin/nologin", tEmpUser)
	t.Cleanup(cleanup)
	id := func(name string, group bool) int {
		var s string
		if group {
			g, err := user.LookupGroup(name)
			if err != nil {
				t.Fatal(err)
			}
			s = g.Gid
		} else {
			u, err := user.Lookup(name)
			if err != nil {
				t.Fatal(err)
			}
			s = u.Uid
		}
		n, _ := strconv.Atoi(s)
		return n
	}
	return testIDs{id(tUser, false), id(tEmpUser, false), id(tGroupA, true), id(tGroupB, true)}
}

// publicDir is a directory every test user can read (t.TempDir is 0700).
func publicDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "gosgi-emperor-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(d, 0o755)
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// groupSocket listens on a unix socket only members of gid may open
// (root:gid 0660), like the redis socket of SearXNG's setup.
func groupSocket(t *testing.T, dir string, gid int) string {
	t.Helper()
	p := filepath.Join(dir, "redis.sock")
	l, err := net.Listen("unix", p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	if err := os.Chown(p, 0, gid); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, 0o660); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestTyrantSupplementaryGroups: a real uWSGI vassal owned by a user of
// two groups runs as that user with both groups and opens a socket that
// only the second group may open (T-10, T-13, T-16). With no-initgroups
// it gets uWSGI 2.0's empty list and is refused (T-14).
func TestTyrantSupplementaryGroups(t *testing.T) {
	need(t, realUWSGI, python3)
	ids := makeUsers(t)
	pub := publicDir(t)
	vassals := filepath.Join(pub, "vassals")
	os.Mkdir(vassals, 0o755)
	sock := groupSocket(t, pub, ids.gidB)
	app := filepath.Join(pub, "app.py")
	b, _ := os.ReadFile("testdata/app.py")
	os.WriteFile(app, b, 0o644)
	env := append(os.Environ(), "GOSGI_TEST_OPEN="+sock)

	for _, tc := range []struct {
		name   string
		noInit bool
		groups string
		open   string
	}{
		{"initgroups", false, fmt.Sprintf("groups=[%d, %d]", ids.gidA, ids.gidB), "open ok"},
		{"no-initgroups", true, "groups=[]", "open failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := startEmperor(t, Settings{Sources: []string{vassals}, Binary: realUWSGI, Tyrant: true, NoInitgroups: tc.noInit}, env)
			port := freePort(t)
			ini := filepath.Join(vassals, "app.ini")
			os.WriteFile(ini, []byte(vassalIni(app, port)), 0o644)
			os.Chown(ini, ids.uid, ids.gidA)
			defer os.Remove(ini)
			r.waitLog(t, fmt.Sprintf("[emperor-tyrant] dropping privileges to %d %d for instance app.ini", ids.uid, ids.gidA))
			r.waitLog(t, "[emperor] vassal app.ini is ready to accept requests")
			base := fmt.Sprintf("http://127.0.0.1:%d", port)
			var who string
			waitFor(t, 10*time.Second, "vassal answer", func() bool {
				var err error
				who, err = httpGet(base + "/groups")
				return err == nil
			})
			want := fmt.Sprintf("uid=%d gid=%d %s", ids.uid, ids.gidA, tc.groups)
			if who != want {
				t.Errorf("vassal identity %q, want %q", who, want)
			}
			got, err := httpGet(base + "/open")
			if err != nil || !strings.HasPrefix(got, tc.open) {
				t.Errorf("open group socket: %q, %v; want %q", got, err, tc.open)
			}
			if !tc.noInit && !strings.Contains(r.log.String(), fmt.Sprintf("[emperor-tyrant] set additional group %d (%s) for instance app.ini", ids.gidB, tGroupB)) {
				t.Errorf("extra group not logged:\n%s", r.log.String())
			}
		})
	}
}

// TestTyrantRefusalAndOwnerChange: root-owned files are refused on every
// scan (T-11); a changed owner stops the vassal, which comes back as the
// new owner (T-12).
func TestTyrantRefusalAndOwnerChange(t *testing.T) {
	need(t, python3)
	ids := makeUsers(t)
	pub := publicDir(t)
	vassals := filepath.Join(pub, "vassals")
	os.Mkdir(vassals, 0o755)
	reports := filepath.Join(pub, "reports")
	os.Mkdir(reports, 0o777)
	os.Chmod(reports, 0o777)
	env := append(os.Environ(), "FAKE_REPORT_DIR="+reports)
	r := startEmperor(t, Settings{Sources: []string{vassals}, Binary: fakeVassal(t, pub), Tyrant: true}, env)

	for name, owner := range map[string][2]int{"rootroot.ini": {0, 0}, "rootgroup.ini": {ids.uid, 0}} {
		p := filepath.Join(vassals, name)
		os.WriteFile(p, []byte("[uwsgi]\n"), 0o644)
		os.Chown(p, owner[0], owner[1])
	}
	r.waitLog(t, "[emperor-tyrant] invalid permissions for vassal rootroot.ini")
	r.waitLog(t, "[emperor-tyrant] invalid permissions for vassal rootgroup.ini")
	waitFor(t, 5*time.Second, "the refusal to repeat", func() bool {
		return strings.Count(r.log.String(), "invalid permissions for vassal rootroot.ini") >= 2
	})
	if st := r.statsDoc(t); len(st.Vassals) != 0 || st.EmperorTyrant != 1 {
		t.Errorf("stats after refusals: %+v", st)
	}

	p := filepath.Join(vassals, "owned.ini")
	os.WriteFile(p, []byte("[uwsgi]\n"), 0o644)
	os.Chown(p, ids.uid, ids.gidA)
	rep := readReport(t, filepath.Join(reports, "owned.ini.json"))
	if int(rep["uid"].(float64)) != ids.uid || int(rep["gid"].(float64)) != ids.gidA {
		t.Errorf("vassal report %v", rep)
	}
	os.Remove(filepath.Join(reports, "owned.ini.json"))
	os.Chown(p, ids.empUID, ids.gidB)
	r.waitLog(t, "!!! permissions of file owned.ini changed. stopping the instance... !!!")
	rep = readReport(t, filepath.Join(reports, "owned.ini.json"))
	if int(rep["uid"].(float64)) != ids.empUID || int(rep["gid"].(float64)) != ids.gidB {
		t.Errorf("vassal after owner change %v, want %d:%d", rep, ids.empUID, ids.gidB)
	}
}

// The paranoid tyrant of Fedora's /etc/uwsgi.ini (T-18) runs through Run
// in a child process: TestMain enters Run when this variable holds the
// options as JSON.
const envRunOpts = "GOSGI_EMPEROR_TEST_RUN"

func TestMain(m *testing.M) {
	if j := os.Getenv(envRunOpts); j != "" {
		var o opts
		if err := json.Unmarshal([]byte(j), &o); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		os.Exit(Run(o, os.Args))
	}
	os.Exit(m.Run())
}

// TestRunParanoidTyrant: the emperor drops to an unprivileged user but
// keeps cap = setgid,setuid, still runs a vassal as its file's owner with
// that owner's groups, and the vassal holds no capabilities. The pidfile
// is 0644 (E-08) and SIGINT ends it with exit 0.
func TestRunParanoidTyrant(t *testing.T) {
	need(t, python3)
	ids := makeUsers(t)
	pub := publicDir(t)
	vassals := filepath.Join(pub, "vassals")
	os.Mkdir(vassals, 0o755)
	reports := filepath.Join(pub, "reports")
	os.Mkdir(reports, 0o777)
	os.Chmod(reports, 0o777)
	// The re-executed emperor runs as tEmpUser: its binary must be
	// reachable by that user.
	self, _ := os.Executable()
	bin := filepath.Join(pub, "emperor.test")
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(bin, data, 0o755)
	pidfile := filepath.Join(pub, "emperor.pid")
	logfile := filepath.Join(pub, "emperor.log")
	o := opts{
		"emperor": {vassals}, "emperor-tyrant": {"true"}, "emperor-freq": {"1"},
		"uid": {tEmpUser}, "gid": {tGroupA}, "cap": {"setgid,setuid"},
		"pidfile": {pidfile}, "logto": {logfile}, "emperor-wrapper": {fakeVassal(t, pub)},
	}
	j, _ := json.Marshal(o)
	cmd := exec.Command(bin, "-test.run=^$")
	cmd.Env = append(os.Environ(), envRunOpts+"="+string(j), "FAKE_REPORT_DIR="+reports)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer cmd.Process.Kill()
	logText := func() string { b, _ := os.ReadFile(logfile); return string(b) }

	waitFor(t, 10*time.Second, "emperor start", func() bool { return strings.Contains(logText(), "*** starting uWSGI Emperor ***") })
	fi, err := os.Stat(pidfile)
	if err != nil || fi.Mode().Perm() != 0o644 {
		t.Fatalf("pidfile %v %v, want mode 0644", fi, err)
	}
	pidText, _ := os.ReadFile(pidfile)
	if strings.TrimSpace(string(pidText)) != strconv.Itoa(cmd.Process.Pid) {
		t.Errorf("pidfile says %q, emperor pid %d (a capped drop must keep the pid)", pidText, cmd.Process.Pid)
	}
	status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
	if f := statusField(string(status), "Uid"); !strings.HasPrefix(f, strconv.Itoa(ids.empUID)+"\t") {
		t.Errorf("emperor Uid %q, want %d", f, ids.empUID)
	}
	if f := statusField(string(status), "CapEff"); f != "00000000000000c0" {
		t.Errorf("emperor CapEff %q, want setgid+setuid only", f)
	}

	p := filepath.Join(vassals, "app.ini")
	os.WriteFile(p, []byte("[uwsgi]\n"), 0o644)
	os.Chown(p, ids.uid, ids.gidA)
	rep := readReport(t, filepath.Join(reports, "app.ini.json"))
	groups := fmt.Sprint(rep["groups"])
	if int(rep["uid"].(float64)) != ids.uid || int(rep["gid"].(float64)) != ids.gidA ||
		groups != fmt.Sprintf("[%d %d]", ids.gidA, ids.gidB) {
		t.Errorf("vassal ran as %v:%v groups %s; want %d:%d [%d %d]\nlog:\n%s", rep["uid"], rep["gid"], groups, ids.uid, ids.gidA, ids.gidA, ids.gidB, logText())
	}
	if rep["cap_eff"] != "0000000000000000" || rep["cap_amb"] != "0000000000000000" {
		t.Errorf("vassal capabilities eff %v amb %v: the emperor's caps leaked", rep["cap_eff"], rep["cap_amb"])
	}
	env, _ := rep["env"].(map[string]any)
	if env["UWSGI_EMPEROR_FD"] != "3" {
		t.Errorf("vassal env %v", env)
	}

	cmd.Process.Signal(syscall.SIGINT)
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("emperor exit: %v\n%s", err, logText())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("emperor did not stop:\n%s", logText())
	}
	for _, l := range []string{"setuid() to " + strconv.Itoa(ids.empUID), "[emperor] *** RAGNAROK EVOKED ***", "The Emperor is buried."} {
		if !strings.Contains(logText(), l) {
			t.Errorf("log lacks %q:\n%s", l, logText())
		}
	}
}

func statusField(status, key string) string {
	for _, l := range strings.Split(status, "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && k == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// TestVassalCaps: emperor-cap leaves vassals only the listed
// capabilities (plus CAP_SETPCAP) in their bounding set (T-19), without
// touching the emperor's own.
func TestVassalCaps(t *testing.T) {
	need(t, python3)
	if os.Geteuid() != 0 {
		t.Fatal("needs root: a bounding set can only be seen shrinking from a full one")
	}
	dir, tools, reports := t.TempDir(), t.TempDir(), t.TempDir()
	env := append(os.Environ(), "FAKE_REPORT_DIR="+reports)
	r := startEmperor(t, Settings{Sources: []string{dir}, Binary: fakeVassal(t, tools),
		VassalCaps: []string{"net_bind_service", "chown"}}, env)
	os.WriteFile(filepath.Join(dir, "c.ini"), []byte("[uwsgi]\n"), 0o644)
	rep := readReport(t, filepath.Join(reports, "c.ini.json"))
	// chown (0), setpcap (8), net_bind_service (10).
	if rep["cap_bnd"] != "0000000000000501" {
		t.Errorf("vassal CapBnd %v, want 0000000000000501", rep["cap_bnd"])
	}
	r.waitLog(t, "capabilities applied for vassal c.ini (pid: ")
	// Only the spawner thread has the reduced set.
	tasks, _ := filepath.Glob("/proc/self/task/*/status")
	reduced := 0
	for _, task := range tasks {
		st, _ := os.ReadFile(task)
		if statusField(string(st), "CapBnd") == "0000000000000501" {
			reduced++
		}
	}
	if reduced != 1 || len(tasks) < 2 {
		t.Errorf("%d of %d emperor threads have the vassals' bounding set, want exactly 1", reduced, len(tasks))
	}
}
