package emperor

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"
	"golang.org/x/sys/unix"

	"github.com/gosgi/gosgi/internal/logging"
	"github.com/gosgi/gosgi/internal/privs"
)

// Bytes of the emperor pipe (T-06).
const (
	msgStop      = 0  // emperor -> vassal: shut down
	msgReload    = 1  // emperor -> vassal: graceful reload; vassal -> emperor: spawned
	msgAccepting = 5  // vassal -> emperor: accepting requests
	msgLoyal     = 17 // vassal -> emperor: loyal
	msgVoluntary = 22 // vassal -> emperor: please stop me
	msgHeartbeat = 26 // vassal -> emperor: alive
	msgSOS       = 30 // vassal -> emperor: broodlord reinforcement
)

// Emperor supervises the vassals of its sources. Fill the exported
// fields, then call Serve.
type Emperor struct {
	Settings
	// Log receives the emperor's messages.
	Log *logging.Logger
	// Env is the base environment of vassals (nil: this process's).
	Env []string
	// Cwd resolves relative sources (empty: the current directory).
	Cwd string
	// Notify, if set, receives sd_notify state strings (S-22).
	Notify func(state string)
	// Stdout and Stderr of vassals (nil: this process's).
	Stdout, Stderr *os.File

	sources   []Source
	vassals   map[string]*vassal
	blacklist map[string]*blackItem
	events    chan event
	pending   []pendingSpawn
	queued    map[string]bool
	lastSpawn time.Time
	level     time.Duration // global spawn pacing (uWSGI's throttle level)
	scanErrs  map[string]string
	spawner   *privs.Spawner
	statsReq  chan chan []byte
	quit      chan struct{} // closed when Serve returns
	ragnarok  bool
	started   time.Time
}

type pendingSpawn struct {
	file File
	src  int
}

// vassal is one running instance.
type vassal struct {
	name       string
	src        int
	file       File
	uid, gid   int
	cmd        *exec.Cmd
	pid        int
	conn       *os.File // emperor end of the pipe
	born       time.Time
	lastMod    time.Time
	lastHB     time.Time
	lastLoyal  time.Time
	lastReady  time.Time
	lastAccept time.Time
	loyal      bool
	ready      bool
	accepting  bool
	stopping   bool
	stopAt     time.Time
	killed     bool
	respawns   int
	lastRun    time.Time

	// On-demand vassals (T-20): the listening socket the emperor holds,
	// its path, whether no process runs now, whether the running one
	// goes back to waiting when it exits (byte 22), and what ends the
	// current wait.
	listener *os.File
	sockPath string
	waiting  bool
	back     bool
	odDone   chan struct{}
}

// blackItem is the respawn backoff of a vassal that died before it was
// loyal (OP-209).
type blackItem struct {
	first, last time.Time
	level       time.Duration
	attempts    int
}

type eventKind int

const (
	evMessage eventKind = iota
	evExit
	evOnDemand // first connection on an on-demand socket
)

type event struct {
	kind  eventKind
	v     *vassal
	b     byte
	state *os.ProcessState
}

func (e *Emperor) init() error {
	e.vassals = map[string]*vassal{}
	e.blacklist = map[string]*blackItem{}
	e.queued = map[string]bool{}
	e.scanErrs = map[string]string{}
	e.events = make(chan event, 64)
	e.statsReq = make(chan chan []byte)
	e.quit = make(chan struct{})
	e.started = time.Now()
	if e.Env == nil {
		e.Env = os.Environ()
	}
	if e.Stdout == nil {
		e.Stdout = os.Stdout
	}
	if e.Stderr == nil {
		e.Stderr = os.Stderr
	}
	cwd := e.Cwd
	if cwd == "" {
		var err error
		if cwd, err = os.Getwd(); err != nil {
			return fmt.Errorf("emperor: getcwd: %w", err)
		}
	}
	for _, a := range e.Sources {
		s, err := ParseSource(a, cwd)
		if err != nil {
			return err
		}
		e.sources = append(e.sources, s)
	}
	var keep []int
	if len(e.VassalCaps) > 0 {
		caps, err := privs.ParseCaps(e.VassalCaps)
		if err != nil {
			return fmt.Errorf("emperor-cap: %w", err)
		}
		keep = caps
	}
	sp, err := privs.NewSpawner(keep)
	if err != nil {
		return fmt.Errorf("emperor-cap: %w", err)
	}
	e.spawner = sp
	return nil
}

