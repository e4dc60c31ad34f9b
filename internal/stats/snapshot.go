package stats

// Snapshot is everything the stats document shows (ST-6), in uWSGI's
// units: times in microseconds, dates in epoch seconds, sizes in bytes.
// Optional sections (Daemons, Caches, Spoolers, Crons) are printed only
// when non-empty, Metrics only when non-nil, as uWSGI prints them only when
// configured.
type Snapshot struct {
	Version           string // "2.0.21"
	ListenQueue       int64  // largest current accept queue among the sockets (ST-7)
	ListenQueueErrors int64  // queue-full events seen by the master
	SignalQueue       int64  // bytes pending in the master's signal queue
	Load              int64  // same value as ListenQueue in uWSGI 2.0
	Pid               int    // master pid
	UID               int
	GID               int
	Cwd               string
	Daemons           []Daemon
	Locks             []Lock // see DefaultLocks
	Caches            []Cache
	Metrics           []Metric // nil: no "metrics" key (enable-metrics off)
	Sockets           []Socket
	Workers           []Worker
	Spoolers          []Spooler
	Crons             []Cron
}

// Daemon is an attached daemon (ST-8).
type Daemon struct {
	Cmd      string
	Pid      int
	Respawns int // the real count: uWSGI 2.0 always says 0 (QK-5)
}

// Lock is one entry of "locks": a lock name and the pid holding it, 0 free.
type Lock struct {
	Name string
	Pid  int
}

// DefaultLocks returns the locks every uWSGI 2.0 instance lists, in order
// (ST-8); caches and spoolers append theirs.
func DefaultLocks() []Lock {
	names := []string{"user 0", "signal", "filemon", "timer", "rbtimer", "cron", "rpc", "snmp"}
	out := make([]Lock, len(names))
	for i, n := range names {
		out[i] = Lock{Name: n}
	}
	return out
}

// Cache is one uWSGI cache (ST-9).
type Cache struct {
	Name           string
	Hash           string // "djb33x"
	HashSize       int64
	KeySize        int64
	MaxItems       int64
	Blocks         int64
	BlockSize      int64
	Items          int64
	Hits           int64
	Miss           int64
	Full           int64
	LastModifiedAt int64
}

// Metric is one entry of the "metrics" object (ST-16).
type Metric struct {
	Name  string // "worker.1.requests"
	Type  int    // 0 counter, 1 gauge, 2 absolute, 3 alias
	OID   string
	Value int64
}

// Socket is one listening socket (ST-10).
type Socket struct {
	Name       string // as configured
	Proto      string // "uwsgi", "http", "https", ...
	Queue      int64  // connections waiting to be accepted now
	MaxQueue   int64  // listen backlog (0 for UNIX sockets, as uWSGI reports)
	Shared     bool
	CanOffload bool
}

// Worker is one worker slot (ST-11, ST-12).
type Worker struct {
	ID            int // 0 for a cheap slot never started
	Pid           int
	Accepting     bool
	Requests      int64 // kept across respawns
	DeltaRequests int64 // since the last spawn
	Exceptions    int64
	HarakiriCount int64
	Signals       int64
	SignalQueue   int64
	Status        string // "idle", "busy", "cheap", "pause" or "sigN"
	RSS           int64  // bytes, 0 unless memory polling is on
	VSZ           int64
	RunningTime   int64 // µs spent in requests
	LastSpawn     int64 // epoch seconds
	RespawnCount  int64
	TX            int64 // bytes written, headers included
	AvgRT         int64 // µs
	Apps          []App
	Cores         []Core
	// Latency counts requests per LatencyBounds bucket (not cumulative,
	// the last one unbounded); only the metrics endpoint shows it.
	Latency []int64
}

// App is one app loaded by a worker (ST-13).
type App struct {
	ID          int
	Modifier1   int
	Mountpoint  string // "" for the default app
	StartupTime int64  // seconds
	Requests    int64
	Exceptions  int64
	Chdir       string
}

// Core is one thread of a worker (ST-14).
type Core struct {
	ID                int
	Requests          int64
	StaticRequests    int64
	RoutedRequests    int64
	OffloadedRequests int64
	WriteErrors       int64
	ReadErrors        int64
	InRequest         bool
	// Vars are the running request's variables as "KEY=VALUE", in wire
	// order; printed only while InRequest.
	Vars []string
	// RequestStart is the running request's start in epoch seconds
	// (req_info), printed only while InRequest.
	RequestStart int64
}

// Spooler is one spooler (ST-15).
type Spooler struct {
	Dir      string
	Pid      int
	Tasks    int64
	Respawns int64
	Running  bool
}

// Cron is one cron entry (ST-15); -1 in a time field means any.
type Cron struct {
	Minute, Hour, Day, Month, Week int
	Command                        string
	Unique                         bool
	Legion                         string
	Pid                            int // -1 when not running
	StartedAt                      int64
	Harakiri                       int // cron2 harakiri=: seconds a run may last (not in the JSON)
}
