package static

import (
	"bytes"
	"fmt"
	"os"
)

// DefaultMimeFile is the MIME table read when no mimefile option is given.
const DefaultMimeFile = "/etc/mime.types"

// MimeTable maps a file extension (without the dot, case-sensitive) to its
// MIME type. The first definition of an extension wins, as in uWSGI.
type MimeTable map[string]string

// ParseMime reads a mime.types table into t and returns the number of
// entries uWSGI's parser reports for the same text (PM-79), so the startup
// line `building mime-types dictionary from file F...N entry found` matches.
//
// The dialect, as uWSGI reads it: only lines that end with a newline and
// start with a letter or digit count; the type runs up to the first blank;
// every blank after the first extension closes one entry (two blanks in a
// row close an empty one, which is counted but useless); the last extension
// of a line is kept only when it is longer than one character.
func ParseMime(data []byte, t MimeTable) int {
	entries := 0
	for len(data) > 0 {
		nl := bytes.IndexByte(data, '\n')
		if nl < 0 {
			break // a last line without newline is ignored
		}
		line := data[:nl]
		data = data[nl+1:]
		if len(line) == 0 || !isAlnum(line[0]) {
			continue
		}
		typeEnd := indexBlank(line)
		if typeEnd < 0 {
			continue
		}
		mime := string(line[:typeEnd])
		start := -1
		for i := typeEnd; i < len(line); i++ {
			if !isBlank(line[i]) {
				start = i
				break
			}
		}
		if start < 0 {
			continue
		}
		cur := start
		for i := start; i < len(line); i++ {
			if !isBlank(line[i]) {
				if cur < 0 {
					cur = i
				}
				continue
			}
			if cur >= 0 {
				add(t, line[cur:i], mime)
			}
			entries++
			cur = -1
		}
		if cur >= 0 && len(line)-cur > 1 {
			add(t, line[cur:], mime)
			entries++
		}
	}
	return entries
}

func add(t MimeTable, ext []byte, mime string) {
	if len(ext) == 0 {
		return
	}
	if _, ok := t[string(ext)]; !ok {
		t[string(ext)] = mime
	}
}

// LoadMime reads the named tables in order into one MimeTable and returns
// the startup message of each file.
func LoadMime(files []string) (MimeTable, []string, error) {
	t := MimeTable{}
	var msgs []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, nil, fmt.Errorf("mimefile %s: %w", f, err)
		}
		n := ParseMime(data, t)
		msgs = append(msgs, fmt.Sprintf("building mime-types dictionary from file %s...%d entry found", f, n))
	}
	return t, msgs, nil
}

// Lookup returns the MIME type of name from the text after its last dot,
// or "" when there is none.
func (t MimeTable) Lookup(name string) string {
	for i := len(name) - 1; i >= 0; i-- {
		if name[i] == '.' {
			return t[name[i+1:]]
		}
	}
	return ""
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' }

func indexBlank(b []byte) int {
	for i, c := range b {
		if isBlank(c) {
			return i
		}
	}
	return -1
}
