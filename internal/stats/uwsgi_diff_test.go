package stats

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gosgi/gosgi/internal/realuwsgi"
)

// snapshotFromUWSGI decodes a real uWSGI document into a Snapshot, field
// by field, so that AppendJSON can be compared with the original bytes.
func snapshotFromUWSGI(t *testing.T, doc []byte) *Snapshot {
	t.Helper()
	var d struct {
		Version           string
		ListenQueue       int64 `json:"listen_queue"`
		ListenQueueErrors int64 `json:"listen_queue_errors"`
		SignalQueue       int64 `json:"signal_queue"`
		Load              int64
		Pid, UID, GID     int
		Cwd               string
		Locks             []map[string]int
		Sockets           []struct {
			Name, Proto string
			Queue       int64
			MaxQueue    int64 `json:"max_queue"`
			Shared      int
			CanOffload  int `json:"can_offload"`
		}
		Workers []struct {
			ID, Pid, Accepting                                        int
			Requests, DeltaRequests, Exceptions, HarakiriCount        int64
			Signals, SignalQueue                                      int64
			Status                                                    string
			RSS, VSZ, RunningTime, LastSpawn, RespawnCount, TX, AvgRT int64
			Apps                                                      []struct {
				ID, Modifier1                     int
				Mountpoint                        string
				StartupTime, Requests, Exceptions int64
				Chdir                             string
			}
			Cores []struct {
				ID                                                    int
				Requests, StaticRequests, RoutedRequests              int64
				OffloadedRequests, WriteErrors, ReadErrors, InRequest int64
				Vars                                                  []string
				ReqInfo                                               struct{ RequestStart int64 } `json:"req_info"`
			}
		}
		Caches []struct {
			Name, Hash              string
			HashSize                int64 `json:"hashsize"`
			KeySize                 int64 `json:"keysize"`
			MaxItems                int64 `json:"max_items"`
			Blocks                  int64
			BlockSize               int64 `json:"blocksize"`
			Items, Hits, Miss, Full int64
			LastModifiedAt          int64 `json:"last_modified_at"`
		}
		Spoolers []struct {
			Dir             string
			Pid             int
			Tasks, Respawns int64
			Running         int
		}
		Crons []struct {
			Minute, Hour, Day, Month, Week int
			Command                        string
			Unique                         int
			Legion                         string
			Pid                            int
			StartedAt                      int64 `json:"started_at"`
		}
	}
	// encoding/json matches keys case-insensitively but not across "_":
	// drop the underscores of the keys first.
	replacer := strings.NewReplacer(`"delta_requests"`, `"deltarequests"`, `"harakiri_count"`, `"harakiricount"`,
		`"signal_queue"`, `"signalqueue"`, `"running_time"`, `"runningtime"`, `"last_spawn"`, `"lastspawn"`,
		`"respawn_count"`, `"respawncount"`, `"avg_rt"`, `"avgrt"`, `"startup_time"`, `"startuptime"`,
		`"static_requests"`, `"staticrequests"`, `"routed_requests"`, `"routedrequests"`,
		`"offloaded_requests"`, `"offloadedrequests"`, `"write_errors"`, `"writeerrors"`,
		`"read_errors"`, `"readerrors"`, `"in_request"`, `"inrequest"`, `"request_start"`, `"requeststart"`)
	if err := json.Unmarshal([]byte(replacer.Replace(string(doc))), &d); err != nil {
		t.Fatalf("decode uWSGI document: %v\n%s", err, doc)
	}
	s := &Snapshot{Version: d.Version, ListenQueue: d.ListenQueue, ListenQueueErrors: d.ListenQueueErrors,
		SignalQueue: d.SignalQueue, Load: d.Load, Pid: d.Pid, UID: d.UID, GID: d.GID, Cwd: d.Cwd}
	for _, l := range d.Locks {
		for k, v := range l {
			s.Locks = append(s.Locks, Lock{Name: k, Pid: v})
		}
	}
	for _, k := range d.Sockets {
		s.Sockets = append(s.Sockets, Socket{Name: k.Name, Proto: k.Proto, Queue: k.Queue, MaxQueue: k.MaxQueue,
			Shared: k.Shared != 0, CanOffload: k.CanOffload != 0})
	}
	for _, w := range d.Workers {
		sw := Worker{ID: w.ID, Pid: w.Pid, Accepting: w.Accepting != 0, Requests: w.Requests,
			DeltaRequests: w.DeltaRequests, Exceptions: w.Exceptions, HarakiriCount: w.HarakiriCount,
			Signals: w.Signals, SignalQueue: w.SignalQueue, Status: w.Status, RSS: w.RSS, VSZ: w.VSZ,
			RunningTime: w.RunningTime, LastSpawn: w.LastSpawn, RespawnCount: w.RespawnCount, TX: w.TX, AvgRT: w.AvgRT}
		for _, a := range w.Apps {
			sw.Apps = append(sw.Apps, App{ID: a.ID, Modifier1: a.Modifier1, Mountpoint: a.Mountpoint,
				StartupTime: a.StartupTime, Requests: a.Requests, Exceptions: a.Exceptions, Chdir: a.Chdir})
		}
		for _, c := range w.Cores {
			vars := c.Vars
			if n := len(vars); n > 0 && vars[n-1] == "" {
				vars = vars[:n-1] // AppendJSON adds the final "" itself
			}
			sw.Cores = append(sw.Cores, Core{ID: c.ID, Requests: c.Requests, StaticRequests: c.StaticRequests,
				RoutedRequests: c.RoutedRequests, OffloadedRequests: c.OffloadedRequests, WriteErrors: c.WriteErrors,
				ReadErrors: c.ReadErrors, InRequest: c.InRequest != 0, Vars: vars, RequestStart: c.ReqInfo.RequestStart})
		}
		s.Workers = append(s.Workers, sw)
	}
	for _, c := range d.Caches {
		s.Caches = append(s.Caches, Cache{Name: c.Name, Hash: c.Hash, HashSize: c.HashSize, KeySize: c.KeySize,
			MaxItems: c.MaxItems, Blocks: c.Blocks, BlockSize: c.BlockSize, Items: c.Items, Hits: c.Hits,
			Miss: c.Miss, Full: c.Full, LastModifiedAt: c.LastModifiedAt})
	}
	for _, sp := range d.Spoolers {
		s.Spoolers = append(s.Spoolers, Spooler{Dir: sp.Dir, Pid: sp.Pid, Tasks: sp.Tasks, Respawns: sp.Respawns,
			Running: sp.Running != 0})
	}
	for _, c := range d.Crons {
		s.Crons = append(s.Crons, Cron{Minute: c.Minute, Hour: c.Hour, Day: c.Day, Month: c.Month, Week: c.Week,
			Command: c.Command, Unique: c.Unique != 0, Legion: c.Legion, Pid: c.Pid, StartedAt: c.StartedAt})
	}
	return s
}

