package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"time"
)

// Linux reports /proc/PID/stat times in USER_HZ ticks, which is 100 on every
// architecture Debian ships (it is part of the kernel ABI, unlike HZ).
const userHZ = 100

// procStat is the part of /proc/PID/stat the suite needs.
type procStat struct {
	Pid, Ppid int
	State     byte   // R, S, D, Z (zombie: exited, not yet reaped), ...
	Start     uint64 // start time in ticks since boot: (Pid, Start) names a process uniquely
	// CPU is utime+stime+cutime+cstime in ticks. Including the reaped
	// children's time means a worker that exits during the measured window
	// (a reload) is still accounted for, through its parent.
	CPU uint64
}

// parseStat parses the contents of /proc/PID/stat. The command name is in
// parentheses and may itself contain spaces and parentheses, so fields are
// counted from the last ')'.
func parseStat(b []byte) (procStat, error) {
	open := bytes.IndexByte(b, '(')
	end := bytes.LastIndexByte(b, ')')
	if open < 1 || end < open {
		return procStat{}, fmt.Errorf("stat %q: no command name", clip(b))
	}
	pid, err := strconv.Atoi(string(bytes.TrimSpace(b[:open])))
	if err != nil || pid < 1 {
		return procStat{}, fmt.Errorf("stat %q: bad pid", clip(b))
	}
	// Fields after the name, numbered as in proc(5): f[0] is field 3 (state).
	f := bytes.Fields(b[end+1:])
	if len(f) < 20 {
		return procStat{}, fmt.Errorf("stat %q: %d fields after the name, want >= 20", clip(b), len(f))
	}
	num := func(i int) (uint64, error) {
		v, err := strconv.ParseUint(string(f[i]), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("stat field %d: %w", i+3, err)
		}
		return v, nil
	}
	ps := procStat{Pid: pid, State: f[0][0]}
	ppid, err := strconv.Atoi(string(f[1]))
	if err != nil {
		return procStat{}, fmt.Errorf("stat ppid: %w", err)
	}
	ps.Ppid = ppid
	for _, i := range []int{11, 12, 13, 14} { // utime stime cutime cstime
		v, err := num(i)
		if err != nil {
			return procStat{}, err
		}
		ps.CPU += v
	}
	if ps.Start, err = num(19); err != nil {
		return procStat{}, err
	}
	return ps, nil
}

// allStats reads /proc/*/stat. Processes that vanish while reading are skipped.
func allStats() map[int]procStat {
	out := map[int]procStat{}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return out
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		if ps, err := parseStat(b); err == nil && ps.Pid == pid {
			out[pid] = ps
		}
	}
	return out
}

// processTree returns root and all its live descendants.
func processTree(root int) []procStat {
	all := allStats()
	r, ok := all[root]
	if !ok {
		return nil
	}
	kids := map[int][]int{}
	for _, p := range all {
		kids[p.Ppid] = append(kids[p.Ppid], p.Pid)
	}
	out := []procStat{r}
	for i := 0; i < len(out); i++ {
		for _, k := range kids[out[i].Pid] {
			out = append(out, all[k])
		}
	}
	return out
}

// treeCPU is the CPU time used so far by root's tree (see procStat.CPU).
func treeCPU(root int) time.Duration {
	var ticks uint64
	for _, p := range processTree(root) {
		ticks += p.CPU
	}
	return time.Duration(ticks) * time.Second / userHZ
}

// Mem is memory summed over a process tree, in KiB.
type Mem struct {
	RSSKB int64 `json:"rss_kb"`
	PSSKB int64 `json:"pss_kb"`
	Procs int   `json:"procs"`
}

// treeMem sums VmRSS (shared pages counted once per process) and PSS
// (shared pages divided among their users) over root's tree.
func treeMem(root int) Mem {
	var m Mem
	for _, p := range processTree(root) {
		dir := "/proc/" + strconv.Itoa(p.Pid)
		if b, err := os.ReadFile(dir + "/status"); err == nil {
			if v, ok := kbField(b, "VmRSS:"); ok {
				m.RSSKB += v
			}
		}
		if b, err := os.ReadFile(dir + "/smaps_rollup"); err == nil {
			if v, ok := kbField(b, "Pss:"); ok {
				m.PSSKB += v
			}
		}
		m.Procs++
	}
	return m
}

// kbField finds a "Key:   123 kB" line and returns 123.
func kbField(b []byte, key string) (int64, bool) {
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		rest, ok := bytes.CutPrefix(line, []byte(key))
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) == 0 {
			return 0, false
		}
		v, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil || v < 0 {
			return 0, false
		}
		return v, true
	}
	return 0, false
}
