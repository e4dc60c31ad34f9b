package stats

import (
	"strconv"

	"github.com/gosgi/gosgi/internal/jsonstr"
)

// Format selects the document's variant.
type Format struct {
	Minified  bool // stats-minified: no newlines, no tabs (ST-4)
	NoCores   bool // stats-no-cores: no "cores" in workers
	NoMetrics bool // stats-no-metrics: no "metrics" object
}

// AppendJSON appends the stats document for s to dst, with uWSGI 2.0's key
// order and layout (ST-2): one `"key":value` per line, TAB indentation,
// `"key":` followed by as many TABs as its own indentation before a nested
// object's `{` (the `"req_info":\t\t\t\t\t{` quirk), empty containers as
// `[`/`{`, a blank line and the closing bracket, request vars at column 0
// ending with "", no newline after the final `}`. Unlike uWSGI, every
// string is JSON-escaped, so the document is always valid JSON (QK-6).
func AppendJSON(dst []byte, s *Snapshot, f Format) []byte {
	e := encoder{b: dst, min: f.Minified}
	e.open('{')
	e.str("version", s.Version)
	e.int("listen_queue", s.ListenQueue)
	e.int("listen_queue_errors", s.ListenQueueErrors)
	e.int("signal_queue", s.SignalQueue)
	e.int("load", s.Load)
	e.int("pid", int64(s.Pid))
	e.int("uid", int64(s.UID))
	e.int("gid", int64(s.GID))
	e.str("cwd", s.Cwd)
	if len(s.Daemons) > 0 {
		e.list("daemons")
		for _, d := range s.Daemons {
			e.item('{')
			e.str("cmd", d.Cmd)
			e.int("pid", int64(d.Pid))
			e.int("respawns", int64(d.Respawns))
			e.close('}')
		}
		e.close(']')
	}
	e.list("locks")
	for _, l := range s.Locks {
		e.item('{')
		e.int(l.Name, int64(l.Pid))
		e.close('}')
	}
	e.close(']')
	if len(s.Caches) > 0 {
		e.list("caches")
		for _, c := range s.Caches {
			e.item('{')
			e.str("name", c.Name)
			e.str("hash", c.Hash)
			e.int("hashsize", c.HashSize)
			e.int("keysize", c.KeySize)
			e.int("max_items", c.MaxItems)
			e.int("blocks", c.Blocks)
			e.int("blocksize", c.BlockSize)
			e.int("items", c.Items)
			e.int("hits", c.Hits)
			e.int("miss", c.Miss)
			e.int("full", c.Full)
			e.int("last_modified_at", c.LastModifiedAt)
			e.close('}')
		}
		e.close(']')
	}
	if s.Metrics != nil && !f.NoMetrics {
		e.object("metrics")
		for _, m := range s.Metrics {
			e.object(m.Name)
			e.int("type", int64(m.Type))
			e.str("oid", m.OID)
			e.int("value", m.Value)
			e.close('}')
		}
		e.close('}')
	}
	e.list("sockets")
	for _, k := range s.Sockets {
		e.item('{')
		e.str("name", k.Name)
		e.str("proto", k.Proto)
		e.int("queue", k.Queue)
		e.int("max_queue", k.MaxQueue)
		e.bool("shared", k.Shared)
		e.bool("can_offload", k.CanOffload)
		e.close('}')
	}
	e.close(']')
	e.list("workers")
	for i := range s.Workers {
		e.worker(&s.Workers[i], f.NoCores)
	}
	e.close(']')
	if len(s.Spoolers) > 0 {
		e.list("spoolers")
		for _, sp := range s.Spoolers {
			e.item('{')
			e.str("dir", sp.Dir)
			e.int("pid", int64(sp.Pid))
			e.int("tasks", sp.Tasks)
			e.int("respawns", sp.Respawns)
			e.bool("running", sp.Running)
			e.close('}')
		}
		e.close(']')
	}
	if len(s.Crons) > 0 {
		e.list("crons")
		for _, c := range s.Crons {
			e.item('{')
			e.int("minute", int64(c.Minute))
			e.int("hour", int64(c.Hour))
			e.int("day", int64(c.Day))
			e.int("month", int64(c.Month))
			e.int("week", int64(c.Week))
			e.str("command", c.Command)
			e.bool("unique", c.Unique)
			e.str("legion", c.Legion)
			e.int("pid", int64(c.Pid))
			e.int("started_at", c.StartedAt)
			e.close('}')
		}
		e.close(']')
	}
	e.close('}')
	return e.b
}