// TestStatsMatchUWSGI runs the real uWSGI (2 processes, 2 threads, one core
// kept busy), reads its stats in every layout, and checks that AppendJSON
// of the same values writes the same bytes: key order, tabs, the req_info
// quirk, vars at column 0 and the final "" (ST-2..ST-4, ST-6..ST-14).
func TestStatsMatchUWSGI(t *testing.T) {
	app, err := filepath.Abs("testdata/app.py")
	if err != nil {
		t.Fatal(err)
	}
	variants := []struct {
		name  string
		flags []string
		f     Format
		http  bool
	}{
		{"pretty", nil, Format{}, false},
		{"minified http no-cores", []string{"--stats-minified", "--stats-http", "--stats-no-cores"}, Format{Minified: true, NoCores: true}, true},
		// ST-8, ST-9, ST-15: cache and spooler locks, caches, spoolers, crons.
		{"caches spoolers crons", []string{"--spooler", "{tmp}", "--cache2", "name=one,items=10", "--cache", "7",
			"--cache2", "name=two,items=3,blocksize=1k,keysize=100", "--cron", "0 0 31 2 -1 true"}, Format{}, false},
	}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			httpAddr, statsAddr := realuwsgi.FreeAddr(t), realuwsgi.FreeAddr(t)
			args := []string{"--plugin", "python3", "--master", "--processes", "2", "--threads", "2",
				"--http-socket", httpAddr, "--stats", statsAddr, "--wsgi-file", app}
			for _, f := range v.flags {
				args = append(args, strings.ReplaceAll(f, "{tmp}", t.TempDir()))
			}
			realuwsgi.Start(t, 2, args...)
			deadline := time.Now().Add(15 * time.Second)
			// One quick request, then one that keeps a core busy.
			for _, path := range []string{"/", "/sleep"} {
				c, err := net.DialTimeout("tcp", httpAddr, 5*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: h\r\nX-Busy: yes\r\n\r\n", path)
				if path == "/" {
					_ = c.SetDeadline(time.Now().Add(5 * time.Second))
					_, _ = io.ReadAll(c)
				}
			}
			var doc []byte
			for {
				time.Sleep(100 * time.Millisecond)
				req := ""
				if v.http {
					req = "GET / HTTP/1.0\r\n\r\n"
				}
				doc = []byte(fetch(t, "tcp", statsAddr, req))
				if v.http {
					head, body, ok := bytes.Cut(doc, []byte("\r\n\r\n"))
					if !ok || string(head)+"\r\n\r\n" != httpHead {
						t.Fatalf("stats-http head %q", head)
					}
					doc = body
				}
				if bytes.Contains(doc, []byte(`"status":"busy"`)) || v.f.NoCores {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("no busy worker in:\n%s", doc)
				}
			}
			got := AppendJSON(nil, snapshotFromUWSGI(t, doc), v.f)
			if !bytes.Equal(got, doc) {
				t.Errorf("differs from uWSGI:\n%s\nuWSGI:\n%s", firstDiff(got, doc), doc)
			}
		})
	}
}
