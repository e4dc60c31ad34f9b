package stats

import (
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gosgi/gosgi/internal/scoreboard"
	"github.com/gosgi/gosgi/internal/sockets"
)

// TestWorkersFromBoard: slot counters become worker, app and core items
// with uWSGI's statuses and id rules (ST-11..ST-14).
func TestWorkersFromBoard(t *testing.T) {
	b, fd, err := scoreboard.Create()
	if err != nil {
		t.Fatal(err)
	}
	defer os.NewFile(uintptr(fd), "scoreboard").Close()
	self := os.Getpid()

	busy := b.Worker(1)
	busy.Pid.Store(int64(self))
	busy.Accepting.Store(1)
	busy.Requests.Store(5)
	busy.DeltaRequests.Store(1)
	busy.Exceptions.Store(2)
	busy.HarakiriCount.Store(1)
	busy.Busy.Store(1)
	busy.RunningTime.Store(1500)
	busy.AvgRT.Store(300)
	busy.TX.Store(999)
	busy.LastSpawn.Store(1795226507)
	busy.RespawnCount.Store(3)
	busy.Apps[0].Requests.Store(4)
	busy.Apps[1].Exceptions.Store(1)
	busy.Cores[1].Requests.Store(7)
	busy.Cores[1].WriteErrors.Store(1)
	busy.Cores[1].InRequest.Store(1)
	busy.Cores[1].RequestStart.Store(1795226509_123456)

	idle := b.Worker(2)
	idle.Pid.Store(4242)
	idle.Accepting.Store(1)
	idle.RespawnCount.Store(1)

	cheaped := b.Worker(3) // ran, then cheaped: keeps its id
	cheaped.RespawnCount.Store(1)
	cheaped.Requests.Store(9)
	// slot 4 never ran

	o := BoardOptions{Workers: 4, Cores: 2, Mounts: []string{"", "/admin"}, MemoryReport: true}
	ws := WorkersFromBoard(b, o)
	if len(ws) != 4 {
		t.Fatalf("%d workers", len(ws))
	}
	tests := []struct {
		name               string
		got                Worker
		id, pid            int
		status             string
		apps               int
		accepting, memory  bool
		requests, respawns int64
	}{
		{"busy", ws[0], 1, self, "busy", 2, true, true, 5, 3},
		{"idle", ws[1], 2, 4242, "idle", 2, true, false, 0, 1},
		{"cheaped after running", ws[2], 3, 0, "cheap", 0, false, false, 9, 1},
		{"never started ST-12", ws[3], 0, 0, "cheap", 0, false, false, 0, 0},
	}
	for _, tc := range tests {
		w := tc.got
		if w.ID != tc.id || w.Pid != tc.pid || w.Status != tc.status || len(w.Apps) != tc.apps ||
			w.Accepting != tc.accepting || w.Requests != tc.requests || w.RespawnCount != tc.respawns {
			t.Errorf("%s: got %+v", tc.name, w)
		}
		if (w.RSS > 0 && w.VSZ >= w.RSS) != tc.memory && tc.memory {
			t.Errorf("%s: rss %d vsz %d", tc.name, w.RSS, w.VSZ)
		}
		if len(w.Cores) != 2 {
			t.Errorf("%s: %d cores", tc.name, len(w.Cores))
		}
	}
	w := ws[0]
	if w.Exceptions != 2 || w.HarakiriCount != 1 || w.RunningTime != 1500 || w.AvgRT != 300 || w.TX != 999 ||
		w.DeltaRequests != 1 || w.LastSpawn != 1795226507 {
		t.Errorf("busy counters: %+v", w)
	}
	if a := w.Apps; a[0].Requests != 4 || a[1].Mountpoint != "/admin" || a[1].ID != 1 || a[1].Exceptions != 1 {
		t.Errorf("apps: %+v", a)
	}
	if c := w.Cores[1]; !c.InRequest || c.RequestStart != 1795226509 || c.Requests != 7 || c.WriteErrors != 1 || c.ID != 1 {
		t.Errorf("busy core: %+v", c)
	}
	if c := w.Cores[0]; c.InRequest || c.RequestStart != 0 {
		t.Errorf("idle core: %+v", c)
	}
	if ws := WorkersFromBoard(b, BoardOptions{Workers: 1, Paused: true}); ws[0].Status != "pause" {
		t.Errorf("paused: %q", ws[0].Status)
	}
}

// TestSocketsFrom: the live accept queue of each socket and the largest
// one as listen_queue (ST-7, ST-10).
func TestSocketsFrom(t *testing.T) {
	tcp, err := sockets.Bind(0, "127.0.0.1:0", "http", &sockets.Options{Backlog: 50, NoDeferAccept: true})
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	path := filepath.Join(t.TempDir(), "app.sock")
	us, err := sockets.Bind(1, path, "uwsgi", &sockets.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer us.Close()
	router := &sockets.Listener{Name: "127.0.0.1:1", Proto: "router", FD: -1}

	const waiting = 3
	for range waiting { // connected, never accepted
		c, err := net.DialTimeout("tcp", tcp.Addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	deadline := time.Now().Add(5 * time.Second)
	var got []Socket
	var lq int64
	for {
		got, lq = SocketsFrom([]*sockets.Listener{tcp, us, router})
		if lq == waiting || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if lq != waiting || len(got) != 2 {
		t.Fatalf("listen_queue %d, sockets %+v", lq, got)
	}
	if got[0].Name != "127.0.0.1:0" || got[0].Proto != "http" || got[0].Queue != waiting || got[0].MaxQueue != 50 {
		t.Errorf("tcp socket: %+v", got[0])
	}
	if got[1].Name != path || got[1].Proto != "uwsgi" || got[1].MaxQueue != 0 {
		t.Errorf("unix socket: %+v", got[1])
	}
}

func TestProcessMemory(t *testing.T) {
	rss, vsz, err := ProcessMemory(os.Getpid())
	if err != nil || rss <= 0 || vsz < rss {
		t.Errorf("rss %d vsz %d err %v", rss, vsz, err)
	}
	if _, _, err := ProcessMemory(1 << 30); err == nil {
		t.Error("no error for a missing pid")
	}
}

func TestLatencyBucket(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want int
	}{
		{0, 0}, {time.Millisecond, 0}, {1001 * time.Microsecond, 1}, {time.Second, 9},
		{61 * time.Second, len(LatencyBounds)}, {-time.Second, 0},
	}
	for _, tc := range tests {
		if got := LatencyBucket(tc.d); got != tc.want {
			t.Errorf("LatencyBucket(%v) = %d, want %d", tc.d, got, tc.want)
		}
	}
	if scoreboard.LatencyBuckets != len(LatencyBounds)+1 {
		t.Error("scoreboard and bounds disagree")
	}
}
