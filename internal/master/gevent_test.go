package master

import (
	"testing"

	"github.com/gosgi/gosgi/internal/config"
)

// TestGeventSocketTimeout: gevent = N raises socket-timeout to 30 seconds
// when it is parsed, as uWSGI's gevent shortcut does; a socket-timeout
// given after it wins.
func TestGeventSocketTimeout(t *testing.T) {
	tests := []struct {
		args []string
		want int
	}{
		{[]string{"--http-socket", ":0"}, 4},
		{[]string{"--gevent", "10"}, 30},
		{[]string{"--socket-timeout", "10", "--gevent", "10"}, 30},
		{[]string{"--socket-timeout", "60", "--gevent", "10"}, 60},
		{[]string{"--gevent", "10", "--socket-timeout", "10"}, 10},
		{[]string{"--socket-timeout", "10"}, 10},
		// loop = gevent with async = N is gevent mode without the shortcut's
		// raise: uWSGI only warns.
		{[]string{"--loop", "gevent", "--async", "10"}, 4},
		{[]string{"--loop", "gevent", "--async", "10", "--socket-timeout", "60"}, 60},
	}
	for _, tc := range tests {
		cfg, err := config.Load(append([]string{"uwsgi"}, tc.args...), nil, nil)
		if err != nil {
			t.Fatalf("%q: %v", tc.args, err)
		}
		m := &Master{cfg: cfg, gevent: geventCores(cfg)}
		if got := m.socketTimeout(); got != tc.want {
			t.Errorf("%q: socket timeout %d, want %d", tc.args, got, tc.want)
		}
	}
}
