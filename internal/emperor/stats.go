package emperor

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/gosgi/gosgi/internal/options"
)

// Stats is the emperor stats document (emperor-stats), with uWSGI
// 2.0.21's keys in its order; uwsgitop shows its "vassals" list.
type Stats struct {
	Version       string        `json:"version"`
	PID           int           `json:"pid"`
	UID           int           `json:"uid"`
	GID           int           `json:"gid"`
	Cwd           string        `json:"cwd"`
	Emperor       []string      `json:"emperor"`
	EmperorTyrant int           `json:"emperor_tyrant"`
	ThrottleLevel int64         `json:"throttle_level"`
	Vassals       []VassalStats `json:"vassals"`
	Blacklist     []BlackStats  `json:"blacklist"`
}

// VassalStats is one vassal; times are Unix seconds, 0 for never.
type VassalStats struct {
	ID            string `json:"id"`
	PID           int    `json:"pid"`
	Born          int64  `json:"born"`
	LastMod       int64  `json:"last_mod"`
	LastHeartbeat int64  `json:"last_heartbeat"`
	Loyal         int    `json:"loyal"`
	Ready         int    `json:"ready"`
	Accepting     int    `json:"accepting"`
	LastLoyal     int64  `json:"last_loyal"`
	LastReady     int64  `json:"last_ready"`
	LastAccepting int64  `json:"last_accepting"`
	FirstRun      int64  `json:"first_run"`
	LastRun       int64  `json:"last_run"`
	Cursed        int64  `json:"cursed"`
	Zerg          int    `json:"zerg"`
	OnDemand      string `json:"on_demand"`
	UID           int    `json:"uid"`
	GID           int    `json:"gid"`
	Monitor       string `json:"monitor"`
	Respawns      int    `json:"respawns"`
}

// BlackStats is one throttled vassal.
type BlackStats struct {
	ID            string `json:"id"`
	ThrottleLevel int64  `json:"throttle_level"`
	AttemptsCount int    `json:"attempt"`
	FirstAttempt  int64  `json:"first_attempt"`
	LastAttempt   int64  `json:"last_attempt"`
}

func unix0(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

// snapshot builds the stats document; called on the loop goroutine.
func (e *Emperor) snapshot() Stats {
	cwd, _ := os.Getwd()
	st := Stats{
		Version: options.Version, PID: os.Getpid(), UID: os.Getuid(), GID: os.Getgid(),
		Cwd: cwd, Emperor: []string{}, EmperorTyrant: b2i(e.Tyrant),
		ThrottleLevel: e.level.Milliseconds(),
		Vassals:       []VassalStats{}, Blacklist: []BlackStats{},
	}
	for _, s := range e.sources {
		st.Emperor = append(st.Emperor, s.Monitor())
	}
	for _, v := range e.sorted() {
		vs := VassalStats{
			ID: v.name, PID: v.pid, Born: unix0(v.born), LastMod: unix0(v.lastMod),
			LastHeartbeat: unix0(v.lastHB), Loyal: b2i(v.loyal), Ready: b2i(v.ready), Accepting: b2i(v.accepting),
			LastLoyal: unix0(v.lastLoyal), LastReady: unix0(v.lastReady), LastAccepting: unix0(v.lastAccept),
			FirstRun: unix0(v.born), LastRun: unix0(v.lastRun), OnDemand: v.sockPath, UID: v.uid, GID: v.gid,
			Monitor: e.sources[v.src].Monitor(), Respawns: v.respawns,
		}
		if v.stopping {
			vs.Cursed = unix0(v.stopAt) // asked to go, not gone yet
		}
		st.Vassals = append(st.Vassals, vs)
	}
	names := make([]string, 0, len(e.blacklist))
	for name := range e.blacklist {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		bl := e.blacklist[name]
		st.Blacklist = append(st.Blacklist, BlackStats{
			ID: name, ThrottleLevel: bl.level.Milliseconds(), AttemptsCount: bl.attempts,
			FirstAttempt: unix0(bl.first), LastAttempt: unix0(bl.last),
		})
	}
	return st
}

func (e *Emperor) statsJSON() []byte {
	b, err := json.MarshalIndent(e.snapshot(), "", "\t")
	if err != nil {
		return []byte(fmt.Sprintf("{\"error\":%q}", err.Error()))
	}
	return b
}

// serveStats answers every connection on l with the stats document and
// closes it, as uWSGI's stats servers do. It returns when l is closed.
func (e *Emperor) serveStats(l net.Listener) error {
	for {
		c, err := l.Accept()
		if err != nil {
			return err
		}
		reply := make(chan []byte, 1)
		select {
		case e.statsReq <- reply:
		case <-e.quit:
			c.Close()
			return nil
		}
		doc := <-reply
		c.SetWriteDeadline(time.Now().Add(5 * time.Second))
		c.Write(doc)
		c.Close()
	}
}

// ListenStats opens the emperor-stats address: host:port, :port, or a
// unix socket path.
func ListenStats(addr string) (net.Listener, error) {
	network := "unix"
	if strings.Contains(addr, ":") && !strings.HasPrefix(addr, "/") {
		network = "tcp"
		if strings.HasPrefix(addr, ":") {
			addr = "0.0.0.0" + addr
		}
	}
	if network == "unix" {
		os.Remove(addr)
	}
	l, err := net.Listen(network, addr)
	if err != nil {
		return nil, fmt.Errorf("emperor-stats %s: %w", addr, err)
	}
	return l, nil
}
