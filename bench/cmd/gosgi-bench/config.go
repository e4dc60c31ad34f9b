package main

import (
	"fmt"
	"strconv"
	"strings"
)

// Modes: how the load generator reaches the Python app.
const (
	modeHTTPSocket = "http-socket"  // wrk -> server's own HTTP socket (--http-socket)
	modeNginx      = "uwsgi-nginx"  // wrk -> nginx -> uwsgi_pass unix socket (--socket)
	modeRouter     = "http-router"  // wrk -> HTTP router process -> worker (--plugin http --http)
	modeGevent     = "gevent-http"  // wrk -> --http-socket, THREADS greenlet cores (--gevent, monkey-patched)
	modePostBuf    = "http-postbuf" // wrk -> --http-socket with --post-buffering 8192 (slow uploads)
)

// Config is one benchmark configuration: MODE:APP:WORKERS:THREADS[:CONNS].
type Config struct {
	Mode    string
	App     string
	Workers int
	Threads int
	Conns   int // wrk connections
}

// Name is the label used in tables and file names.
func (c Config) Name() string {
	return fmt.Sprintf("%s %s w%d t%d c%d", c.Mode, c.App, c.Workers, c.Threads, c.Conns)
}

// Tag is Name without spaces, for file names.
func (c Config) Tag() string {
	return strings.ReplaceAll(c.Name(), " ", "_")
}

// keepAlive reports whether wrk may reuse connections. uWSGI's own HTTP
// socket (TOP-7) and router close the connection after every response while still
// answering HTTP/1.1 without "Connection: close"; wrk would then count one
// bogus read error per request, so direct modes send HTTP/1.0 +
// Connection: close. nginx keeps client connections alive.
func (c Config) keepAlive() bool { return c.Mode == modeNginx }

// splitList splits on spaces and commas, dropping empty words.
func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' || r == '\t' || r == '\n' })
}

// ParseConfigs parses a list of MODE:APP:WORKERS:THREADS[:CONNS] words.
// conns is used when a word has no CONNS part.
func ParseConfigs(s string, conns int) ([]Config, error) {
	var out []Config
	for _, w := range splitList(s) {
		c, err := parseConfig(w, conns)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

func parseConfig(w string, conns int) (Config, error) {
	parts := strings.Split(w, ":")
	if len(parts) != 4 && len(parts) != 5 {
		return Config{}, fmt.Errorf("config %q: want MODE:APP:WORKERS:THREADS[:CONNS]", w)
	}
	c := Config{Mode: parts[0], App: parts[1], Conns: conns}
	switch c.Mode {
	case modeHTTPSocket, modeNginx, modeRouter, modeGevent, modePostBuf:
	default:
		return Config{}, fmt.Errorf("config %q: unknown mode %q (want %s, %s, %s, %s or %s)", w, c.Mode,
			modeHTTPSocket, modeNginx, modeRouter, modeGevent, modePostBuf)
	}
	if _, ok := apps[c.App]; !ok {
		return Config{}, fmt.Errorf("config %q: unknown app %q (want one of %s)", w, c.App, appNames())
	}
	nums := []*int{&c.Workers, &c.Threads, &c.Conns}
	limits := []int{64, 64, 10000}
	if c.Mode == modeGevent {
		limits[1] = 1000 // async cores
	}
	for i, p := range parts[2:] {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > limits[i] {
			return Config{}, fmt.Errorf("config %q: field %d (%q) must be an integer in 1..%d", w, i+3, p, limits[i])
		}
		*nums[i] = n
	}
	// wrk needs at least one connection per thread (it runs 2 threads).
	if c.Conns < wrkThreads {
		return Config{}, fmt.Errorf("config %q: at least %d connections needed", w, wrkThreads)
	}
	return c, nil
}

// Server is one column of the comparison: a name and the binary that gets
// the uWSGI command line.
type Server struct {
	Name string
	Bin  string
}

// ParseServers parses "NAME=BINARY ..." (the first one is the baseline of
// every ratio). Names must be distinct, since results are keyed by name.
func ParseServers(s string) ([]Server, error) {
	var out []Server
	seen := map[string]bool{}
	for _, w := range splitList(s) {
		name, bin, ok := strings.Cut(w, "=")
		if !ok || name == "" || bin == "" {
			return nil, fmt.Errorf("server %q: want NAME=BINARY", w)
		}
		if strings.ContainsAny(name, "|/\"") {
			return nil, fmt.Errorf("server %q: name must not contain '|', '/' or '\"'", w)
		}
		if seen[name] {
			return nil, fmt.Errorf("server %q: name %q used twice", w, name)
		}
		seen[name] = true
		out = append(out, Server{Name: name, Bin: bin})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no servers given")
	}
	return out, nil
}
