package emperor

import (
	"bytes"
	"strings"
	"sync"

	"github.com/gosgi/gosgi/internal/logging"
)

// syncBuffer is a log sink safe for the emperor's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newTestLogger(w *syncBuffer) *logging.Logger { return logging.NewLogger(w, "", false) }

func contains(s, sub string) bool { return strings.Contains(s, sub) }
