package master

import (
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gosgi/gosgi/internal/sockets"
)

// spawn forks worker slot w from the zygote (PM-2, PM-9, PM-10).
func (m *Master) spawn(w *workerSlot, respawn bool) error {
	pid, err := m.zygote.fork(w.id)
	if err != nil {
		return fmt.Errorf("spawn worker %d: %w", w.id, err)
	}
	w.pid, w.spawned, w.stopped, w.everSpawned = pid, time.Now(), false, true
	slot := m.board.Worker(w.id)
	slot.Pid.Store(int64(pid))
	slot.RespawnCount.Add(1)
	slot.LastSpawn.Store(w.spawned.Unix())
	switch {
	case respawn:
		m.log.Printf("Respawned uWSGI worker %d (new pid: %d)", w.id, pid)
	case !m.hasMaster && m.processes == 1:
		m.log.Printf("spawned uWSGI worker %d (and the only) (pid: %d, cores: %d)", w.id, pid, m.cores())
	default:
		m.log.Printf("spawned uWSGI worker %d (pid: %d, cores: %d)", w.id, pid, m.cores())
	}
	return nil
}

// masterSignals are the signals the master handles. They are asked for
// first thing at startup: a signal that arrives before, for example a
// second SIGHUP during a reload, would otherwise end the process.
var masterSignals = []os.Signal{unix.SIGCHLD, unix.SIGHUP, unix.SIGINT, unix.SIGQUIT, unix.SIGTERM,
	unix.SIGUSR1, unix.SIGUSR2, unix.SIGALRM, unix.SIGPIPE, unix.SIGTSTP}

// loop is the master's event loop: it reaps children, respawns workers and
// acts on signals until the instance stops or re-executes itself.
func (m *Master) loop() (int, error) {
	sigs := m.sigs
	m.cmds = make(chan command, 16)
	cmds := m.cmds
	if fifos := m.cfg.List("master-fifo"); len(fifos) > 0 {
		go m.readFifos(fifos, cmds)
	}
	if paths := m.cfg.List("fs-reload"); len(paths) > 0 {
		go m.watchFsReload(paths, cmds)
	}
	if pipe := emperorPipe(); pipe != nil {
		m.emperor = pipe
		go m.serveEmperor(pipe, cmds)
	}
	// A fast tick retires replaced workers promptly; the uWSGI "cycle"
	// checks (harakiri, touch files, lifetimes) run every tenth.
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	cycle := 0
	m.touchMtime = map[string]time.Time{}
	for _, opt := range touchOptions {
		for _, f := range m.cfg.List(opt) {
			m.touchMtime[f] = mtime(f)
		}
	}
	dieOnTerm := m.cfg.Bool("die-on-term")
	for {
		select {
		case sig := <-sigs:
			switch sig {
			case unix.SIGCHLD:
				if code, done := m.reap(); done {
					return code, nil
				}
			case unix.SIGHUP:
				return m.reload(true)
			case unix.SIGTERM:
				if dieOnTerm {
					return m.shutdown(), nil
				}
				return m.reload(false)
			case unix.SIGQUIT:
				if dieOnTerm {
					return m.reload(false)
				}
				return m.shutdown(), nil
			case unix.SIGINT:
				return m.shutdown(), nil
			case unix.SIGUSR1:
				m.printStats()
			case unix.SIGTSTP:
				m.togglePause()
			case unix.SIGUSR2, unix.SIGALRM: // QK-4: uWSGI's master dies here; we do not
				m.log.Printf("*** %s received by the master: ignored ***", unix.SignalName(sig.(syscall.Signal)))
			}
		case c := <-cmds:
			switch c {
			case cmdReload:
				return m.reload(true)
			case cmdBrutalReload:
				return m.reload(false)
			case cmdGracefulStop:
				return m.gracefulShutdown(), nil
			case cmdStop:
				return m.shutdown(), nil
			case cmdWorkersReload:
				m.reloadWorkers()
			case cmdWorkersBrutal:
				m.killWorkers(unix.SIGTERM) // respawned as they die
			case cmdChainReload:
				m.startChain()
			case cmdReopenLogs:
				m.reopenLogs()
			case cmdPause:
				m.togglePause()
			case cmdStats:
				m.printStats()
			case cmdMoreWorkers:
				m.cheaperAdd(1)
			case cmdFewerWorkers:
				m.cheaperRemove()
			case cmdRewritePidfile:
				m.writePidfilesAgain(true)
			default:
				m.log.Printf("[uwsgi-fifo] unknown command '%c'", byte(c))
			}
		case <-m.idleWake():
			m.wakeFromIdle()
		case <-tick.C:
			m.checkRecycle()
			m.retireReady()
			m.stepChain()
			if cycle++; cycle%10 != 0 {
				continue
			}
			if m.touched("touch-reload") {
				return m.reload(true)
			}
			if m.touched("touch-workers-reload") {
				m.reloadWorkers()
			}
			if m.touched("touch-chain-reload") {
				m.startChain()
			}
			if m.touched("touch-logreopen") {
				m.reopenLogs()
			}
			m.checkOldWorkers()
			m.queue.Check(m.listeners)
			m.checkHarakiri()
			m.checkLifetimes()
			m.checkCheaper()
			if m.checkIdle() {
				return m.shutdown(), nil
			}
			m.checkSmartDaemons()
			m.rotateLog()
		}
	}
}