// Serve runs the emperor until a shutdown signal arrives on sigs and
// every vassal is gone. SIGHUP reloads every vassal, SIGUSR1 logs their
// state, SIGINT and SIGQUIT (and SIGTERM) bring Ragnarok (T-09). It
// returns nil after a clean shutdown.
func (e *Emperor) Serve(sigs <-chan os.Signal) error {
	if err := e.init(); err != nil {
		return err
	}
	defer e.spawner.Close()
	defer close(e.quit)
	watcher, err := fsnotify.NewWatcher()
	if err != nil {
		// The periodic scan still works; only promptness is lost.
		e.Log.Printf("[emperor] inotify unavailable (%v), scanning every %s", err, e.Freq)
		watcher = nil
	}
	var fsEvents <-chan fsnotify.Event
	var fsErrors <-chan error
	watched := map[string]bool{}
	if watcher != nil {
		defer watcher.Close()
		fsEvents, fsErrors = watcher.Events, watcher.Errors
	}
	watch := func() {
		if watcher == nil {
			return
		}
		for _, s := range e.sources {
			if s.Dir == "" || watched[s.Dir] {
				continue
			}
			if err := watcher.Add(s.Dir); err == nil {
				watched[s.Dir] = true
			}
		}
	}

	ticker := time.NewTicker(e.Freq)
	defer ticker.Stop()
	soon := time.NewTimer(time.Hour)
	soon.Stop()
	spawnTimer := time.NewTimer(time.Hour)
	spawnTimer.Stop()
	reap := time.NewTicker(time.Second)
	defer reap.Stop()

	schedule := func() {
		if len(e.pending) > 0 {
			wait := time.Until(e.lastSpawn.Add(e.level))
			if wait < 0 {
				wait = 0
			}
			spawnTimer.Reset(wait)
		}
	}

	if e.Stats != "" {
		l, err := ListenStats(e.Stats)
		if err != nil {
			e.Log.Printf("%v", err)
		} else {
			defer l.Close()
			go e.serveStats(l)
			e.Log.Printf("*** Emperor stats server enabled on %s ***", e.Stats)
		}
	}
	watch()
	e.scan()
	schedule()
	e.notify(fmt.Sprintf("READY=1\nSTATUS=The Emperor is governing %d vassals", e.governing()))

	var ragnarokDeadline time.Time
	for {
		if e.ragnarok && len(e.vassals) == 0 {
			e.Log.Verbosef("The Emperor is buried.")
			e.notify("STOPPING=1\nSTATUS=The Emperor is buried.")
			return nil
		}
		select {
		case <-ticker.C:
			if e.ragnarok {
				continue
			}
			watch()
			e.scan()
			schedule()
			e.notify(fmt.Sprintf("STATUS=The Emperor is governing %d vassals", e.governing()))
		case ev, ok := <-fsEvents:
			if !ok {
				fsEvents = nil
				continue
			}
			if ev.Op&fsnotify.Remove != 0 || ev.Op&fsnotify.Rename != 0 {
				// The directory itself may be gone: re-add it later.
				for d := range watched {
					if ev.Name == d {
						delete(watched, d)
					}
				}
			}
			// Editors write in several steps: scan once things settle.
			soon.Reset(50 * time.Millisecond)
		case <-fsErrors:
			// Overflow or similar: the periodic scan catches up.
		case <-soon.C:
			if !e.ragnarok {
				e.scan()
				schedule()
			}
		case <-spawnTimer.C:
			if !e.ragnarok {
				e.spawnNext()
				schedule()
			}
		case ev := <-e.events:
			before := len(e.vassals)
			e.handle(ev)
			if ev.kind == evExit && !e.ragnarok {
				// A dead vassal whose file is still there comes back,
				// subject to the blacklist backoff.
				soon.Reset(50 * time.Millisecond)
			}
			if len(e.vassals) != before {
				e.notify(fmt.Sprintf("STATUS=The Emperor is governing %d vassals", e.governing()))
			}
		case <-reap.C:
			e.checkTimeouts(ragnarokDeadline)
		case reply := <-e.statsReq:
			reply <- e.statsJSON()
		case sig := <-sigs:
			switch sig {
			case syscall.SIGHUP:
				if !e.ragnarok {
					for _, v := range e.sorted() {
						e.reload(v, time.Now())
					}
				}
			case syscall.SIGUSR1:
				for _, v := range e.sorted() {
					e.Log.Printf("vassal instance %s (last modified %d) status %d loyal %d zerg 0",
						v.name, v.lastMod.Unix(), b2i(v.stopping), b2i(v.loyal))
				}
			default:
				if e.ragnarok {
					left := time.Until(ragnarokDeadline) / time.Second
					e.Log.Printf("[emperor] *** RAGNAROK ALREADY EVOKED (mercyless in %d seconds)***", max(left, 0))
					continue
				}
				e.ragnarok = true
				ragnarokDeadline = time.Now().Add(e.CurseTolerance)
				e.Log.Printf("[emperor] *** RAGNAROK EVOKED ***")
				e.pending = nil
				for _, v := range e.sorted() {
					if !v.stopping {
						e.stop(v)
					}
				}
			}
		}
	}
}

