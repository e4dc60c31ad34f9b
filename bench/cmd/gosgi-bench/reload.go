package main

import (
	"context"
	"fmt"
	"syscall"
	"time"
)

// ReloadResult is what a wrk run with SIGHUPs to the master saw.
type ReloadResult struct {
	Wrk       WrkResult     `json:"wrk"`
	Sighups   int           `json:"sighups"`
	Reloads   int           `json:"reloads"`             // SIGHUPs after which the whole process tree was replaced
	MaxReload time.Duration `json:"max_reload_ns"`       // longest SIGHUP -> tree replaced
	AliveErr  string        `json:"alive_err,omitempty"` // "" if the server still answered correctly afterwards
}

// reloadWait bounds the wait for one reload to finish.
const reloadWait = 10 * time.Second

// runReload runs wrk for d and sends SIGHUP (graceful reload, TOP-10/PM-20) to the
// master at d/4, d/2 and 3d/4 (later if a reload is still in progress). A reload counts as observed when every
// process below the master at SIGHUP time is gone and at least as many new
// ones exist, so a server that ignores SIGHUP does not pass silently.
func runReload(ctx context.Context, st *Stack, d time.Duration, wrkOut string) (ReloadResult, error) {
	var res ReloadResult
	type wrkDone struct {
		r   WrkResult
		err error
	}
	done := make(chan wrkDone, 1)
	start := time.Now()
	go func() {
		r, err := runWrk(ctx, wrkRun{URL: st.URL, Duration: d, Conns: st.Config.Conns, KeepAlive: st.Config.keepAlive(),
			PostBytes: apps[st.Config.App].postBytes, Dir: st.Dir, OutFile: wrkOut})
		done <- wrkDone{r, err}
	}()
	pid := st.Pid()
	for i := 1; i <= 3; i++ {
		// On schedule, but never while the previous reload is still going,
		// and only while wrk runs.
		at := start.Add(d * time.Duration(i) / 4)
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-time.After(time.Until(at)):
		}
		if time.Since(start) > d-d/8 {
			break
		}
		before := processTree(pid)
		if len(before) == 0 {
			break // master gone; wrk's errors and the alive check will say so
		}
		if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
			return res, fmt.Errorf("SIGHUP %d: %w", pid, err)
		}
		res.Sighups++
		if took, ok := waitReplaced(pid, before[1:], time.Now().Add(reloadWait)); ok {
			res.Reloads++
			res.MaxReload = max(res.MaxReload, took)
		}
	}
	w := <-done
	if w.err != nil {
		return res, w.err
	}
	res.Wrk = w.r
	actx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	for {
		err := st.Alive(actx)
		if err == nil {
			break
		}
		if actx.Err() != nil || st.srv.exited() {
			res.AliveErr = err.Error()
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	return res, nil
}

// waitReplaced waits until none of old (pid + start time) is alive and the
// master has at least len(old) descendants again; it gives up at deadline.
func waitReplaced(master int, old []procStat, deadline time.Time) (time.Duration, bool) {
	t0 := time.Now()
	for time.Now().Before(deadline) {
		now := processTree(master)
		alive := map[[2]uint64]bool{}
		for _, p := range now {
			alive[[2]uint64{uint64(p.Pid), p.Start}] = true
		}
		replaced := len(now) > len(old)
		for _, p := range old {
			if alive[[2]uint64{uint64(p.Pid), p.Start}] {
				replaced = false
			}
		}
		if replaced {
			return time.Since(t0), true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return 0, false
}
