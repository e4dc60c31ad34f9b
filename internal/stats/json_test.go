package stats

import (
	"bytes"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"
)

// sampleSnapshot holds the values of testdata/uwsgi-2.0.21.json, the
// verbatim reply of uWSGI 2.0.21 (2 processes, 2 threads, one busy core, a
// daemon, a cache, a spooler and a cron).
func sampleSnapshot() *Snapshot {
	idle := Core{}
	vars := []string{"REQUEST_METHOD=GET", "PATH_INFO=/sleep", "REQUEST_URI=/sleep?3", "QUERY_STRING=3",
		"SERVER_PROTOCOL=HTTP/1.1", "SCRIPT_NAME=", "SERVER_NAME=vm", "SERVER_PORT=9261",
		"REMOTE_ADDR=127.0.0.1", "HTTP_HOST=127.0.0.1:9261", "HTTP_ACCEPT_ENCODING=identity", "HTTP_X_BUSY=yes"}
	locks := DefaultLocks()
	locks = append(locks, Lock{Name: "cache_mycache"}, Lock{Name: "spooler on /tmp/uwsgi-demo-spool"})
	return &Snapshot{
		Version: "2.0.21-debian", Pid: 12161, Cwd: "/tmp",
		Daemons: []Daemon{{Cmd: "sleep 1000", Pid: 12169}},
		Locks:   locks,
		Caches: []Cache{{Name: "mycache", Hash: "djb33x", HashSize: 65536, KeySize: 2048, MaxItems: 100,
			Blocks: 100, BlockSize: 65536}},
		Sockets: []Socket{
			{Name: "127.0.0.1:9261", Proto: "http", MaxQueue: 100},
			{Name: "/tmp/uwsgi-demo.sock", Proto: "uwsgi"},
		},
		Workers: []Worker{
			{ID: 1, Pid: 12166, Accepting: true, Requests: 3, DeltaRequests: 3, Status: "busy",
				RSS: 11878400, VSZ: 145268736, RunningTime: 1204, LastSpawn: 1795226507, RespawnCount: 1,
				TX: 3612, AvgRT: 277,
				Apps: []App{{Requests: 4}},
				Cores: []Core{
					{ID: 0, Requests: 2},
					{ID: 1, Requests: 1, InRequest: true, Vars: vars, RequestStart: 1795226509},
				}},
			{ID: 2, Pid: 12167, Accepting: true, Requests: 2, DeltaRequests: 2, Status: "idle",
				RSS: 11878400, VSZ: 145268736, RunningTime: 586, LastSpawn: 1795226507, RespawnCount: 1,
				TX: 2408, AvgRT: 187,
				Apps:  []App{{Requests: 2}},
				Cores: []Core{idle, {ID: 1, Requests: 2}}},
		},
		Spoolers: []Spooler{{Dir: "/tmp/uwsgi-demo-spool", Pid: 12165}},
		Crons:    []Cron{{Minute: -1, Hour: -1, Day: -1, Month: -1, Week: -1, Command: "true", Pid: -1}},
	}
}

// TestAppendJSONMatchesUWSGISample: byte for byte the document uWSGI wrote
// (ST-2, ST-6..ST-15, TOP-15).
func TestAppendJSONMatchesUWSGISample(t *testing.T) {
	want, err := os.ReadFile("testdata/uwsgi-2.0.21.json")
	if err != nil {
		t.Fatal(err)
	}
	got := AppendJSON(nil, sampleSnapshot(), Format{})
	if !bytes.Equal(got, want) {
		t.Errorf("layout differs from uWSGI's:\n%s", firstDiff(got, want))
	}
}

// TestAppendJSONMinified: ST-4, the same document without newlines or tabs.
func TestAppendJSONMinified(t *testing.T) {
	want, err := os.ReadFile("testdata/uwsgi-2.0.21.json")
	if err != nil {
		t.Fatal(err)
	}
	want = bytes.ReplaceAll(bytes.ReplaceAll(want, []byte("\n"), nil), []byte("\t"), nil)
	got := AppendJSON(nil, sampleSnapshot(), Format{Minified: true})
	if !bytes.Equal(got, want) {
		t.Errorf("minified differs:\n%s", firstDiff(got, want))
	}
}