// post hands an event to the loop, or drops it once Serve has returned.
func (e *Emperor) post(ev event) {
	select {
	case e.events <- ev:
	case <-e.quit:
	}
}

// governing counts the vassals with a process (S-22).
func (e *Emperor) governing() int {
	n := 0
	for _, v := range e.vassals {
		if !v.waiting {
			n++
		}
	}
	return n
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (e *Emperor) notify(state string) {
	if e.Notify != nil {
		e.Notify(state)
	}
}

// sorted returns the vassals by name, for stable logs and stats.
func (e *Emperor) sorted() []*vassal {
	out := make([]*vassal, 0, len(e.vassals))
	for _, v := range e.vassals {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// scan applies every source's listing (T-03, T-04, T-10..T-12).
func (e *Emperor) scan() {
	for i, src := range e.sources {
		files, err := e.Scan(src)
		if err != nil {
			// uWSGI keeps the vassals of a directory it cannot read (an
			// unmounted share must not stop every app); say so once.
			msg := err.Error()
			if e.scanErrs[src.Arg] != msg {
				e.scanErrs[src.Arg] = msg
				e.Log.Verbosef("[emperor] cannot scan %s: %v (its running vassals are kept)", src.Arg, errors.Unwrap(err))
			}
			continue
		}
		if _, had := e.scanErrs[src.Arg]; had {
			delete(e.scanErrs, src.Arg)
			e.Log.Verbosef("[emperor] %s is readable again", src.Arg)
		}
		seen := make(map[string]bool, len(files))
		for _, f := range files {
			seen[f.Name] = true
			v := e.vassals[f.Name]
			if v == nil {
				if e.Tyrant && Refused(f.UID, f.GID) {
					e.Log.Printf("[emperor-tyrant] invalid permissions for vassal %s", f.Name)
					continue
				}
				if !e.queued[f.Name] {
					e.queued[f.Name] = true
					e.pending = append(e.pending, pendingSpawn{f, i})
				}
				continue
			}
			if v.src != i || v.stopping {
				continue
			}
			if e.Tyrant && (f.UID != v.uid || f.GID != v.gid) {
				e.Log.Printf("!!! permissions of file %s changed. stopping the instance... !!!", f.Name)
				e.stop(v)
				continue
			}
			if f.Mtime.After(v.lastMod) {
				e.reload(v, f.Mtime)
			}
		}
		for _, v := range e.sorted() {
			if v.src == i && !v.stopping && !seen[v.name] {
				e.stop(v)
			}
		}
	}
}

// spawnNext starts the first queued vassal, pacing forks the way
// uWSGI's global throttle does: back-to-back spawns within a second
// double the delay, a calm second halves it (no runaway forks with
// thousands of files).
func (e *Emperor) spawnNext() {
	for len(e.pending) > 0 {
		p := e.pending[0]
		e.pending = e.pending[1:]
		delete(e.queued, p.file.Name)
		if e.vassals[p.file.Name] != nil {
			continue
		}
		f := p.file
		if !e.statFile(&f) {
			continue // gone meanwhile
		}
		if bl := e.blacklist[f.Name]; bl != nil && !e.NoBlacklist && time.Now().Before(bl.last.Add(bl.level)) {
			continue // throttled: a later scan retries
		}
		now := time.Now()
		// uWSGI caps this shared delay only at emperor-max-throttle, which
		// can take minutes to start a thousand vassals; a tenth of
		// emperor-throttle still stops fork storms.
		base := e.Throttle / 1000
		if now.Sub(e.lastSpawn) < time.Second {
			e.level = min(max(e.level*2, base), e.Throttle/10)
		} else {
			e.level = max(e.level/2, base)
		}
		e.lastSpawn = now
		e.spawn(f, p.src)
		return
	}
}

// spawn adds the vassal of a new file: started at once, or, for an
// on-demand vassal (T-20), when its socket gets a first connection.
func (e *Emperor) spawn(f File, src int) {
	v := &vassal{name: f.Name, src: src, file: f, uid: f.UID, gid: f.GID, lastMod: f.Mtime, pid: -1}
	sock, err := e.OnDemandSocket(f)
	if err != nil {
		e.Log.Printf("[uwsgi-emperor] %s -> cannot find its on demand socket: %v", f.Name, err)
	}
	if sock != "" {
		if err := e.listenOnDemand(v, sock); err != nil {
			e.Log.Printf("[uwsgi-emperor] %s -> %v", f.Name, err)
			e.blacklistAdd(f.Name)
			return
		}
		e.vassals[f.Name] = v
		e.Log.Printf("[uwsgi-emperor] %s -> \"on demand\" instance detected, waiting for connections on socket \"%s\" ...", f.Name, sock)
		e.waitOnDemand(v)
		return
	}
	if e.start(v) {
		e.vassals[f.Name] = v
	}
}

// start runs a vassal's process (T-06..T-08, T-13, T-16, T-19). On
// failure it logs, throttles the name and returns false.
func (e *Emperor) start(v *vassal) bool {
	f := v.file
	var cred *syscall.Credential
	if e.Tyrant {
		id, err := TyrantIdentity(f.UID, f.GID, e.NoInitgroups)
		if err != nil {
			e.Log.Verbosef("[emperor-tyrant] cannot run vassal %s as %d:%d: %v", f.Name, f.UID, f.GID, err)
			e.blacklistAdd(f.Name)
			return false
		}
		e.Log.Printf("[emperor-tyrant] dropping privileges to %d %d for instance %s", id.UID, id.GID, f.Name)
		for _, g := range id.Groups {
			if g != id.GID {
				e.Log.Printf("[emperor-tyrant] set additional group %d (%s) for instance %s", g, groupName(g), f.Name)
			}
		}
		if id.Warning != "" {
			e.Log.Printf("[emperor-tyrant] warning: %s (instance %s)", id.Warning, f.Name)
		}
		groups := make([]uint32, len(id.Groups))
		for i, g := range id.Groups {
			groups[i] = uint32(g)
		}
		cred = &syscall.Credential{Uid: uint32(id.UID), Gid: uint32(id.GID), Groups: groups}
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		e.Log.Verbosef("[emperor] socketpair() for vassal %s: %v", f.Name, err)
		return false
	}
	mine := os.NewFile(uintptr(fds[0]), "emperor-pipe")
	theirs := os.NewFile(uintptr(fds[1]), "vassal-pipe")
	defer theirs.Close()

	argv := e.VassalArgs(f.Name)
	var devnull *os.File
	if v.listener == nil {
		if devnull, err = os.Open(os.DevNull); err == nil {
			defer devnull.Close()
		}
	}
	mk := func(bin string) *exec.Cmd {
		c := &exec.Cmd{
			Path:   bin,
			Args:   append([]string{bin}, argv[1:]...),
			Env:    VassalEnv(e.Env, 3),
			Dir:    f.Dir,
			Stdout: e.Stdout,
			Stderr: e.Stderr,
			// fd 3 in the vassal: UWSGI_EMPEROR_FD=3.
			ExtraFiles:  []*os.File{theirs},
			SysProcAttr: &syscall.SysProcAttr{Credential: cred},
		}
		if v.listener != nil {
			// An on-demand vassal finds its listening socket on stdin,
			// as uWSGI passes it ("uwsgi socket 0 inherited ... fd 0").
			c.Stdin = v.listener
		} else if devnull != nil {
			c.Stdin = devnull
		}
		return c
	}
	// Override wrappers first, then the binary, then the fallbacks: the
	// first one that starts runs the vassal.
	var cmd *exec.Cmd
	try := func(bin string) bool {
		c := mk(bin)
		e.spawner.Do(func() { err = c.Start() })
		if err == nil {
			cmd = c
		}
		return err == nil
	}
	started := false
	for _, w := range e.WrapperOverride {
		e.Log.Printf("[emperor] trying to use %s as binary wrapper ...", w)
		if started = try(w); started {
			break
		}
	}
	if !started && !try(argv[0]) {
		for _, w := range e.WrapperFallback {
			if !started {
				e.Log.Printf("[emperor] binary path: %s", argv[0])
				e.Log.Printf("[emperor] trying to use %s as binary fallback ...", w)
				started = try(w)
			}
		}
	}
	if err != nil {
		mine.Close()
		e.Log.Verbosef("[emperor] unable to spawn vassal %s: %v", f.Name, err)
		e.blacklistAdd(f.Name)
		return false
	}
	if len(e.VassalCaps) > 0 {
		e.Log.Printf("capabilities applied for vassal %s (pid: %d)", f.Name, cmd.Process.Pid)
	}
	now := time.Now()
	v.cmd, v.pid, v.conn = cmd, cmd.Process.Pid, mine
	v.waiting, v.stopping, v.back, v.killed = false, false, false, false
	v.ready, v.accepting = false, false
	if v.born.IsZero() {
		v.born = now
	}
	v.lastRun = now
	go e.readPipe(v, mine)
	go func() {
		cmd.Wait()
		e.post(event{kind: evExit, v: v, state: cmd.ProcessState})
	}()
	return true
}

// readPipe forwards the vassal's bytes to the loop until the pipe closes.
func (e *Emperor) readPipe(v *vassal, conn *os.File) {
	buf := make([]byte, 64)
	for {
		n, err := conn.Read(buf)
		for _, b := range buf[:n] {
			e.post(event{kind: evMessage, v: v, b: b})
		}
		if err != nil {
			return
		}
	}
}

func (e *Emperor) handle(ev event) {
	v := ev.v
	if e.vassals[v.name] != v {
		return // a message from an instance already removed
	}
	now := time.Now()
	switch ev.kind {
	case evOnDemand:
		e.onDemandConnection(v)
	case evMessage:
		switch ev.b {
		case msgReload:
			v.ready, v.lastReady = true, now
			e.Log.Verbosef("[emperor] vassal %s has been spawned", v.name)
		case msgAccepting:
			v.accepting, v.lastAccept = true, now
			e.Log.Verbosef("[emperor] vassal %s is ready to accept requests", v.name)
		case msgLoyal:
			if !v.loyal {
				v.loyal, v.lastLoyal = true, now
				e.Log.Verbosef("[emperor] vassal %s is now loyal", v.name)
				delete(e.blacklist, v.name)
			}
		case msgVoluntary:
			if !v.stopping {
				// An on-demand vassal that is idle goes back to waiting
				// for connections instead of being removed.
				v.back = v.listener != nil
				e.stop(v)
			}
		case msgHeartbeat:
			if v.lastHB.IsZero() && e.RequiredHeartbeat > 0 {
				e.Log.Verbosef("[emperor] vassal %s sent its first heartbeat", v.name)
			}
			v.lastHB = now
		case msgSOS:
			// Broodlord mode is not supported: nothing to send.
		}
	case evExit:
		if !v.stopping {
			e.Log.Verbosef("[emperor] curse the uwsgi instance %s (pid: %d)", v.name, v.pid)
		}
		v.conn.Close()
		if !v.loyal {
			e.blacklistAdd(v.name)
		}
		if v.listener != nil && (v.back || !v.stopping) && !e.ragnarok {
			e.backToOnDemand(v)
			return
		}
		e.remove(v)
	}
}

// remove forgets a vassal whose process is gone (or never ran).
func (e *Emperor) remove(v *vassal) {
	if v.listener != nil {
		if v.odDone != nil {
			close(v.odDone)
			v.odDone = nil
		}
		v.listener.Close()
		os.Remove(v.sockPath)
	}
	delete(e.vassals, v.name)
	e.Log.Verbosef("[emperor] removed uwsgi instance %s", v.name)
}

// blacklistAdd records a failure of a vassal that was not loyal.
func (e *Emperor) blacklistAdd(name string) {
	if e.NoBlacklist {
		return
	}
	now := time.Now()
	bl := e.blacklist[name]
	if bl == nil {
		// The first failure is retried at the next scan.
		e.blacklist[name] = &blackItem{first: now, last: now, level: e.Throttle / 1000, attempts: 1}
		return
	}
	bl.last = now
	if bl.level < e.MaxThrottle {
		bl.level += e.Throttle
	} else {
		e.Log.Verbosef("[emperor] maximum throttle level for vassal %s reached !!!", name)
		bl.level /= 2
	}
	bl.attempts++
	if bl.attempts == 2 {
		e.Log.Verbosef("[emperor] unloyal bad behaving vassal found: %s throttling it...", name)
	}
}

// stop asks a vassal to shut down (byte 0). An on-demand vassal with no
// process is removed at once.
func (e *Emperor) stop(v *vassal) {
	v.stopping, v.stopAt = true, time.Now()
	if v.waiting {
		e.Log.Verbosef("[emperor] stop the uwsgi instance %s", v.name)
		e.remove(v)
		return
	}
	if _, err := v.conn.Write([]byte{msgStop}); err != nil {
		// The vassal no longer listens: make sure it goes.
		_ = syscall.Kill(v.pid, syscall.SIGKILL)
		v.killed = true
	}
	e.Log.Verbosef("[emperor] stop the uwsgi instance %s", v.name)
}

// reload asks a vassal for a graceful reload (byte 1).
func (e *Emperor) reload(v *vassal, mtime time.Time) {
	if v.stopping {
		return
	}
	if v.waiting {
		// Nothing runs: the next start reads the new file anyway.
		v.lastMod = mtime
		return
	}
	if _, err := v.conn.Write([]byte{msgReload}); err != nil {
		e.Log.Verbosef("[emperor] cannot reload %s: %v", v.name, err)
	}
	v.respawns++
	v.lastMod = mtime
	e.Log.Verbosef("[emperor] reload the uwsgi instance %s", v.name)
}

// checkTimeouts kills vassals that ignore a stop (curse tolerance, or
// the Ragnarok deadline) and those whose heartbeat stopped.
func (e *Emperor) checkTimeouts(ragnarokDeadline time.Time) {
	now := time.Now()
	for _, v := range e.sorted() {
		if v.waiting {
			continue
		}
		switch {
		case v.stopping && !v.killed && (now.Sub(v.stopAt) > e.CurseTolerance || (e.ragnarok && now.After(ragnarokDeadline))):
			e.Log.Verbosef("[emperor] NO MERCY for vassal %s !!!", v.name)
			_ = syscall.Kill(v.pid, syscall.SIGKILL)
			v.killed = true
		case !v.stopping && e.RequiredHeartbeat > 0 && !v.lastHB.IsZero() && now.Sub(v.lastHB) > e.RequiredHeartbeat:
			e.Log.Verbosef("[emperor] vassal %s sent no heartbeat in last %d seconds, brutally respawning it...", v.name, int(e.RequiredHeartbeat/time.Second))
			v.lastHB = time.Time{}
			_ = syscall.Kill(v.pid, syscall.SIGKILL)
		}
	}
}
