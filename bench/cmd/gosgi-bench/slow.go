package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// slowPlan sets the phases of the slow-client test.
type slowPlan struct {
	Conns    int           // slow connections
	Probes   int           // normal clients measuring the service rate
	Baseline time.Duration // normal traffic only
	Ramp     time.Duration // slow connections opening; not counted
	Attack   time.Duration // normal traffic while the slow connections trickle
	Recovery time.Duration // after the slow connections are closed
	// Upload: the slow connections send a whole POST head and then trickle
	// its body, one byte per second, instead of trickling the head.
	Upload bool
}

// SlowResult is normal-traffic throughput before, during and after the attack.
type SlowResult struct {
	BeforeRPS float64 `json:"before_rps"`
	DuringRPS float64 `json:"during_rps"`
	AfterRPS  float64 `json:"after_rps"`
	BeforeErr int64   `json:"before_errors"`
	DuringErr int64   `json:"during_errors"`
	AfterErr  int64   `json:"after_errors"`
	Held      int     `json:"held"`     // slow connections open at the end of the attack
	Reopened  int64   `json:"reopened"` // slow connections the server closed (or answered)
}

// DuringOverBefore is the fraction of the normal rate kept under attack.
func (r SlowResult) DuringOverBefore() float64 {
	if r.BeforeRPS <= 0 {
		return 0
	}
	return r.DuringRPS / r.BeforeRPS
}

// phase counters: a probe request counts only if it starts and ends in the
// same phase, so one slow request cannot be credited to the wrong phase.
type phaseCounter struct {
	phase atomic.Int32 // 0 idle, 1 before, 2 ramp (not counted), 3 during, 4 after
	ok    [5]atomic.Int64
	fail  [5]atomic.Int64
}

// runSlow runs the slow-client test against a started stack.
func runSlow(parent context.Context, url string, plan slowPlan) (SlowResult, error) {
	addr := strings.TrimSuffix(strings.TrimPrefix(url, "http://"), "/")
	var pc phaseCounter
	ctx, stopProbes := context.WithCancel(parent)
	defer stopProbes()
	var wg sync.WaitGroup
	for i := 0; i < plan.Probes; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); probe(ctx, url, &pc) }()
	}
	sleep := func(d time.Duration) bool {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(d):
			return true
		}
	}
	pc.phase.Store(1)
	sleep(plan.Baseline)
	pc.phase.Store(2)
	attackCtx, stopAttack := context.WithCancel(ctx)
	var held atomic.Int64
	var reopened atomic.Int64
	var awg sync.WaitGroup
	spacing := plan.Ramp / time.Duration(2*max(1, plan.Conns))
	for i := 0; i < plan.Conns; i++ {
		awg.Add(1)
		go func() { defer awg.Done(); slowConn(attackCtx, addr, plan.Upload, &held, &reopened) }()
		sleep(spacing)
	}
	sleep(plan.Ramp / 2)
	pc.phase.Store(3)
	sleep(plan.Attack)
	res := SlowResult{Held: int(held.Load()), Reopened: reopened.Load()}
	pc.phase.Store(2) // closing the slow connections: not counted
	stopAttack()
	awg.Wait()
	pc.phase.Store(4)
	sleep(plan.Recovery)
	pc.phase.Store(0)
	stopProbes()
	wg.Wait()
	if err := parent.Err(); err != nil {
		return res, fmt.Errorf("slow clients: %w", err)
	}
	secs := func(d time.Duration) float64 { return max(d.Seconds(), 1e-9) }
	res.BeforeRPS = float64(pc.ok[1].Load()) / secs(plan.Baseline)
	res.DuringRPS = float64(pc.ok[3].Load()) / secs(plan.Attack)
	res.AfterRPS = float64(pc.ok[4].Load()) / secs(plan.Recovery)
	res.BeforeErr, res.DuringErr, res.AfterErr = pc.fail[1].Load(), pc.fail[3].Load(), pc.fail[4].Load()
	return res, nil
}

// probe sends normal requests, one connection each, 2 s timeout.
func probe(ctx context.Context, url string, pc *phaseCounter) {
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for ctx.Err() == nil {
		ph := pc.phase.Load()
		req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
		if err != nil {
			return
		}
		resp, err := client.Do(req)
		ok := err == nil && resp.StatusCode == 200
		if err == nil {
			_, _ = bufio.NewReader(resp.Body).WriteTo(discard{})
			resp.Body.Close()
		}
		if ctx.Err() != nil {
			return
		}
		if pc.phase.Load() != ph {
			continue
		}
		if ok {
			pc.ok[ph].Add(1)
		} else {
			pc.fail[ph].Add(1)
			// Do not spin on instant failures (connection refused).
			time.Sleep(10 * time.Millisecond)
		}
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// slowConn keeps one connection that sends an unfinished request head and
// then one more header line per second (or, upload, a whole POST head and
// then one body byte per second), reopening it whenever the server closes
// it.
func slowConn(ctx context.Context, addr string, upload bool, held, reopened *atomic.Int64) {
	for ctx.Err() == nil {
		d := net.Dialer{Timeout: 2 * time.Second}
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			// Listen queue full (SYN dropped) or refused: try again.
			time.Sleep(100 * time.Millisecond)
			continue
		}
		held.Add(1)
		if upload {
			trickleBody(ctx, c)
		} else {
			trickle(ctx, c)
		}
		held.Add(-1)
		c.Close()
		if ctx.Err() == nil {
			reopened.Add(1) // the server closed or answered it
		}
	}
}

// trickle returns when the server closes or answers, or ctx ends.
func trickle(ctx context.Context, c net.Conn) {
	if _, err := fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: %s\r\nUser-Agent: slow-client\r\n", c.RemoteAddr()); err != nil {
		return
	}
	buf := make([]byte, 512)
	for i := 0; ctx.Err() == nil; i++ {
		// The read deadline is the 1 s tick; anything the server sends
		// (an error status) or EOF ends this connection.
		_ = c.SetReadDeadline(time.Now().Add(time.Second))
		if _, err := c.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
			return
		}
		_ = c.SetWriteDeadline(time.Now().Add(time.Second))
		if _, err := fmt.Fprintf(c, "X-Slow-%d: x\r\n", i); err != nil {
			return
		}
	}
}

// trickleBody sends a POST head announcing a 1 MB body, then one body byte
// per second; it returns when the server closes or answers, or ctx ends.
func trickleBody(ctx context.Context, c net.Conn) {
	if _, err := fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: %s\r\nUser-Agent: slow-upload\r\n"+
		"Content-Type: application/octet-stream\r\nContent-Length: 1000000\r\n\r\n", c.RemoteAddr()); err != nil {
		return
	}
	buf := make([]byte, 512)
	for ctx.Err() == nil {
		_ = c.SetReadDeadline(time.Now().Add(time.Second))
		if _, err := c.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
			return
		}
		_ = c.SetWriteDeadline(time.Now().Add(time.Second))
		if _, err := c.Write([]byte{'x'}); err != nil {
			return
		}
	}
}
