package stats

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// The shapes below mirror the structs the Prometheus uwsgi_exporter
// decodes the document into (ST-21): Go int fields, so a float, a string
// or a bool where a number belongs fails the decode.
type exporterStats struct {
	Version           string           `json:"version"`
	ListenQueue       int              `json:"listen_queue"`
	ListenQueueErrors int              `json:"listen_queue_errors"`
	SignalQueue       int              `json:"signal_queue"`
	Load              int              `json:"load"`
	PID               int              `json:"pid"`
	UID               int              `json:"uid"`
	GID               int              `json:"gid"`
	CWD               string           `json:"cwd"`
	Sockets           []exporterSocket `json:"sockets"`
	Workers           []exporterWorker `json:"workers"`
	Caches            []exporterCache  `json:"caches" optional:"1"`
}

type exporterSocket struct {
	Name       string `json:"name"`
	Proto      string `json:"proto"`
	Queue      int    `json:"queue"`
	MaxQueue   int    `json:"max_queue"`
	Shared     int    `json:"shared"`
	CanOffload int    `json:"can_offload"`
}

type exporterWorker struct {
	ID            int            `json:"id"`
	PID           int            `json:"pid"`
	Accepting     int            `json:"accepting"`
	Requests      int            `json:"requests"`
	DeltaRequests int            `json:"delta_requests"`
	Exceptions    int            `json:"exceptions"`
	HarakiriCount int            `json:"harakiri_count"`
	Signals       int            `json:"signals"`
	SignalQueue   int            `json:"signal_queue"`
	Status        string         `json:"status"`
	RSS           int            `json:"rss"`
	VSZ           int            `json:"vsz"`
	RunningTime   int            `json:"running_time"`
	LastSpawn     int            `json:"last_spawn"`
	RespawnCount  int            `json:"respawn_count"`
	TX            int            `json:"tx"`
	AvgRT         int            `json:"avg_rt"`
	Apps          []exporterApp  `json:"apps"`
	Cores         []exporterCore `json:"cores"`
}

type exporterApp struct {
	ID          int    `json:"id"`
	Modifier1   int    `json:"modifier1"`
	Mountpoint  string `json:"mountpoint"`
	StartupTime int    `json:"startup_time"`
	Requests    int    `json:"requests"`
	Exceptions  int    `json:"exceptions"`
	Chdir       string `json:"chdir"`
}

type exporterCore struct {
	ID                int      `json:"id"`
	Requests          int      `json:"requests"`
	StaticRequests    int      `json:"static_requests"`
	RoutedRequests    int      `json:"routed_requests"`
	OffloadedRequests int      `json:"offloaded_requests"`
	WriteErrors       int      `json:"write_errors"`
	ReadErrors        int      `json:"read_errors"`
	InRequest         int      `json:"in_request"`
	Vars              []string `json:"vars"`
}

type exporterCache struct {
	Name           string `json:"name"`
	Hash           string `json:"hash"`
	HashSize       int    `json:"hashsize"`
	KeySize        int    `json:"keysize"`
	MaxItems       int    `json:"max_items"`
	Blocks         int    `json:"blocks"`
	BlockSize      int    `json:"blocksize"`
	Items          int    `json:"items"`
	Hits           int    `json:"hits"`
	Miss           int    `json:"miss"`
	Full           int    `json:"full"`
	LastModifiedAt int    `json:"last_modified_at"`
}

// requireFields fails when the decoded JSON v lacks a key that the struct
// type t declares (unless tagged optional), recursing into lists and
// objects: a missing key would silently read as 0 in the exporter.
func requireFields(t *testing.T, path string, v any, typ reflect.Type) {
	t.Helper()
	switch typ.Kind() {
	case reflect.Struct:
		obj, ok := v.(map[string]any)
		if !ok {
			t.Errorf("%s: want an object, got %T", path, v)
			return
		}
		for i := range typ.NumField() {
			f := typ.Field(i)
			name := f.Tag.Get("json")
			val, ok := obj[name]
			if !ok {
				if f.Tag.Get("optional") == "" {
					t.Errorf("%s: missing %q", path, name)
				}
				continue
			}
			requireFields(t, path+"."+name, val, f.Type)
		}
	case reflect.Slice:
		list, ok := v.([]any)
		if !ok {
			t.Errorf("%s: want a list, got %T", path, v)
			return
		}
		for i, item := range list {
			requireFields(t, path+"["+itoa(i)+"]", item, typ.Elem())
		}
	case reflect.Int:
		if n, ok := v.(json.Number); !ok || strings.ContainsAny(string(n), ".eE") {
			t.Errorf("%s: want an integer, got %v (%T)", path, v, v)
		}
	case reflect.String:
		if _, ok := v.(string); !ok {
			t.Errorf("%s: want a string, got %T", path, v)
		}
	}
}

func consumerDocs() map[string]*Snapshot {
	fromBoard := sampleSnapshot()
	fromBoard.Workers = append(fromBoard.Workers, Worker{Status: "cheap", Apps: []App{}, Cores: []Core{{}, {ID: 1}}})
	return map[string]*Snapshot{"sample": sampleSnapshot(), "with cheap slot": fromBoard}
}

