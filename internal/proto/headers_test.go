package proto

import (
	"bytes"
	"testing"
)

func TestEditHeaders(t *testing.T) {
	const head = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nLast-Modified: x\r\n"
	cases := []struct {
		name  string
		del   []string
		add   []string
		want  string
		wantN int
	}{
		{"nothing", nil, nil, head, 3},
		{"delete any case", []string{"content-TYPE"}, nil, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nLast-Modified: x\r\n", 2},
		{"no prefix match", []string{"Content"}, nil, head, 3},
		{"add after", nil, []string{"X-A: 1"}, head + "X-A: 1\r\n", 4},
		{"added lines stay", []string{"X-A"}, []string{"X-A: 1"}, head + "X-A: 1\r\n", 4},
		{"status line kept", []string{"HTTP/1.1 200 OK"}, nil, head, 3},
		{"delete all", []string{"content-type", "content-length", "last-modified"}, nil, "HTTP/1.1 200 OK\r\n", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, n := EditHeaders([]byte(head), 3, c.del, c.add)
			if string(got) != c.want || n != c.wantN {
				t.Errorf("got %q (%d headers), want %q (%d)", got, n, c.want, c.wantN)
			}
		})
	}
}

func FuzzEditHeaders(f *testing.F) {
	f.Add("HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\n", "a", "C: 3")
	f.Add("HTTP/1.0 304 Not Modified\r\n", "", "")
	f.Add("X\r\n:\r\nno colon\r\n", ":", "")
	f.Fuzz(func(t *testing.T, head, del, add string) {
		n := bytes.Count([]byte(head), []byte("\r\n"))
		got, m := EditHeaders([]byte(head), n, []string{del}, []string{add})
		// Deleting never adds bytes; adding adds exactly the line.
		if len(got) > len(head)+len(add)+2 || m > n+1 {
			t.Fatalf("%q -del %q +add %q: %q (%d headers)", head, del, add, got, m)
		}
		if !bytes.HasSuffix(got, []byte(add+"\r\n")) {
			t.Fatalf("added line missing: %q", got)
		}
	})
}
