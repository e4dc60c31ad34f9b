package proto

import (
	"bytes"
	"strings"
)

// EditHeaders applies del-header and add-header to a response head that
// the server itself wrote (static files, routing answers): head is the
// status line and n header lines, each ending in CRLF, without the blank
// line. Lines whose name is in del (any case) are dropped, then the add
// lines ("Name: value") appended; it returns the head and its header count.
// uWSGI edits every response this way; app responses are edited in C.
func EditHeaders(head []byte, n int, del, add []string) ([]byte, int) {
	if len(del) > 0 {
		out := head[:0]
		first := true // the status line
		for line := range bytes.Lines(head) {
			if !first && deletedHeader(line, del) {
				n--
				continue
			}
			first = false
			out = append(out, line...)
		}
		head = out
	}
	for _, h := range add {
		head = append(append(head, h...), "\r\n"...)
		n++
	}
	return head, n
}

func deletedHeader(line []byte, del []string) bool {
	name, _, ok := bytes.Cut(line, []byte(":"))
	if !ok {
		return false
	}
	for _, d := range del {
		if len(d) == len(name) && strings.EqualFold(string(name), d) {
			return true
		}
	}
	return false
}