func TestAppendJSONVariants(t *testing.T) {
	withMetrics := sampleSnapshot()
	withMetrics.Metrics = []Metric{{Name: "core.busy_workers", Type: 1, OID: "5.3", Value: 1}}
	empty := &Snapshot{Version: "2.0.21", Locks: DefaultLocks()}
	tests := []struct {
		name     string
		s        *Snapshot
		f        Format
		contains []string
		absent   []string
	}{
		{"no-cores ST-11", sampleSnapshot(), Format{NoCores: true}, []string{`"apps":[`}, []string{`"cores"`, `"req_info"`}},
		{"metrics ST-16", withMetrics, Format{},
			[]string{"\t\"metrics\":\t{\n\t\t\"core.busy_workers\":\t\t{\n\t\t\t\"type\":1,\n\t\t\t\"oid\":\"5.3\",\n\t\t\t\"value\":1\n\t\t}\n\t},\n\t\"sockets\":["}, nil},
		{"no-metrics", withMetrics, Format{NoMetrics: true}, nil, []string{`"metrics"`}},
		{"optional sections absent ST-6", empty, Format{},
			[]string{"\t\"sockets\":[\n\n\t],\n\t\"workers\":[\n\n\t]\n}"},
			[]string{`"daemons"`, `"caches"`, `"spoolers"`, `"crons"`, `"metrics"`}},
		{"empty minified", empty, Format{Minified: true}, []string{`"sockets":[],"workers":[]}`}, nil},
		{"idle core ST-14", sampleSnapshot(), Format{Minified: true},
			[]string{`"in_request":0,"vars":[],"req_info":{}}`, `"HTTP_X_BUSY=yes",""],"req_info":{"request_start":1795226509}}`}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := string(AppendJSON(nil, tc.s, tc.f))
			if !json.Valid([]byte(got)) {
				t.Fatalf("invalid JSON:\n%s", got)
			}
			for _, c := range tc.contains {
				if !strings.Contains(got, c) {
					t.Errorf("missing %q in:\n%s", c, got)
				}
			}
			for _, a := range tc.absent {
				if strings.Contains(got, a) {
					t.Errorf("unexpected %q in:\n%s", a, got)
				}
			}
		})
	}
}

// TestAppendJSONEscapes: QK-6, strings uWSGI prints raw (cwd, socket names,
// mountpoints, vars) stay valid JSON here and decode to the same text.
func TestAppendJSONEscapes(t *testing.T) {
	odd := "a\"b\\c\nd\te\x01f/é\xffg"
	s := &Snapshot{Cwd: odd, Locks: []Lock{{Name: odd}},
		Sockets: []Socket{{Name: odd, Proto: "uwsgi"}},
		Workers: []Worker{{ID: 1, Apps: []App{{Mountpoint: odd, Chdir: odd}},
			Cores: []Core{{InRequest: true, Vars: []string{"X=" + odd}}}}}}
	for _, f := range []Format{{}, {Minified: true}} {
		out := AppendJSON(nil, s, f)
		var v struct {
			Cwd     string
			Sockets []struct{ Name string }
			Workers []struct {
				Apps  []struct{ Mountpoint string }
				Cores []struct{ Vars []string }
			}
		}
		if err := json.Unmarshal(out, &v); err != nil {
			t.Fatalf("%v:\n%s", err, out)
		}
		want := "a\"b\\c\nd\te\x01f/é\uFFFDg" // the invalid byte replaced
		if v.Cwd != want || v.Sockets[0].Name != want || v.Workers[0].Apps[0].Mountpoint != want ||
			v.Workers[0].Cores[0].Vars[0] != "X="+want {
			t.Errorf("round trip lost text: %+v", v)
		}
	}
}

func firstDiff(got, want []byte) string {
	n := min(len(got), len(want))
	i := 0
	for i < n && got[i] == want[i] {
		i++
	}
	lo := max(0, i-80)
	return "at byte " + itoa(i) + "\n got: " + quote(got[lo:min(len(got), i+80)]) + "\nwant: " + quote(want[lo:min(len(want), i+80)])
}

func itoa(i int) string     { return strconv.Itoa(i) }
func quote(b []byte) string { return strconv.Quote(string(b)) }
