package worker

import (
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gosgi/gosgi/internal/embed"
	"github.com/gosgi/gosgi/internal/scoreboard"
)

// watchHarakiri enforces harakiri (PM-40). The worker's Go side is not stuck
// when its Python core is, so it answers the stuck request with a 504 (uWSGI
// just closes the connection), logs uWSGI's HARAKIRI block and kills the
// worker; the master respawns it. The master keeps its own check as a
// backstop.
func (w *Worker) watchHarakiri() {
	limit := time.Duration(w.cfg.Harakiri) * time.Second
	tick := time.NewTicker(min(limit/4, time.Second))
	defer tick.Stop()
	for range tick.C {
		now := time.Now().UnixMicro()
		for id, cs := range w.cores {
			core := &w.slot.Cores[id%scoreboard.MaxCores]
			start := core.RequestStart.Load()
			if start == 0 || time.Duration(now-start)*time.Microsecond < limit {
				continue
			}
			w.harakiri(id, cs, start)
		}
	}
}

func (w *Worker) harakiri(id int, cs *coreState, start int64) {
	w.slot.HarakiriCount.Add(1)
	w.log.Verbosef("*** HARAKIRI ON WORKER %d (pid: %d, try: 1) ***", w.id, w.pid)
	if w.cfg.HarakiriVerbose {
		w.logStuckThread(int(cs.tid.Load()))
	}
	w.log.Verbosef("HARAKIRI !!! worker %d status !!!", w.id)
	if r := cs.current.Load(); r != nil {
		w.log.Verbosef("HARAKIRI [core %d] %s - %s %s since %d", id, r.addr, r.method, r.uri, start/1e6)
	}
	w.log.Verbosef("HARAKIRI !!! end of worker %d status !!!", w.id)
	embed.HarakiriReply(id)
	unix.Kill(os.Getpid(), unix.SIGKILL)
}

// logStuckThread is harakiri-verbose (PM-41): the system call the stuck
// core's thread is in and where the kernel has it waiting, as uWSGI logs
// them for its worker process. gosgi reads the core's own thread: the
// worker's other threads are Go's, not the request's.
func (w *Worker) logStuckThread(tid int) {
	if tid <= 0 {
		return
	}
	dir := "/proc/self/task/" + strconv.Itoa(tid) + "/"
	if b, err := os.ReadFile(dir + "syscall"); err == nil {
		w.log.Printf("HARAKIRI: -- syscall> %s", strings.TrimRight(string(b), "\n"))
	}
	if b, err := os.ReadFile(dir + "wchan"); err == nil {
		w.log.Printf("HARAKIRI: -- wchan> %s", strings.TrimRight(string(b), "\n"))
	}
}
