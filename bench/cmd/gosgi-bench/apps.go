package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

const mib = 1 << 20

// appSpec describes one benchmark app under bench/apps and how to check
// that a server really ran it: a server that answers garbage fast must fail.
type appSpec struct {
	file      string // file name under the apps directory
	postBytes int    // > 0: requests are POSTs with a body of this size
	check     func(body []byte) error
}

var apps = map[string]appSpec{
	"hello":  {file: "hello.py", check: exactBody([]byte("Hello World\n"))},
	"flask":  {file: "flask_app.py", check: checkFlask},
	"get1m":  {file: "bigbody.py", check: checkGet1M},
	"post1m": {file: "bigbody.py", postBytes: mib}, // checked against the sent body
	"sleep":  {file: "sleep.py", check: exactBody([]byte("slept 50 ms\n"))},
}

func appNames() string {
	var names []string
	for n := range apps {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func exactBody(want []byte) func([]byte) error {
	return func(got []byte) error {
		if !bytes.Equal(got, want) {
			return fmt.Errorf("body %q, want %q", clip(got), want)
		}
		return nil
	}
}

func checkFlask(body []byte) error {
	var doc struct {
		App   string            `json:"app"`
		Count int               `json:"count"`
		Total int               `json:"total"`
		Rows  []json.RawMessage `json:"rows"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return fmt.Errorf("flask body is not the expected JSON (%v): %q", err, clip(body))
	}
	if doc.App != "bench" || doc.Count != 40 || len(doc.Rows) != 40 {
		return fmt.Errorf("flask body: app=%q count=%d rows=%d, want bench/40/40", doc.App, doc.Count, len(doc.Rows))
	}
	return nil
}

// bigPattern is the GET body of bigbody.py: byte i is i % 251.
func bigPattern() []byte {
	b := make([]byte, mib)
	for i := range b {
		b[i] = byte(i % 251)
	}
	return b
}

func checkGet1M(body []byte) error {
	if len(body) != mib {
		return fmt.Errorf("body is %d bytes, want %d", len(body), mib)
	}
	if i := firstDiff(body, bigPattern()); i >= 0 {
		return fmt.Errorf("body differs from the expected pattern at byte %d", i)
	}
	return nil
}

// echoPayload is what the verification POSTs to post1m; not the same bytes
// as the GET pattern, so a server mixing up the two is caught.
func echoPayload() []byte {
	b := make([]byte, mib)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

func firstDiff(a, b []byte) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			return i
		}
	}
	if len(a) != len(b) {
		return n
	}
	return -1
}

func clip(b []byte) []byte {
	if len(b) > 80 {
		return b[:80]
	}
	return b
}
