package scoreboard

import (
	"testing"

	"golang.org/x/sys/unix"
)

// Two mappings of the same memfd see each other's updates, as the master and
// a worker do.
func TestSharedMapping(t *testing.T) {
	master, fd, err := Create()
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	worker, err := Map(fd)
	if err != nil {
		t.Fatal(err)
	}
	worker.Worker(3).Requests.Add(5)
	worker.Header.TotalRequests.Add(7)
	if got := master.Worker(3).Requests.Load(); got != 5 {
		t.Errorf("requests = %d, want 5", got)
	}
	if got := master.Header.TotalRequests.Load(); got != 7 {
		t.Errorf("total = %d, want 7", got)
	}
	if master.Worker(2).Requests.Load() != 0 || master.Worker(MaxWorkers).Pid.Load() != 0 {
		t.Error("neighbouring slots changed")
	}
}

func TestWorkerOutOfRange(t *testing.T) {
	b, fd, err := Create()
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	defer func() {
		if recover() == nil {
			t.Error("no panic for slot MaxWorkers+1")
		}
	}()
	b.Worker(MaxWorkers + 1)
}
