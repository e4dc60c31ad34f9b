package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

var testSlowPlan = slowPlan{Conns: 20, Probes: 2, Baseline: time.Second, Ramp: 400 * time.Millisecond, Attack: 1500 * time.Millisecond, Recovery: time.Second}

// A server that handles connections concurrently keeps serving normal
// requests while slow clients trickle.
func TestSlowConcurrentServerResists(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer srv.Close()
	res, err := runSlow(context.Background(), srv.URL+"/", testSlowPlan)
	if err != nil {
		t.Fatal(err)
	}
	if res.BeforeRPS < 10 || res.DuringOverBefore() < 0.3 || res.DuringErr != 0 || res.Held != testSlowPlan.Conns {
		t.Errorf("concurrent server: %+v (during/before %.2f), want it to keep serving with all slow conns held", res, res.DuringOverBefore())
	}
}

// A server that reads one request head at a time, without a timeout, is
// stopped completely by one slow client and recovers once they are gone.
func TestSlowSerialServerExposed(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			br := bufio.NewReader(c)
			for {
				line, err := br.ReadString('\n')
				if err != nil {
					break
				}
				if line == "\r\n" {
					io.WriteString(c, "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")
					break
				}
			}
			c.Close()
		}
	}()
	res, err := runSlow(context.Background(), "http://"+l.Addr().String()+"/", testSlowPlan)
	if err != nil {
		t.Fatal(err)
	}
	if res.BeforeRPS < 10 || res.DuringRPS != 0 || res.AfterRPS < 10 {
		t.Errorf("serial server: %+v, want normal traffic before and after, none during", res)
	}
}

// The slow client really sends an unfinished head, then header lines.
func TestSlowConnTrickles(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	got := make(chan string, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
		var sb strings.Builder
		buf := make([]byte, 256)
		for !strings.Contains(sb.String(), "X-Slow-1:") {
			n, err := c.Read(buf)
			sb.Write(buf[:n])
			if err != nil {
				break
			}
		}
		got <- sb.String()
	}()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
	defer cancel()
	go trickle(ctx, c)
	select {
	case s := <-got:
		if !strings.HasPrefix(s, "GET / HTTP/1.1\r\nHost: ") || !strings.Contains(s, "X-Slow-0: x\r\nX-Slow-1:") || strings.Contains(s, "\r\n\r\n") {
			t.Errorf("slow client sent %q", s)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no trickled headers within 5 s")
	}
}
