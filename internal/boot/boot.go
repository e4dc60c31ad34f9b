// Package boot defines the boot bundle: what the Go master hands to the
// zygote (and through it to every worker) when it starts Python. It is JSON
// so that the Python loader reads it with the standard library and the Go
// worker with encoding/json; the master writes it to a memfd.
package boot

import (
	"encoding/json"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/gosgi/gosgi/internal/route"
	"github.com/gosgi/gosgi/internal/static"
)

// Bundle is the whole boot payload.
type Bundle struct {
	Files map[string]string `json:"files"` // Python sources by name (loader.py, uwsgi.py, ...)
	Spec  Spec              `json:"spec"`
}

// Spec is the instance configuration as the Python side and the workers
// need it. Field names are the loader's keys.
type Spec struct {
	Version    string            `json:"version"`
	Hostname   string            `json:"hostname"`
	Master     bool              `json:"master"`
	MasterPID  int               `json:"master_pid"`
	AppPID     int               `json:"app_pid"` // pid shown in "WSGI app ... ready" lines
	Processes  int               `json:"processes"`
	Threads    int               `json:"threads"`
	BufferSize int               `json:"buffer_size"`
	StartedOn  int64             `json:"started_on"`
	Reloads    int               `json:"reloads"`
	Lazy       bool              `json:"lazy"`
	NeedApp    bool              `json:"need_app"`
	Module     string            `json:"module,omitempty"`
	WSGIFile   string            `json:"wsgi_file,omitempty"`
	Callable   string            `json:"callable,omitempty"`
	Eval       string            `json:"eval,omitempty"`
	Mounts     []string          `json:"mounts,omitempty"`
	Pythonpath []string          `json:"pythonpath,omitempty"`
	Imports    []string          `json:"imports,omitempty"`
	Pyargv     string            `json:"pyargv,omitempty"`
	LogDate    *string           `json:"log_date"` // nil: no date prefix; "": ctime; else strftime format
	Pidfile    string            `json:"pidfile,omitempty"`
	SocketFDs  []int             `json:"socket_fds"`
	Opt        []Opt             `json:"opt"`
	Magic      map[string]string `json:"magic,omitempty"`
	Board      map[string]int    `json:"board"` // scoreboard layout (scoreboard.Layout)
	Titles     Titles            `json:"titles"`
	// Mules: one entry per mule, its script or "" (PM-76). Spoolers: the
	// directory of each spooler process, ids 1..N in this order (PM-77).
	Mules            []string `json:"mules,omitempty"`
	Spoolers         []string `json:"spoolers,omitempty"`
	SpoolerImports   []string `json:"spooler_imports,omitempty"`
	SpoolerFrequency int      `json:"spooler_frequency,omitempty"`
	// Crons: the command crons (cron, unique-cron, cron2) in config order,
	// which the stats index by the same position.
	Crons []Cron `json:"crons,omitempty"`
	// py-autoreload (PM-48): seconds between checks, 0 off; modules ignored.
	PyAutoreload       int      `json:"py_autoreload,omitempty"`
	PyAutoreloadIgnore []string `json:"py_autoreload_ignore,omitempty"`
	Worker             Worker   `json:"worker"`

	// Gevent is the number of async cores of gevent mode (gevent = N), 0
	// off; the loader and the hub loop read the gevent-* flags.
	Gevent                 int  `json:"gevent,omitempty"`
	GeventMonkeyPatch      bool `json:"gevent_monkey_patch,omitempty"`
	GeventEarlyMonkeyPatch bool `json:"gevent_early_monkey_patch,omitempty"`
	GeventWaitForHub       bool `json:"gevent_wait_for_hub,omitempty"`

	// Metrics are the metrics in stats order (enable-metrics), nil when off.
	Metrics []Metric `json:"metrics,omitempty"`
}

// Cron is a command cron: time fields (-1 any, -N every N), the shell
// command, whether runs may not overlap, and the seconds a run may last
// (0: no limit).
type Cron struct {
	Fields   [5]int `json:"fields"`
	Command  string `json:"command"`
	Unique   bool   `json:"unique,omitempty"`
	Harakiri int    `json:"harakiri,omitempty"`
	Legion   string `json:"legion,omitempty"` // runs on that legion's lord only: never, without legions
}

// Titles are the process titles of procname, procname-prefix(-spaced) and
// auto-procname (OP-85..OP-88).
type Titles struct {
	Auto     bool   `json:"auto,omitempty"`
	Prefix   string `json:"prefix,omitempty"`
	Procname string `json:"procname,omitempty"`
	Master   string `json:"master,omitempty"`
}

// For returns the title of a process ("master", "worker 3"...), or "" to
// leave the command line as it is.
func (t Titles) For(role string) string {
	base := ""
	switch {
	case role == "master" && t.Master != "":
		base = t.Master
	case t.Procname != "":
		base = t.Procname
	case t.Auto || t.Prefix != "":
		base = "uWSGI " + role
	default:
		return ""
	}
	return t.Prefix + base
}

// Metric is one metric as the Python side sees it: its value is slot Slot
// of the scoreboard's metrics region; only Writable ones may be changed
// (uwsgi.metric_set, ...); Initial is its initial value (metric_set_min).
type Metric struct {
	Name     string `json:"n"`
	Slot     int    `json:"s"`
	Writable bool   `json:"w,omitempty"`
	Initial  int64  `json:"i,omitempty"`
}