// reap collects dead children; done reports that the instance must end.
func (m *Master) reap() (int, bool) {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if err == unix.EINTR {
			continue
		}
		if pid <= 0 || err != nil {
			return 0, false
		}
		if m.zygote != nil && pid == m.zygote.pid {
			m.log.Printf("the python runtime (pid: %d) died: restarting it", pid)
			m.zygote.close()
			m.zygote = nil
			continue
		}
		if m.auxDied(pid, ws) || m.daemonDied(pid, ws) {
			continue
		}
		if o, ok := m.old[pid]; ok {
			if o.recycled {
				m.log.Printf("worker %d killed successfully (pid: %d)", o.id, pid)
			} else {
				m.log.Printf("worker %d buried after %d seconds", o.id, int(time.Since(o.since).Seconds()))
			}
			delete(m.old, pid)
			continue
		}
		w := m.slotByPid(pid)
		if w == nil {
			continue // an adopted orphan we never knew
		}
		if code, done := m.workerDied(w, ws); done {
			return code, true
		}
	}
}

func (m *Master) slotByPid(pid int) *workerSlot {
	for _, w := range m.workers {
		if w.pid == pid {
			return w
		}
	}
	return nil
}

// workerDied logs a worker's end as uWSGI does (PM-10) and respawns it.
func (m *Master) workerDied(w *workerSlot, ws unix.WaitStatus) (int, bool) {
	pid := w.pid
	w.pid = 0
	m.board.Worker(w.id).Pid.Store(0)
	switch {
	case ws.Signaled():
		m.log.Printf("DAMN ! worker %d (pid: %d) died, killed by signal %d :( trying respawn ...", w.id, pid, ws.Signal())
	case ws.ExitStatus() == 22:
		if m.cfg.Bool("need-app") {
			m.log.Printf("OOPS ! failed loading app in worker %d (pid %d)", w.id, pid)
			m.log.Printf("need-app requested, destroying the instance...")
			m.killWorkers(unix.SIGINT)
			m.vacuum()
			return 22, true
		}
		m.log.Printf("OOPS ! failed loading app in worker %d (pid %d) :( trying again...", w.id, pid)
	case w.cheaped:
		m.log.Printf("worker %d killed successfully (pid: %d)", w.id, pid)
		m.log.Printf("uWSGI worker %d cheaped.", w.id)
		return 0, false
	case w.stopped || ws.ExitStatus() == 0 || ws.ExitStatus() == 17:
		m.log.Printf("worker %d killed successfully (pid: %d)", w.id, pid)
	default:
		m.log.Printf("DAMN ! worker %d (pid: %d) died :( trying respawn ...", w.id, pid)
	}
	if !m.hasMaster {
		// PM-7: without a master nothing respawns; the instance ends with
		// its last worker.
		for _, o := range m.workers {
			if o.pid != 0 {
				return 0, false
			}
		}
		return 0, true
	}
	m.forkbombDelay()
	if m.zygote == nil {
		if err := m.restartZygote(); err != nil {
			// Keep the other workers: a reload after a fix brings it back.
			m.log.Printf("cannot respawn worker %d: %v", w.id, err)
			return 0, false
		}
	}
	if err := m.spawn(w, true); err != nil {
		m.log.Printf("%v", err)
	}
	return 0, false
}

