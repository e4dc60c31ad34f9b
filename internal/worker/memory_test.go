package worker

import (
	"io"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gosgi/gosgi/internal/boot"
	"github.com/gosgi/gosgi/internal/embed"
	"github.com/gosgi/gosgi/internal/logging"
	"github.com/gosgi/gosgi/internal/scoreboard"
)

// TestMemoryReadOncePerRequest: memory-report (LG-4) and reload-on-rss /
// reload-on-as (PM-45) share one read of /proc/self per request.
func TestMemoryReadOncePerRequest(t *testing.T) {
	board, _, err := scoreboard.Create()
	if err != nil {
		t.Fatal(err)
	}
	quietStderr(t) // finish writes the request lines to fd 2
	reads := 0
	readMemory = func() (int64, int64) { reads++; return 10 << 20, 100 << 20 }
	defer func() { readMemory = statm }()
	for _, tc := range []struct {
		name  string
		cfg   boot.Worker
		reads int // per request
	}{
		{"memory-report and reload-on-rss", boot.Worker{MemoryReport: true, ReloadOnRSS: 1 << 40}, 1},
		{"memory-report, reload-on-rss and reload-on-as", boot.Worker{MemoryReport: true, ReloadOnRSS: 1 << 40, ReloadOnAS: 1 << 40}, 1},
		{"reload-on-rss with disable-logging", boot.Worker{DisableLogging: true, ReloadOnRSS: 1 << 40}, 1},
		{"memory-report only", boot.Worker{MemoryReport: true}, 1},
		{"neither", boot.Worker{}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			w := &Worker{id: 1, cfg: &cfg, board: board, slot: board.Worker(1), started: time.Now(),
				log: logging.NewLogger(io.Discard, "", false), spec: &boot.Spec{Master: true}}
			l := &loop{w: w}
			reads = 0
			for i := 0; i < 3; i++ {
				l.finish(-1, nil, &embed.Result{Status: 200}, time.Now())
				l.maybeRecycle()
			}
			if reads != 3*tc.reads {
				t.Errorf("%d reads for 3 requests, want %d", reads, 3*tc.reads)
			}
			if tc.reads > 0 && w.slot.RSS.Load() != 10<<20 {
				t.Errorf("stats RSS %d, want the value read", w.slot.RSS.Load())
			}
		})
	}
}

// quietStderr points fd 2 at /dev/null for the test.
func quietStderr(t *testing.T) {
	t.Helper()
	saved, err := unix.Dup(2)
	if err != nil {
		t.Fatal(err)
	}
	null, err := unix.Open("/dev/null", unix.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	unix.Dup2(null, 2)
	unix.Close(null)
	t.Cleanup(func() { unix.Dup2(saved, 2); unix.Close(saved) })
}
