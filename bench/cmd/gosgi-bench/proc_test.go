package main

import (
	"os"
	"os/exec"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	// Field layout from proc(5); the names with spaces and parentheses are
	// what a process may call itself (prctl PR_SET_NAME).
	tail := " S 100 42 42 0 -1 4194560 1 0 0 0 7 3 2 1 20 0 1 0 12345 0 0"
	tests := []struct {
		in      string
		want    procStat
		wantErr bool
	}{
		{"4242 (uwsgi)" + tail, procStat{Pid: 4242, Ppid: 100, State: 'S', Start: 12345, CPU: 13}, false},
		{"7 (a b) c))" + tail, procStat{Pid: 7, Ppid: 100, State: 'S', Start: 12345, CPU: 13}, false},
		{"7 ()" + tail, procStat{Pid: 7, Ppid: 100, State: 'S', Start: 12345, CPU: 13}, false},
		{"7 uwsgi" + tail, procStat{}, true},
		{"x (uwsgi)" + tail, procStat{}, true},
		{"-3 (uwsgi)" + tail, procStat{}, true},
		{"7 (uwsgi) S 100 42", procStat{}, true},
		{"7 (uwsgi) S 100 42 42 0 -1 4194560 1 0 0 0 -7 3 2 1 20 0 1 0 12345", procStat{}, true},
	}
	for _, tt := range tests {
		got, err := parseStat([]byte(tt.in))
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("parseStat(%q) = %+v, %v; want %+v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func FuzzParseStat(f *testing.F) {
	f.Add([]byte("4242 (uwsgi) S 100 42 42 0 -1 4194560 1 0 0 0 7 3 2 1 20 0 1 0 12345 0 0"))
	f.Add([]byte("1 ((() S 0"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ps, err := parseStat(b)
		if err == nil && (ps.Pid < 1 || ps.State == 0) {
			t.Fatalf("parseStat(%q) accepted %+v", b, ps)
		}
	})
}

func TestKBField(t *testing.T) {
	status := "Name:\tuwsgi\nVmPeak:\t  1000 kB\nVmRSS:\t   37612 kB\nRssAnon:\t 10 kB\n"
	rollup := "00400000-7ffc [rollup]\nRss:               37612 kB\nPss:               13512 kB\nPss_Anon:  9 kB\n"
	tests := []struct {
		in, key string
		want    int64
		ok      bool
	}{
		{status, "VmRSS:", 37612, true},
		{status, "VmPeak:", 1000, true},
		{rollup, "Pss:", 13512, true},
		{rollup, "Pss_Anon:", 9, true},
		{status, "VmSwap:", 0, false},
		{"VmRSS:\n", "VmRSS:", 0, false},
		{"VmRSS: x kB", "VmRSS:", 0, false},
		{"VmRSS: -5 kB", "VmRSS:", 0, false},
	}
	for _, tt := range tests {
		got, ok := kbField([]byte(tt.in), tt.key)
		if got != tt.want || ok != tt.ok {
			t.Errorf("kbField(%q, %q) = %d, %v; want %d, %v", tt.in, tt.key, got, ok, tt.want, tt.ok)
		}
	}
}

func FuzzKBField(f *testing.F) {
	f.Add([]byte("VmRSS:\t 37612 kB\n"), "VmRSS:")
	f.Add([]byte("Pss: 1\nPss: 2"), "Pss:")
	f.Fuzz(func(t *testing.T, b []byte, key string) {
		if v, ok := kbField(b, key); ok && v < 0 {
			t.Fatalf("kbField(%q, %q) = %d", b, key, v)
		}
	})
}

// TestProcessTree uses real processes: a shell that starts a busy child.
func TestProcessTree(t *testing.T) {
	sh := exec.Command("/bin/sh", "-c", "sleep 30 & i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; wait")
	if err := sh.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sh.Process.Kill(); _ = sh.Wait() }()
	pid := sh.Process.Pid
	var tree []procStat
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if tree = processTree(pid); len(tree) >= 2 {
			break
		}
	}
	if len(tree) < 2 || tree[0].Pid != pid || tree[1].Ppid != pid {
		t.Fatalf("processTree(%d) = %+v, want the shell and its sleep child", pid, tree)
	}
	time.Sleep(300 * time.Millisecond)
	if cpu := treeCPU(pid); cpu <= 0 {
		t.Errorf("treeCPU of a busy shell = %v, want > 0", cpu)
	}
	m := treeMem(pid)
	if m.Procs < 2 || m.RSSKB <= 0 || m.PSSKB <= 0 || m.PSSKB > m.RSSKB {
		t.Errorf("treeMem = %+v, want >= 2 processes and 0 < PSS <= RSS", m)
	}
	if processTree(1<<30) != nil {
		t.Error("processTree of a missing pid is not empty")
	}
	self, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		t.Fatal(err)
	}
	ps, err := parseStat(self)
	if err != nil || ps.Pid != os.Getpid() || ps.Ppid != os.Getppid() {
		t.Errorf("parseStat(/proc/self/stat) = %+v, %v", ps, err)
	}
}