// TestExporterDecodes: ST-21, every field the exporter reads is present
// and decodes into its Go int/string fields, in every layout.
func TestExporterDecodes(t *testing.T) {
	for name, snap := range consumerDocs() {
		for _, f := range []Format{{}, {Minified: true}} {
			doc := AppendJSON(nil, snap, f)
			var st exporterStats
			dec := json.NewDecoder(bytes.NewReader(doc))
			if err := dec.Decode(&st); err != nil {
				t.Fatalf("%s: exporter decode: %v", name, err)
			}
			var raw any
			dec = json.NewDecoder(bytes.NewReader(doc))
			dec.UseNumber()
			if err := dec.Decode(&raw); err != nil {
				t.Fatal(err)
			}
			requireFields(t, name, raw, reflect.TypeOf(st))
			if len(st.Workers) != len(snap.Workers) || st.Workers[0].Cores[1].InRequest != 1 ||
				len(st.Workers[0].Cores[1].Vars) != 13 || st.Caches[0].HashSize != 65536 {
				t.Errorf("%s: decoded %+v", name, st)
			}
		}
	}
}

// uwsgitopFields are what uwsgitop 0.12 reads (ST-20), with the JSON type
// it does arithmetic on.
var uwsgitopFields = struct {
	top, worker, core map[string]string
}{
	top: map[string]string{"version": "string", "listen_queue": "int", "cwd": "string", "uid": "int", "gid": "int", "pid": "int"},
	worker: map[string]string{"id": "int", "pid": "int", "requests": "int", "exceptions": "int", "signals": "int",
		"status": "string", "avg_rt": "int", "rss": "int", "vsz": "int", "tx": "int", "running_time": "int",
		"last_spawn": "int", "respawn_count": "int", "harakiri_count": "int"},
	core: map[string]string{"id": "int", "requests": "int", "in_request": "int"},
}

func checkKinds(t *testing.T, where string, obj map[string]any, want map[string]string) {
	t.Helper()
	for k, kind := range want {
		v, ok := obj[k]
		switch {
		case !ok:
			t.Errorf("%s: uwsgitop reads missing %q", where, k)
		case kind == "int":
			if n, ok := v.(json.Number); !ok || strings.ContainsAny(string(n), ".eE") {
				t.Errorf("%s.%s: want an integer, got %v", where, k, v)
			}
		case kind == "string":
			if _, ok := v.(string); !ok {
				t.Errorf("%s.%s: want a string, got %v", where, k, v)
			}
		}
	}
}

// TestUwsgitopFields: ST-20, over a plain socket and over stats-http read
// with Go's HTTP client (uwsgitop's http:// mode, the exporter's too).
func TestUwsgitopFields(t *testing.T) {
	srv, _ := start(t, "127.0.0.1:0", Options{HTTP: true}, sampleSnapshot)
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get("http://" + srv.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("stats-http: %v %d %v", err, resp.StatusCode, resp.Header)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	checkKinds(t, "top", doc, uwsgitopFields.top)
	for i, w := range doc["workers"].([]any) {
		wo := w.(map[string]any)
		checkKinds(t, "worker "+itoa(i), wo, uwsgitopFields.worker)
		for j, c := range wo["cores"].([]any) {
			checkKinds(t, "core "+itoa(j), c.(map[string]any), uwsgitopFields.core)
		}
	}
}

// TestUwsgitopReadsWithPython runs uwsgitop's reading code path (socket or
// urllib, json.loads, the fields and the arithmetic it does) under the
// system Python against the server, over TCP, UNIX and stats-http (ST-20).
func TestUwsgitopReadsWithPython(t *testing.T) {
	py := "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		t.Fatalf("%s is required for this test: %v", py, err)
	}
	unixPath := filepath.Join(t.TempDir(), "stats.sock")
	tests := []struct {
		name, addr string
		opts       Options
	}{
		{"tcp", "127.0.0.1:0", Options{}},
		{"unix", unixPath, Options{}},
		{"http", "127.0.0.1:0", Options{HTTP: true}},
		{"minified", "127.0.0.1:0", Options{Minified: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, _ := start(t, tc.addr, tc.opts, sampleSnapshot)
			target := srv.Addr().String()
			if tc.addr == unixPath {
				target = unixPath
			}
			if tc.opts.HTTP {
				target = "http://" + target + "/"
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			out, err := exec.CommandContext(ctx, py, "testdata/uwsgitop_reads.py", target).CombinedOutput()
			if err != nil {
				t.Fatalf("uwsgitop reads failed: %v\n%s", err, out)
			}
			for _, want := range []string{
				"uwsgi-2.0.21-debian pid 12161 uid 0 gid 0 cwd /tmp lq 0",
				"requests 5 tx 6020",
				"1 12166 3 0 busy 0ms 11 138 3612 1 1795226507 1 0 0",
				"  core 1 1 1",
			} {
				if !strings.Contains(string(out), want+"\n") {
					t.Errorf("missing %q in:\n%s", want, out)
				}
			}
		})
	}
}
