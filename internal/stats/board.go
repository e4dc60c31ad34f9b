package stats

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gosgi/gosgi/internal/scoreboard"
	"github.com/gosgi/gosgi/internal/sockets"
)

// BoardOptions is what the master knows about its workers that the
// scoreboard does not hold.
type BoardOptions struct {
	Workers int // configured worker slots, ids 1..Workers
	Cores   int // threads per worker; cores beyond scoreboard.MaxCores are not itemised
	// Mounts are the apps' mountpoints in load order ("" for the default
	// app); a running worker lists one app per entry (ST-13).
	Mounts []string
	// MemoryReport fills rss/vsz from /proc when a worker has not stored
	// them itself (memory-report, reload-on-rss: ST-11).
	MemoryReport bool
	// Paused is set while the instance is paused (SIGTSTP): every running
	// worker reports "pause".
	Paused bool
}

// WorkersFromBoard builds the "workers" list from the shared scoreboard
// (ST-11..ST-14). A slot without a live process is "cheap" (pid 0, no
// apps); one that never ran also shows id 0, as uWSGI does (ST-12).
// Running requests' variables are not in the scoreboard, so busy cores list
// no vars.
func WorkersFromBoard(b *scoreboard.Board, o BoardOptions) []Worker {
	n := min(o.Workers, scoreboard.MaxWorkers)
	cores := min(max(o.Cores, 1), scoreboard.MaxCores)
	out := make([]Worker, 0, n)
	for id := 1; id <= n; id++ {
		s := b.Worker(id)
		pid := int(s.Pid.Load())
		w := Worker{
			ID:            id,
			Pid:           pid,
			Accepting:     pid != 0 && s.Accepting.Load() != 0,
			Requests:      s.Requests.Load(),
			DeltaRequests: s.DeltaRequests.Load(),
			Exceptions:    s.Exceptions.Load(),
			HarakiriCount: s.HarakiriCount.Load(),
			Signals:       s.Signals.Load(),
			RSS:           s.RSS.Load(),
			VSZ:           s.VSZ.Load(),
			RunningTime:   s.RunningTime.Load(),
			LastSpawn:     s.LastSpawn.Load(),
			RespawnCount:  s.RespawnCount.Load(),
			TX:            s.TX.Load(),
			AvgRT:         s.AvgRT.Load(),
			Apps:          []App{},
			Cores:         make([]Core, cores),
		}
		switch {
		case pid == 0:
			w.Status = "cheap"
			if w.RespawnCount == 0 {
				w.ID = 0
			}
		case o.Paused:
			w.Status = "pause"
		case s.Busy.Load() > 0:
			w.Status = "busy"
		default:
			w.Status = "idle"
		}
		if pid != 0 && o.MemoryReport && w.RSS == 0 {
			w.RSS, w.VSZ, _ = ProcessMemory(pid)
		}
		if pid != 0 {
			for i, m := range o.Mounts[:min(len(o.Mounts), scoreboard.MaxApps)] {
				a := &s.Apps[i]
				w.Apps = append(w.Apps, App{ID: i, Mountpoint: m, Requests: a.Requests.Load(), Exceptions: a.Exceptions.Load()})
			}
		}
		for i := range w.Cores {
			c := &s.Cores[i]
			w.Cores[i] = Core{
				ID:                i,
				Requests:          c.Requests.Load(),
				StaticRequests:    c.StaticRequests.Load(),
				RoutedRequests:    c.RoutedRequests.Load(),
				OffloadedRequests: c.OffloadedRequests.Load(),
				WriteErrors:       c.WriteErrors.Load(),
				ReadErrors:        c.ReadErrors.Load(),
			}
			if start := c.RequestStart.Load(); pid != 0 && c.InRequest.Load() != 0 && start != 0 {
				w.Cores[i].InRequest = true
				w.Cores[i].RequestStart = start / 1e6
			}
		}
		w.Latency = make([]int64, scoreboard.LatencyBuckets)
		for i := range w.Latency {
			w.Latency[i] = s.Latency[i].Load()
		}
		out = append(out, w)
	}
	return out
}

// SocketsFrom describes the instance's listening sockets with their live
// accept queues (ST-10) and returns the largest queue among them, the
// "listen_queue" (ST-7). Router sockets (the `http` option) are not listed,
// as uWSGI's router sockets are not. UNIX sockets report max_queue 0 like
// uWSGI, but their real queue.
func SocketsFrom(ls []*sockets.Listener) (out []Socket, listenQueue int64) {
	out = []Socket{}
	for _, l := range ls {
		if l.Proto == "router" {
			continue
		}
		q, mx := sockets.QueueLen(l.FD)
		if l.Network == "unix" || l.Network == "abstract" {
			mx = 0
		}
		out = append(out, Socket{Name: l.Name, Proto: l.Proto, Queue: int64(q), MaxQueue: int64(mx), Shared: l.Shared})
		listenQueue = max(listenQueue, int64(q))
	}
	return out, listenQueue
}

// ProcessMemory reads a process's resident and virtual size in bytes from
// /proc/PID/statm (memory-report, OP-126).
func ProcessMemory(pid int) (rss, vsz int64, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/statm")
	if err != nil {
		return 0, 0, fmt.Errorf("memory of pid %d: %w", pid, err)
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0, 0, fmt.Errorf("memory of pid %d: short statm %q", pid, b)
	}
	size, err1 := strconv.ParseInt(f[0], 10, 64)
	res, err2 := strconv.ParseInt(f[1], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("memory of pid %d: bad statm %q", pid, b)
	}
	page := int64(os.Getpagesize())
	return res * page, size * page, nil
}

// LatencyBounds are the upper bounds, in seconds, of the request duration
// buckets a worker counts in its scoreboard slot; the last bucket
// (index len(LatencyBounds)) holds everything slower.
var LatencyBounds = [scoreboard.LatencyBuckets - 1]float64{
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
}

// LatencyBucket is the scoreboard bucket for a request that took d.
func LatencyBucket(d time.Duration) int {
	s := d.Seconds()
	for i, b := range LatencyBounds {
		if s <= b {
			return i
		}
	}
	return len(LatencyBounds)
}
