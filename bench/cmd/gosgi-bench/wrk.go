package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"
)

const wrkThreads = 2

// wrkScript makes wrk send the right request and print one machine-readable
// result line. Arguments after "--": CONN BODY_BYTES.
//
//	CONN "close": HTTP/1.0 request with "Connection: close" (see Config.keepAlive)
//	CONN "keep":  plain HTTP/1.1 keep-alive
//	BODY_BYTES > 0: POST a body of that many bytes
const wrkScript = `
local req
function init(args)
  local close = args[1] == "close"
  local n = tonumber(args[2] or "0") or 0
  local method, body = "GET", nil
  if n > 0 then
    method = "POST"
    body = string.rep("gosgi-bench-pad.", math.floor(n / 16)) .. string.rep("!", n % 16)
    wrk.headers["Content-Type"] = "application/octet-stream"
  end
  if close then wrk.headers["Connection"] = "close" end
  req = wrk.format(method, nil, nil, body)
  if close then
    req = (req:gsub("^(%S+ %S+) HTTP/1%.1\r\n", "%1 HTTP/1.0\r\n", 1))
  end
end

function request()
  return req
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '` + wrkMarker + `{"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,' ..
    '"write":%d,"status":%d,"timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write,
    e.status, e.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max))
end
`

const wrkMarker = "GOSGI-BENCH "

// WrkResult is what one wrk run measured. Latencies are in microseconds.
type WrkResult struct {
	Requests   int64 `json:"requests"`
	DurationUS int64 `json:"duration_us"`
	Bytes      int64 `json:"bytes"`
	Connect    int64 `json:"connect"`
	Read       int64 `json:"read"`
	Write      int64 `json:"write"`
	Status     int64 `json:"status"` // responses with status >= 400
	Timeout    int64 `json:"timeout"`
	P50US      int64 `json:"p50_us"`
	P90US      int64 `json:"p90_us"`
	P99US      int64 `json:"p99_us"`
	MaxUS      int64 `json:"max_us"`
}

// RPS is completed requests per second of wrk's measured duration.
func (w WrkResult) RPS() float64 {
	if w.DurationUS <= 0 {
		return 0
	}
	return float64(w.Requests) * 1e6 / float64(w.DurationUS)
}

// SocketErrors counts connect, read, write errors and timeouts.
func (w WrkResult) SocketErrors() int64 { return w.Connect + w.Read + w.Write + w.Timeout }

// Errors is failed requests of any kind.
func (w WrkResult) Errors() int64 { return w.SocketErrors() + w.Status }

// parseWrk extracts the result line the script prints from wrk's output.
func parseWrk(out []byte) (WrkResult, error) {
	i := bytes.LastIndex(out, []byte(wrkMarker))
	if i < 0 {
		return WrkResult{}, fmt.Errorf("wrk output has no %q line: %q", wrkMarker, clip(out))
	}
	line := out[i+len(wrkMarker):]
	if j := bytes.IndexByte(line, '\n'); j >= 0 {
		line = line[:j]
	}
	var r WrkResult
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return WrkResult{}, fmt.Errorf("wrk result line %q: %w", clip(line), err)
	}
	for _, v := range []int64{r.Requests, r.DurationUS, r.Bytes, r.Connect, r.Read, r.Write, r.Status, r.Timeout, r.P50US, r.P90US, r.P99US, r.MaxUS} {
		if v < 0 {
			return WrkResult{}, fmt.Errorf("wrk result line %q: negative value", clip(line))
		}
	}
	if r.DurationUS == 0 {
		return WrkResult{}, fmt.Errorf("wrk result line %q: zero duration", clip(line))
	}
	return r, nil
}

// wrkRun describes one wrk invocation.
type wrkRun struct {
	URL       string
	Duration  time.Duration
	Conns     int
	KeepAlive bool
	PostBytes int
	Dir       string // where the script is written
	OutFile   string // wrk's full output is kept here ("" = not kept)
}

// runWrk runs wrk to completion and parses its result.
func runWrk(ctx context.Context, r wrkRun) (WrkResult, error) {
	script := filepath.Join(r.Dir, "bench.lua")
	if err := os.WriteFile(script, []byte(wrkScript), 0o644); err != nil {
		return WrkResult{}, fmt.Errorf("write wrk script: %w", err)
	}
	conn := "close"
	if r.KeepAlive {
		conn = "keep"
	}
	secs := max(1, int(r.Duration.Round(time.Second)/time.Second))
	args := []string{"-t" + strconv.Itoa(wrkThreads), "-c" + strconv.Itoa(r.Conns), "-d" + strconv.Itoa(secs) + "s",
		"--timeout", "5s", "--latency", "-s", script, r.URL, "--", conn, strconv.Itoa(r.PostBytes)}
	// Bound the run: wrk itself stops after the duration plus its timeout.
	ctx, cancel := context.WithTimeout(ctx, time.Duration(secs)*time.Second+30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "wrk", args...)
	out, err := cmd.CombinedOutput()
	if r.OutFile != "" {
		_ = os.WriteFile(r.OutFile, out, 0o644)
	}
	if err != nil {
		return WrkResult{}, fmt.Errorf("wrk %s: %w: %q", r.URL, err, clip(out))
	}
	return parseWrk(out)
}
