package master

import (
	"fmt"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// logFailures is the master's log writer. A log that cannot be written
// (logto on a full disk) must not stop the instance, but losing every line
// silently hides why nothing is logged: the first failure, and then one
// every failNotice while they go on, is reported on the stderr the
// instance was started with (the terminal, the service manager's journal),
// when logto had moved the log elsewhere. uWSGI says nothing.
type logFailures struct {
	mu       sync.Mutex
	log      *os.File // fd 2, the log
	orig     *os.File // the stderr before logto, nil if the same
	target   string
	reported time.Time
	lost     int // lines lost since the last report
}

const failNotice = 10 * time.Minute

// keepOrigStderr duplicates fd 2 before logto replaces it.
func keepOrigStderr() *os.File {
	fd, err := unix.FcntlInt(2, unix.F_DUPFD_CLOEXEC, 3)
	if err != nil {
		return nil
	}
	return os.NewFile(uintptr(fd), "stderr")
}

func (w *logFailures) Write(p []byte) (int, error) {
	n, err := w.log.Write(p)
	if err == nil || w.orig == nil {
		return n, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.lost++
	if !w.reported.IsZero() && time.Since(w.reported) < failNotice {
		return n, err
	}
	fmt.Fprintf(w.orig, "*** gosgi: cannot write the log %s: %v; %d line(s) lost (reported again in %v while it fails) ***\n",
		w.target, err, w.lost, failNotice)
	w.reported, w.lost = time.Now(), 0
	return n, err
}
