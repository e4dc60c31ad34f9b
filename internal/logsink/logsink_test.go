package logsink

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.log")
	w, err := Open("file:" + path)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("one\n"))
	w.Write([]byte("two\n"))
	w.Close()
	b, _ := os.ReadFile(path)
	if string(b) != "one\ntwo\n" {
		t.Errorf("file has %q", b)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm()&0o007 != 0 {
		t.Errorf("mode %v: the log must not be world-readable", fi.Mode())
	}
}

func TestErrors(t *testing.T) {
	for spec, want := range map[string]string{
		"nope":               "unable to find logger nope",
		"file:":              "needs a path",
		"syslog:app,bogus":   "unknown syslog facility",
		"myid nope:whatever": "unable to find logger nope",
	} {
		if _, err := Open(spec); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Open(%q) = %v, want %q", spec, err, want)
		}
	}
}

// TestOneMessagePerLine: a syslog or journal target gets each line as its
// own message (here through a unix datagram socket).
func TestOneMessagePerLine(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "log")
	pc, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	l := lines{w: &udpWriter{sock}}
	l.Write([]byte("first\nsecond\n"))
	pc.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 256)
	var got []string
	for i := 0; i < 2; i++ {
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(buf[:n]))
	}
	if strings.Join(got, "|") != "first|second" {
		t.Errorf("datagrams %q", got)
	}
}

type udpWriter struct{ path string }

func (u *udpWriter) Write(p []byte) (int, error) {
	c, err := net.Dial("unixgram", u.path)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	return c.Write(p)
}

func (u *udpWriter) Close() error { return nil }