func (e *encoder) worker(w *Worker, noCores bool) {
	e.item('{')
	e.int("id", int64(w.ID))
	e.int("pid", int64(w.Pid))
	e.bool("accepting", w.Accepting)
	e.int("requests", w.Requests)
	e.int("delta_requests", w.DeltaRequests)
	e.int("exceptions", w.Exceptions)
	e.int("harakiri_count", w.HarakiriCount)
	e.int("signals", w.Signals)
	e.int("signal_queue", w.SignalQueue)
	e.str("status", w.Status)
	e.int("rss", w.RSS)
	e.int("vsz", w.VSZ)
	e.int("running_time", w.RunningTime)
	e.int("last_spawn", w.LastSpawn)
	e.int("respawn_count", w.RespawnCount)
	e.int("tx", w.TX)
	e.int("avg_rt", w.AvgRT)
	e.list("apps")
	for _, a := range w.Apps {
		e.item('{')
		e.int("id", int64(a.ID))
		e.int("modifier1", int64(a.Modifier1))
		e.str("mountpoint", a.Mountpoint)
		e.int("startup_time", a.StartupTime)
		e.int("requests", a.Requests)
		e.int("exceptions", a.Exceptions)
		e.str("chdir", a.Chdir)
		e.close('}')
	}
	e.close(']')
	if !noCores {
		e.list("cores")
		for i := range w.Cores {
			e.core(&w.Cores[i])
		}
		e.close(']')
	}
	e.close('}')
}

func (e *encoder) core(c *Core) {
	e.item('{')
	e.int("id", int64(c.ID))
	e.int("requests", c.Requests)
	e.int("static_requests", c.StaticRequests)
	e.int("routed_requests", c.RoutedRequests)
	e.int("offloaded_requests", c.OffloadedRequests)
	e.int("write_errors", c.WriteErrors)
	e.int("read_errors", c.ReadErrors)
	e.bool("in_request", c.InRequest)
	e.list("vars")
	if c.InRequest && len(c.Vars) > 0 {
		for _, v := range c.Vars {
			e.rawItem(v)
		}
		e.rawItem("") // uWSGI ends a non-empty vars list with "" (ST-14)
	}
	e.close(']')
	e.object("req_info")
	if c.InRequest {
		e.int("request_start", c.RequestStart)
	}
	e.close('}')
	e.close('}')
}

// encoder writes the layout; each open container is a level whose first
// flag decides the "," before the next member.
type encoder struct {
	b      []byte
	min    bool
	levels []bool // true while the level has no member yet
}

func (e *encoder) depth() int { return len(e.levels) }

func (e *encoder) nl() {
	if !e.min {
		e.b = append(e.b, '\n')
	}
}

func (e *encoder) tabs(n int) {
	if e.min {
		return
	}
	for range n {
		e.b = append(e.b, '\t')
	}
}

// sep starts a new member or item of the current level.
func (e *encoder) sep() {
	top := len(e.levels) - 1
	if !e.levels[top] {
		e.b = append(e.b, ',')
	}
	e.levels[top] = false
	e.nl()
}

func (e *encoder) open(c byte) {
	e.b = append(e.b, c)
	e.levels = append(e.levels, true)
}

// close ends the current container: an empty one gets a blank line.
func (e *encoder) close(c byte) {
	top := len(e.levels) - 1
	if e.levels[top] {
		e.nl()
	}
	e.levels = e.levels[:top]
	e.nl()
	e.tabs(e.depth())
	e.b = append(e.b, c)
}

func (e *encoder) key(k string) {
	e.sep()
	e.tabs(e.depth())
	e.b = jsonstr.Append(e.b, k)
	e.b = append(e.b, ':')
}

func (e *encoder) int(k string, v int64) {
	e.key(k)
	e.b = strconv.AppendInt(e.b, v, 10)
}

func (e *encoder) bool(k string, v bool) {
	var n int64
	if v {
		n = 1
	}
	e.int(k, n)
}

func (e *encoder) str(k, v string) {
	e.key(k)
	e.b = jsonstr.Append(e.b, v)
}

func (e *encoder) list(k string) {
	e.key(k)
	e.open('[')
}

// object opens a member object: uWSGI repeats the member's indentation
// between the colon and the brace.
func (e *encoder) object(k string) {
	e.key(k)
	e.tabs(e.depth())
	e.open('{')
}

// item opens a container inside a list, on its own indented line.
func (e *encoder) item(c byte) {
	e.sep()
	e.tabs(e.depth())
	e.open(c)
}

// rawItem is a string in a list, at column 0 (the vars layout).
func (e *encoder) rawItem(v string) {
	e.sep()
	e.b = jsonstr.Append(e.b, v)
}
