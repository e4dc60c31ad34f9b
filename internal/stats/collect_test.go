package stats

import (
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gosgi/gosgi/internal/scoreboard"
	"github.com/gosgi/gosgi/internal/sockets"
)

// TestQueueMonitorAndCollect fills a socket's accept queue: the monitor
// logs uWSGI's warning and counts it, and Collect reports the queue, the
// error count and the master's identity (ST-6, ST-7).
func TestQueueMonitorAndCollect(t *testing.T) {
	l, err := sockets.Bind(0, "127.0.0.1:0", "uwsgi", &sockets.Options{Backlog: 2, NoDeferAccept: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var logged []string
	m := &QueueMonitor{Logf: func(f string, a ...any) { logged = append(logged, fmt.Sprintf(f, a...)) }}
	if n := m.Check([]*sockets.Listener{l}); n != 0 || m.Errors() != 0 {
		t.Fatalf("empty queue reported full: %d", n)
	}
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	deadline := time.Now().Add(5 * time.Second)
	for m.Check([]*sockets.Listener{l}) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("queue never reported full")
		}
		// Dialing a full queue blocks in SYN retries: bound it.
		c, err := net.DialTimeout("tcp", l.Addr, 200*time.Millisecond)
		if err == nil {
			conns = append(conns, c)
		}
		time.Sleep(10 * time.Millisecond)
	}
	want := fmt.Sprintf("*** uWSGI listen queue of socket \"127.0.0.1:0\" (fd: %d) full !!! (2/2) ***", l.FD)
	if len(logged) == 0 || logged[len(logged)-1] != want {
		t.Errorf("logged %q, want %q", logged, want)
	}

	b, fd, err := scoreboard.Create()
	if err != nil {
		t.Fatal(err)
	}
	defer os.NewFile(uintptr(fd), "scoreboard").Close()
	b.Worker(1).Pid.Store(int64(os.Getpid()))
	b.Worker(1).RespawnCount.Store(1)
	s := Collect(Instance{Version: "2.0.21", Board: b, Listeners: []*sockets.Listener{l}, Queue: m,
		Workers: BoardOptions{Workers: 2, Cores: 1, Mounts: []string{""}}})
	cwd, _ := os.Getwd()
	if s.Version != "2.0.21" || s.Pid != os.Getpid() || s.UID != os.Getuid() || s.GID != os.Getgid() || s.Cwd != cwd {
		t.Errorf("identity: %+v", s)
	}
	if s.ListenQueue != 2 || s.Load != 2 || s.ListenQueueErrors != m.Errors() || m.Errors() < 1 {
		t.Errorf("queue: lq %d load %d errors %d", s.ListenQueue, s.Load, s.ListenQueueErrors)
	}
	if len(s.Workers) != 2 || s.Workers[0].Status != "idle" || s.Workers[1].ID != 0 || len(s.Locks) != 8 {
		t.Errorf("workers/locks: %+v %+v", s.Workers, s.Locks)
	}
	doc := string(AppendJSON(nil, s, Format{}))
	if !strings.Contains(doc, "\t\"listen_queue\":2,\n") {
		t.Errorf("document:\n%s", doc)
	}
	if empty := Collect(Instance{Version: "x"}); len(empty.Workers) != 0 || empty.Sockets == nil {
		t.Errorf("no board: %+v", empty)
	}
}