// Opt is one configuration entry as uwsgi.opt shows it (PY-41).
type Opt struct {
	Key     string `json:"k"`
	Value   string `json:"v"`
	NoValue bool   `json:"n,omitempty"`
}

// Worker is the Go worker's part of the configuration.
type Worker struct {
	Sockets           []Socket `json:"sockets"`
	BufferSize        int      `json:"buffer_size"`
	MaxVars           int      `json:"max_vars"`
	SocketTimeout     int      `json:"socket_timeout"`
	DisableLogging    bool     `json:"disable_logging"`
	LogMicros         bool     `json:"log_micros"`
	LogXForwardedFor  bool     `json:"log_x_forwarded_for"`
	ManageScriptName  bool     `json:"manage_script_name"`
	MaxRequests       int64    `json:"max_requests"`
	ReloadOnRSS       int64    `json:"reload_on_rss,omitempty"` // bytes
	ReloadOnException bool     `json:"reload_on_exception,omitempty"`
	ReloadOnAS        int64    `json:"reload_on_as,omitempty"` // bytes
	MinWorkerLifetime int      `json:"min_worker_lifetime"`
	NoOrphans         bool     `json:"no_orphans"`
	LimitPost         int64    `json:"limit_post"`
	// PostBuffering: bodies are read whole before the app runs, in memory
	// below this many bytes, in a temporary file (read in chunks of this
	// size) from it on.
	PostBuffering int64 `json:"post_buffering,omitempty"`
	// The http router address: keep-alive for HTTP/1.1 clients
	// (http-keepalive), seconds of client inactivity allowed
	// (http-timeout), chunking of bodies without Content-Length on kept
	// connections (http-auto-chunked), gzip of bodies marked
	// uWSGI-Encoding: gzip (http-auto-gzip).
	HTTPKeepalive   bool `json:"http_keepalive,omitempty"`
	HTTPTimeout     int  `json:"http_timeout,omitempty"`
	HTTPAutoChunked bool `json:"http_auto_chunked,omitempty"`
	HTTPAutoGzip    bool `json:"http_auto_gzip,omitempty"`
	// TrustedProxies (trusted-proxy) limit who may set wsgi.url_scheme
	// with X-Forwarded-Proto/-Ssl; empty trusts everyone, as uWSGI does.
	TrustedProxies []string `json:"trusted_proxies,omitempty"`
	// DelHeaders are app response headers dropped (del-header).
	DelHeaders        []string `json:"del_headers,omitempty"`
	Harakiri          int      `json:"harakiri"`
	HarakiriVerbose   bool     `json:"harakiri_verbose,omitempty"`
	ScoreboardFD      int      `json:"scoreboard_fd"`
	LogDate           *string  `json:"log_date"`
	LogFormat         string   `json:"log_format,omitempty"`
	LogFormatStrftime bool     `json:"log_format_strftime,omitempty"`
	LogJSON           bool     `json:"log_json,omitempty"` // log-json: request lines as JSON objects
	MemoryReport      bool     `json:"memory_report,omitempty"`
	// Static files served by Go (static-map, check-static, ...), nil when
	// none is configured; routing rules in configuration order.
	Static *static.Options `json:"static,omitempty"`
	// AddHeaders are added to every app response (add-header).
	AddHeaders []string `json:"add_headers,omitempty"`
	// ReqLoggers receive the request lines instead of the log (req-logger,
	// "[NAME ]TARGET"), chosen by ReqRoutes (log-req-route) and encoded by
	// ReqEncoders (log-req-encoder), as the log router does (LG-25).
	ReqLoggers  []string `json:"req_loggers,omitempty"`
	ReqRoutes   []string `json:"req_routes,omitempty"`
	ReqEncoders []string `json:"req_encoders,omitempty"`
	// With disable-logging, requests that match one of these are still
	// logged (log-4xx, log-5xx, log-slow ms, log-big bytes, log-zero,
	// log-ioerror).
	Log4xx, Log5xx, LogZero, LogIOError bool
	LogSlow                             int64
	LogBig                              int64
	Routes                              []route.Option `json:"routes,omitempty"`
}

// Socket is one listening socket a worker serves.
type Socket struct {
	FD         int    `json:"fd"`
	Name       string `json:"name"`
	Proto      string `json:"proto"` // uwsgi, http, http11, router
	ServerPort string `json:"server_port"`
	Unix       bool   `json:"unix"`
	TLS        string `json:"tls,omitempty"` // https-socket/https spec: addr,cert,key[,ciphers[,ca]]
}

// Write stores the bundle in a new memfd and returns its descriptor.
func Write(b *Bundle) (int, error) {
	data, err := json.Marshal(b)
	if err != nil {
		return -1, fmt.Errorf("boot bundle: %w", err)
	}
	fd, err := unix.MemfdCreate("gosgi-boot", 0)
	if err != nil {
		return -1, fmt.Errorf("boot bundle: memfd_create: %w", err)
	}
	for off := 0; off < len(data); {
		n, err := unix.Write(fd, data[off:])
		if err != nil {
			unix.Close(fd)
			return -1, fmt.Errorf("boot bundle: write: %w", err)
		}
		off += n
	}
	return fd, nil
}

// Parse decodes a bundle.
func Parse(data []byte) (*Bundle, error) {
	var b Bundle
	if err := json.Unmarshal(data, &b); err != nil {
		return nil, fmt.Errorf("boot bundle: %w", err)
	}
	return &b, nil
}
