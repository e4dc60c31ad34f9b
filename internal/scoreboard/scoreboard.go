// Package scoreboard is the shared memory through which workers tell the
// master what they are doing: request counters, busy state and the start of
// the current request. The master creates it (a memfd mapped in every
// process); workers update their own slot with atomic stores, off the
// request's critical path of syscalls, and the master reads every slot for
// harakiri, stats and the log's instance-wide request count.
//
// It holds numbers only; it does not decide anything.
package scoreboard

import (
	"fmt"
	"reflect"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// MaxWorkers bounds the number of worker slots.
const MaxWorkers = 1024

// Header is the instance-wide part.
type Header struct {
	TotalRequests atomic.Int64
	Paused        atomic.Int64 // 1 while the instance is paused (SIGTSTP)
	_             [48]byte
}

// Worker is one worker slot (ids 1..N use slots 1..N). Fields are updated by
// the worker that owns the slot and read by the master.
type Worker struct {
	Pid           atomic.Int64
	Requests      atomic.Int64 // completed, kept across respawns (PM-9)
	DeltaRequests atomic.Int64 // since the last spawn
	Exceptions    atomic.Int64
	Busy          atomic.Int64 // cores in a request
	RequestStart  atomic.Int64 // unix µs of the oldest running request, 0 idle
	TX            atomic.Int64
	RunningTime   atomic.Int64 // µs spent in requests
	AvgRT         atomic.Int64
	HarakiriCount atomic.Int64
	RespawnCount  atomic.Int64
	LastSpawn     atomic.Int64
	Accepting     atomic.Int64
	_             [24]byte

	// Added for the stats server and metrics (ST-11..ST-14); each group
	// keeps the slot a whole number of 64-byte cache lines.
	Signals atomic.Int64 // uwsgi signals handled
	RSS     atomic.Int64 // bytes, stored by the worker when memory polling is on
	VSZ     atomic.Int64 // bytes, idem
	// Recycle is set by a worker that reached max-requests or a memory
	// limit: the master starts its replacement, then retires it.
	Recycle atomic.Int64
	_       [32]byte
	Apps    [MaxApps]App   // per-app counters, index = app id
	Cores   [MaxCores]Core // per-core counters, index = core id
	// Latency counts requests per duration bucket (not cumulative); the
	// bucket bounds are stats.LatencyBounds.
	Latency [LatencyBuckets]atomic.Int64
	// CoreExceptions counts the requests of each core that raised
	// (worker.N.core.M.exceptions); apart from Cores, which keep one cache
	// line per core, since an exception is rare.
	CoreExceptions [MaxCores]atomic.Int64
}

// Limits of the per-worker arrays: apps and cores beyond them are served
// but not itemised in stats.
const (
	MaxApps        = 32
	MaxCores       = 64
	LatencyBuckets = 16
)

// App is one app's counters inside a worker slot (ST-13).
type App struct {
	Requests   atomic.Int64 // includes the request in flight
	Exceptions atomic.Int64
}

// Core is one core's counters (ST-14), one cache line, written only by
// the thread that runs the core.
type Core struct {
	Requests          atomic.Int64
	StaticRequests    atomic.Int64
	RoutedRequests    atomic.Int64
	OffloadedRequests atomic.Int64
	WriteErrors       atomic.Int64
	ReadErrors        atomic.Int64
	InRequest         atomic.Int64 // 0 or 1
	RequestStart      atomic.Int64 // unix µs of the running request, 0 idle
}

// Board is a mapped scoreboard.
type Board struct {
	mem    []byte
	Header *Header
}

// Caches and spoolers are Python objects of the zygote's children; their
// counters (ST-9, ST-15) live in a region after the worker slots that the
// Python side maps on its own, so the region starts on a page boundary.
const (
	MaxCaches   = 64
	MaxSpoolers = 64 // spooler processes, ids 1..MaxSpoolers
	MaxCrons    = 64
	pageSize    = 4096
)

// CacheCounters are one cache's numbers, written by whichever process uses
// the cache, under that cache's lock.
type CacheCounters struct {
	Items          atomic.Int64
	Hits           atomic.Int64 // cache_get found the key
	Miss           atomic.Int64 // cache_get did not
	Full           atomic.Int64 // a set refused because the cache was full
	LastModifiedAt atomic.Int64
	_              [24]byte
}

// SpoolerCounters are one spooler process's numbers, written by it.
type SpoolerCounters struct {
	Tasks   atomic.Int64 // tasks run since this spooler process started
	Running atomic.Int64 // 1 while a task runs
	_       [48]byte
}

// CronCounters describe a `cron` command while it runs (0 otherwise),
// written by the process that runs the crons.
type CronCounters struct {
	Pid       atomic.Int64
	StartedAt atomic.Int64 // epoch seconds
	LastRun   atomic.Int64 // epoch seconds of the last start, kept across worker respawns
	_         [40]byte
}

// Extras is the region of cache and spooler counters, index = cache order
// (legacy cache first, then cache2 entries) and spooler id.
type Extras struct {
	Caches   [MaxCaches]CacheCounters
	Spoolers [MaxSpoolers + 1]SpoolerCounters
	Crons    [MaxCrons]CronCounters // index = order of the valid cron options
}

// ExtrasOffset is where Extras starts: the first page after the slots.
const ExtrasOffset = (int(unsafe.Sizeof(Header{})) + (MaxWorkers+1)*int(unsafe.Sizeof(Worker{})) + pageSize - 1) / pageSize * pageSize

// MetricsOffset is where the metric values start (enable-metrics): one
// int64 per metric, in the order of stats.MetricSet, on a page boundary so
// the Python side maps only this region. The pages are touched only for
// the metrics that exist.
const MetricsOffset = (ExtrasOffset + int(unsafe.Sizeof(Extras{})) + pageSize - 1) / pageSize * pageSize

// MaxMetrics bounds the number of metric values (1 MiB of slots).
const MaxMetrics = 1 << 17

// Size is the byte size of a scoreboard.
const Size = MetricsOffset + MaxMetrics*8

// Create makes a new anonymous shared scoreboard and returns its fd, to be
// inherited by the processes that map it.
func Create() (*Board, int, error) {
	fd, err := unix.MemfdCreate("gosgi-scoreboard", 0)
	if err != nil {
		return nil, -1, fmt.Errorf("scoreboard: memfd_create: %w", err)
	}
	if err := unix.Ftruncate(fd, int64(Size)); err != nil {
		unix.Close(fd)
		return nil, -1, fmt.Errorf("scoreboard: ftruncate: %w", err)
	}
	b, err := Map(fd)
	if err != nil {
		unix.Close(fd)
		return nil, -1, err
	}
	return b, fd, nil
}

// Map maps the scoreboard behind fd.
func Map(fd int) (*Board, error) {
	mem, err := unix.Mmap(fd, 0, Size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("scoreboard: mmap: %w", err)
	}
	return &Board{mem: mem, Header: (*Header)(unsafe.Pointer(&mem[0]))}, nil
}

// Bytes is the whole mapped scoreboard.
func (b *Board) Bytes() []byte { return b.mem }

// Layout describes where Python finds the numbers (uwsgi.workers()): the
// header and slot sizes and the byte offset of every int64 counter of a
// Worker slot, by field name.
func Layout() map[string]int {
	out := map[string]int{
		"header_size":    int(unsafe.Sizeof(Header{})),
		"slot_size":      int(unsafe.Sizeof(Worker{})),
		"total_requests": int(unsafe.Offsetof(Header{}.TotalRequests)),
		"apps":           int(unsafe.Offsetof(Worker{}.Apps)),
		"app_size":       int(unsafe.Sizeof(App{})),
		"cores":          int(unsafe.Offsetof(Worker{}.Cores)),
		"core_size":      int(unsafe.Sizeof(Core{})),
		"max_cores":      MaxCores,
		"extras_offset":  ExtrasOffset,
		"extras_size":    int(unsafe.Sizeof(Extras{})),
		"cache_size":     int(unsafe.Sizeof(CacheCounters{})),
		"max_caches":     MaxCaches,
		"spoolers":       int(unsafe.Offsetof(Extras{}.Spoolers)),
		"spooler_size":   int(unsafe.Sizeof(SpoolerCounters{})),
		"max_spoolers":   MaxSpoolers,
		"crons":          int(unsafe.Offsetof(Extras{}.Crons)),
		"cron_size":      int(unsafe.Sizeof(CronCounters{})),
		"max_crons":      MaxCrons,
		"metrics_offset": MetricsOffset,
		"max_metrics":    MaxMetrics,
	}
	prefixes := map[string]string{"CacheCounters": "cache_", "SpoolerCounters": "spooler_", "CronCounters": "cron_"}
	for _, v := range []any{CacheCounters{}, SpoolerCounters{}, CronCounters{}} {
		t := reflect.TypeOf(v)
		prefix := prefixes[t.Name()]
		for i := 0; i < t.NumField(); i++ {
			if f := t.Field(i); f.Type == reflect.TypeOf(atomic.Int64{}) {
				out[prefix+f.Name] = int(f.Offset)
			}
		}
	}
	t := reflect.TypeOf(Worker{})
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Type == reflect.TypeOf(atomic.Int64{}) {
			out[f.Name] = int(f.Offset)
		}
	}
	return out
}

// Worker returns the slot of worker id (1..MaxWorkers).
func (b *Board) Worker(id int) *Worker {
	if id < 0 || id > MaxWorkers {
		panic(fmt.Sprintf("scoreboard: worker id %d out of range", id))
	}
	off := int(unsafe.Sizeof(Header{})) + id*int(unsafe.Sizeof(Worker{}))
	return (*Worker)(unsafe.Pointer(&b.mem[off]))
}

// Metric is metric value slot i (0 <= i < MaxMetrics).
func (b *Board) Metric(i int) *atomic.Int64 {
	if i < 0 || i >= MaxMetrics {
		panic(fmt.Sprintf("scoreboard: metric slot %d out of range", i))
	}
	return (*atomic.Int64)(unsafe.Pointer(&b.mem[MetricsOffset+8*i]))
}

// Extras returns the cache and spooler counters.
func (b *Board) Extras() *Extras {
	return (*Extras)(unsafe.Pointer(&b.mem[ExtrasOffset]))
}
