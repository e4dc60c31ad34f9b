package e2e

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
)

// Env is what a scenario function gets for one implementation.
type Env struct {
	Impl    Impl
	Srv     *Server           // nil for scenarios that start nothing
	Vars    map[string]string // the values substituted into the args template
	Version string            // what the binary's --version printed
}

// Addr returns the address bound to the template variable name.
func (e *Env) Addr(name string) string { return e.Vars[name] }

// Setup describes a server to start for a differential scenario. Args is a
// template: {http} and {http2} are free loopback TCP addresses, {sock} and
// {sock2} unix socket paths, {apps} the test apps directory, {dir} a private
// temporary directory (the working directory of the server).
type Setup struct {
	Args  []string
	Env   []string // extra environment, also templated
	Ready string   // readiness regexp; see StartOptions.Ready
	// NoStart leaves starting the server to the scenario (Env.Srv is nil).
	NoStart bool
}

// Differential runs fn once per implementation, each against its own
// freshly started server, and fails the test if the values fn returned are
// not equal once encoded as JSON. fn should return normalised, comparable
// data; it may fail the test itself for spec violations.
func Differential(t *testing.T, setup Setup, fn func(t *testing.T, e *Env) any) {
	t.Helper()
	impls := Impls(t)
	results := make([]string, len(impls))
	for i, impl := range impls {
		ok := t.Run(impl.Name, func(t *testing.T) {
			e := NewEnv(t, impl, setup)
			res := fn(t, e)
			var b strings.Builder
			enc := json.NewEncoder(&b)
			enc.SetEscapeHTML(false)
			enc.SetIndent("", "  ")
			if err := enc.Encode(res); err != nil {
				t.Fatalf("encode result: %v", err)
			}
			results[i] = b.String()
			if e.Version != "" {
				results[i] = strings.ReplaceAll(results[i], e.Version, "<VERSION>")
			}
		})
		if !ok {
			return
		}
	}
	if results[0] != results[1] {
		t.Errorf("%s and %s differ (-%s +%s):\n%s", impls[0].Name, impls[1].Name,
			impls[0].Name, impls[1].Name, LineDiff(results[0], results[1]))
	}
}

// NewEnv allocates addresses for one implementation and, unless
// setup.NoStart, starts its server.
func NewEnv(t *testing.T, impl Impl, setup Setup) *Env {
	t.Helper()
	dir := t.TempDir()
	vars := map[string]string{
		"http":  FreePort(t),
		"http2": FreePort(t),
		"sock":  SockPath(t, "app.sock"),
		"sock2": SockPath(t, "app2.sock"),
		"apps":  AppsDir(t),
		"dir":   dir,
	}
	e := &Env{Impl: impl, Vars: vars, Version: Version(t, impl.Bin)}
	if !setup.NoStart {
		e.Srv = Start(t, impl.Name, impl.Bin, Args(setup.Args, vars),
			StartOptions{Env: Args(setup.Env, vars), Dir: dir, Ready: setup.Ready})
	}
	return e
}

// LineDiff is a small line-oriented diff (longest common subsequence),
// enough to show where two normalised results part.
func LineDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	n, m := len(al), len(bl)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if al[i] == bl[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out strings.Builder
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && al[i] == bl[j]:
			out.WriteString("  " + al[i] + "\n")
			i++
			j++
		case j < m && (i == n || lcs[i][j+1] >= lcs[i+1][j]):
			out.WriteString("+ " + bl[j] + "\n")
			j++
		default:
			out.WriteString("- " + al[i] + "\n")
			i++
		}
	}
	return out.String()
}

// Normalised environ values: what depends on the port picked, the machine or
// object addresses is replaced by a token.
var objAddrRE = regexp.MustCompile(` at 0x[0-9a-f]+>`)

// NormaliseEnviron rewrites a decoded envdump.py result in place: ports,
// object addresses and the host name become tokens, so two servers on
// different ports compare equal.
func NormaliseEnviron(env map[string]any) map[string]any {
	host, _ := os.Hostname()
	for k, v := range env {
		switch k {
		case "SERVER_PORT", "REMOTE_PORT":
			env[k] = "<PORT>"
			continue
		case "HTTP_HOST":
			if s, ok := v.(string); ok {
				if h, _, found := strings.Cut(s, ":"); found {
					env[k] = h + ":<PORT>"
				}
			}
			continue
		}
		if m, ok := v.(map[string]any); ok {
			if r, ok := m["repr"].(string); ok {
				m["repr"] = objAddrRE.ReplaceAllString(r, " at 0x<ADDR>>")
			}
			if b, ok := m["__bytes__"].(string); ok && host != "" && b == host {
				m["__bytes__"] = "<HOSTNAME>"
			}
		}
		if s, ok := v.(string); ok && host != "" && s == host && k == "SERVER_NAME" {
			env[k] = "<HOSTNAME>"
		}
	}
	return env
}

// DecodeEnviron parses an envdump.py body and normalises it.
func DecodeEnviron(t testing.TB, body []byte) map[string]any {
	t.Helper()
	var env map[string]any
	if err := json.Unmarshal(body, &env); err != nil {
		t.Fatalf("environ dump is not JSON: %v\n%s", err, body)
	}
	return NormaliseEnviron(env)
}

// UwsgiPacket encodes a uwsgi request (WP-1..WP-3): the 4-byte header with
// modifier1 0, then the key/value pairs, then body.
func UwsgiPacket(vars [][2]string, body string) []byte {
	var block []byte
	for _, kv := range vars {
		block = binary.LittleEndian.AppendUint16(block, uint16(len(kv[0])))
		block = append(block, kv[0]...)
		block = binary.LittleEndian.AppendUint16(block, uint16(len(kv[1])))
		block = append(block, kv[1]...)
	}
	pkt := []byte{0, 0, 0, 0}
	binary.LittleEndian.PutUint16(pkt[1:3], uint16(len(block)))
	pkt = append(pkt, block...)
	return append(pkt, body...)
}

// BasicUwsgiVars is a minimal valid variable list for a GET of path.
func BasicUwsgiVars(path string) [][2]string {
	return [][2]string{
		{"REQUEST_METHOD", "GET"}, {"REQUEST_URI", path}, {"PATH_INFO", path},
		{"QUERY_STRING", ""}, {"SERVER_PROTOCOL", "HTTP/1.1"}, {"SERVER_NAME", "e2e.test"},
		{"SERVER_PORT", "80"}, {"REMOTE_ADDR", "127.0.0.1"}, {"HTTP_HOST", "e2e.test"},
	}
}

// Summary is the comparable view of a reply: status line, headers, body.
type Summary struct {
	Status  string
	Headers [][2]string
	Body    string
}

// Summarise turns a response into a Summary, dropping headers listed in
// drop (case-insensitive), e.g. nginx's Date.
func Summarise(r *Response, drop ...string) Summary {
	s := Summary{Status: r.StatusLine, Body: string(r.Body)}
	for _, h := range r.Headers {
		keep := true
		for _, d := range drop {
			if strings.EqualFold(h[0], d) {
				keep = false
			}
		}
		if keep {
			s.Headers = append(s.Headers, h)
		}
	}
	return s
}

// String renders a Summary for messages.
func (s Summary) String() string {
	return fmt.Sprintf("%q %q %q", s.Status, s.Headers, s.Body)
}