// forkbombDelay sleeps when workers die faster than one per worker a
// second (PM-10, forkbomb-delay).
func (m *Master) forkbombDelay() {
	now := time.Now()
	kept := m.respawns[:0]
	for _, t := range m.respawns {
		if now.Sub(t) < time.Second {
			kept = append(kept, t)
		}
	}
	m.respawns = append(kept, now)
	if len(m.respawns) > len(m.workers) {
		d := m.cfg.Int("forkbomb-delay")
		m.log.Printf("worker respawning too fast !!! i have to sleep a bit (%d seconds)...", d)
		time.Sleep(time.Duration(d) * time.Second)
		m.respawns = m.respawns[:0]
	}
}

func (m *Master) restartZygote() error {
	return m.startPython()
}

// killWorkers sends sig to every worker, including those of the image this
// one replaced that are still being retired.
func (m *Master) killWorkers(sig unix.Signal) {
	for _, w := range m.workers {
		if w.pid > 0 {
			unix.Kill(w.pid, sig)
		}
	}
	for pid := range m.old {
		unix.Kill(pid, sig)
	}
}

// waitWorkers waits until every worker, and every worker of the image this
// one replaced, has exited, SIGKILLing those still alive after the mercy
// period (PM-20 step 3). Left unwaited, they would outlive the master.
func (m *Master) waitWorkers(mercy time.Duration) {
	start := time.Now()
	alive := map[int]int{} // pid -> worker id
	for _, w := range m.workers {
		if w.pid > 0 {
			alive[w.pid] = w.id
		}
	}
	for pid, o := range m.old {
		alive[pid] = o.id
	}
	killed := false
	for len(alive) > 0 {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if err == nil && pid > 0 {
			if id, ok := alive[pid]; ok {
				m.log.Printf("worker %d buried after %d seconds", id, int(time.Since(start).Seconds()))
				delete(alive, pid)
				delete(m.old, pid)
				for _, w := range m.workers {
					if w.pid == pid {
						w.pid = 0
					}
				}
			}
			continue
		}
		if err == unix.ECHILD {
			return // none left that are ours to wait for
		}
		if !killed && time.Since(start) > mercy {
			for pid, id := range alive {
				m.log.Verbosef("worker %d (pid: %d) is taking too much time to die...NO MERCY !!!", id, pid)
				unix.Kill(pid, unix.SIGKILL)
			}
			killed = true
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// shutdown stops everything (PM-24) and returns the exit code.
func (m *Master) shutdown() int {
	m.log.Printf("SIGINT/SIGTERM received...killing workers...")
	return m.stopAll(unix.SIGINT)
}

// stopAll ends the daemons, mules, spoolers and zygote, sends sig to every
// worker (SIGINT: stop now, SIGHUP: finish the request first) and waits
// for them, then exits cleanly.
func (m *Master) stopAll(sig unix.Signal) int {
	m.stopDaemons()
	m.killAux()
	m.zygote.close()
	m.killWorkers(sig)
	m.waitWorkers(m.mercy)
	m.log.Printf("goodbye to uWSGI.")
	m.vacuum()
	return 0
}

// reload re-executes the master keeping the listening sockets (PM-20,
// PM-22). A graceful reload leaves the running workers serving: the new
// master image spawns its workers first and only then asks the old ones to
// finish their requests and exit, so no request waits on the reload.
func (m *Master) reload(graceful bool) (int, error) {
	if graceful {
		m.log.Printf("...gracefully killing workers...")
	} else {
		m.log.Printf("...brutally killing workers...")
		m.killWorkers(unix.SIGTERM)
		m.waitWorkers(m.mercy)
	}
	if m.cfg.Bool("exit-on-reload") {
		m.killWorkers(unix.SIGHUP)
		m.waitWorkers(m.mercy)
		m.log.Printf("uWSGI: GAME OVER (insert coin)")
		m.vacuum()
		return 0, nil
	}
	m.stopDaemons()
	m.killAux()
	m.zygote.close()
	m.log.Printf("binary reloading uWSGI...")
	if err := os.Chdir(m.cwd); err == nil {
		m.log.Printf("chdir() to %s", m.cwd)
	}
	if fd, err := strconv.Atoi(os.Getenv("UWSGI_EMPEROR_FD")); err == nil {
		unix.FcntlInt(uintptr(fd), unix.F_SETFD, 0) // the new image talks to the emperor too
	}
	for _, l := range m.listeners {
		m.log.Printf("found fd %d mapped to socket %d (%s)", l.FD, l.Index, l.Name)
		if err := l.SetInheritable(true); err != nil {
			return 1, err
		}
	}
	var old []string
	for _, w := range m.workers {
		if w.pid > 0 {
			old = append(old, fmt.Sprintf("%d:%d", w.pid, w.id))
		}
	}
	for pid, o := range m.old {
		old = append(old, fmt.Sprintf("%d:%d", pid, o.id))
	}
	m.log.Printf("running %s", m.binary)
	// A SIGHUP arriving before the new image asks for it would end the
	// process (the Go runtime's default); ignored, it is dropped instead,
	// and it is redundant while a reload runs. SIG_IGN survives execve and
	// Go keeps an inherited SIG_IGN for SIGHUP until signal.Notify.
	signal.Ignore(unix.SIGHUP)
	env := withEnv(os.Environ(), map[string]string{
		"UWSGI_RELOADS":     strconv.Itoa(m.reloads + 1),
		sockets.EnvSockets:  sockets.Encode(m.listeners),
		"GOSGI_OLD_WORKERS": strings.Join(old, ","),
	})
	if m.logRouter != nil {
		kv := m.logRouter.keepForExec()
		env = withEnv(env, map[string]string{kv[0]: kv[1]})
	}
	if m.stopArrived() {
		return m.shutdown(), nil
	}
	err := syscall.Exec(m.binary, m.argv, env)
	return 1, fmt.Errorf("execve(%s): %w", m.binary, err)
}

// stopArrived is called by reload just before the exec. It takes cmdMu
// for good, so that no emperor message is read and then lost in the exec,
// and reports whether a stop (signal, emperor, master fifo) came while the
// reload ran: the new image would never see it.
func (m *Master) stopArrived() bool {
	stop := false
	check := func(c command) {
		if c == cmdStop || c == cmdGracefulStop {
			stop = true
		}
	}
	for !m.cmdMu.TryLock() { // the emperor reader may wait on a full m.cmds
		select {
		case c := <-m.cmds:
			check(c)
		case <-time.After(5 * time.Millisecond):
		}
	}
	dieOnTerm := m.cfg.Bool("die-on-term")
	for {
		select {
		case c := <-m.cmds:
			check(c)
		case sig := <-m.sigs:
			switch sig {
			case unix.SIGINT:
				stop = true
			case unix.SIGQUIT:
				stop = stop || !dieOnTerm
			case unix.SIGTERM:
				stop = stop || dieOnTerm
			}
		default:
			return stop
		}
	}
}

func withEnv(env []string, set map[string]string) []string {
	out := env[:0:0]
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if _, ok := set[k]; !ok {
			out = append(out, kv)
		}
	}
	for k, v := range set {
		if v != "" {
			out = append(out, k+"="+v)
		}
	}
	return out
}

// adoptOldWorkers takes over the workers of the image this one replaced.
func (m *Master) adoptOldWorkers() {
	m.old = map[int]*oldWorker{}
	for _, item := range strings.Split(os.Getenv("GOSGI_OLD_WORKERS"), ",") {
		p, id, ok := strings.Cut(item, ":")
		if !ok {
			continue
		}
		pid, _ := strconv.Atoi(p)
		wid, _ := strconv.Atoi(id)
		if pid > 0 {
			m.old[pid] = &oldWorker{id: wid, since: time.Now(), pending: true}
		}
	}
	os.Unsetenv("GOSGI_OLD_WORKERS")
}

// checkOldWorkers enforces worker-reload-mercy on the previous image's workers.
func (m *Master) checkOldWorkers() {
	for pid, o := range m.old {
		if !o.pending && !o.killed && time.Since(o.since) > m.mercy {
			m.log.Verbosef("worker %d (pid: %d) is taking too much time to die...NO MERCY !!!", o.id, pid)
			unix.Kill(pid, unix.SIGKILL)
			o.killed = true
		}
	}
}

// checkHarakiri is the master's backstop for harakiri: a worker normally
// kills itself when a request overruns (internal/worker), but one that could
// not is killed here a little later.
func (m *Master) checkHarakiri() {
	limit := m.cfg.Int("harakiri")
	if limit <= 0 {
		return
	}
	now := time.Now().UnixMicro()
	for _, w := range m.workers {
		start := m.board.Worker(w.id).RequestStart.Load()
		if w.pid > 0 && start > 0 && now-start > int64(limit+3)*1e6 {
			m.log.Verbosef("*** HARAKIRI ON WORKER %d (pid: %d, try: 1) ***", w.id, w.pid)
			m.board.Worker(w.id).HarakiriCount.Add(1)
			unix.Kill(w.pid, unix.SIGKILL)
		}
	}
}

var touchOptions = []string{"touch-reload", "touch-workers-reload", "touch-chain-reload", "touch-logreopen"}

// touched reports a change of one of opt's files (PM-47) and logs it as
// uWSGI does.
func (m *Master) touched(opt string) bool {
	for _, f := range m.cfg.List(opt) {
		now := mtime(f)
		if now.Equal(m.touchMtime[f]) {
			continue
		}
		m.touchMtime[f] = now
		switch opt {
		case "touch-reload":
			m.log.Verbosef("*** %s has been touched... grace them all !!! ***", f)
		case "touch-workers-reload":
			m.log.Verbosef("*** %s has been touched... workers reload !!! ***", f)
		case "touch-chain-reload":
			m.log.Verbosef("*** %s has been touched... chain reload !!! ***", f)
		case "touch-logreopen":
			m.log.Verbosef("*** %s has been touched... reopening logs !!! ***", f)
		}
		return true
	}
	return false
}

func mtime(path string) time.Time {
	fi, err := os.Stat(path)
	if err != nil {
		return time.Time{}
	}
	return fi.ModTime()
}

// printStats is SIGUSR1 (PM-26).
func (m *Master) printStats() {
	total := m.board.Header.TotalRequests.Load()
	m.log.Printf("\tworkers total requests: %d", total)
	m.log.Printf("-----------------")
	for _, w := range m.workers {
		s := m.board.Worker(w.id)
		m.log.Printf("\tworker %d app 0 [] requests: %d exceptions: %d", w.id, s.Requests.Load(), s.Exceptions.Load())
		m.log.Printf("-----------------")
	}
}

// notifyReady tells systemd the instance is ready (PM-85).
func notifyReady() {
	addr := os.Getenv("NOTIFY_SOCKET")
	if addr == "" {
		return
	}
	if strings.HasPrefix(addr, "@") {
		addr = "\x00" + addr[1:]
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		return
	}
	defer c.Close()
	c.Write([]byte("STATUS=uWSGI is ready\nREADY=1\n"))
}
