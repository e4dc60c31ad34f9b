package jsonstr

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestAppend(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", `""`},
		{"plain", `"plain"`},
		{`q"b\`, `"q\"b\\"`},
		{"a\nb\r\tc\x01", `"a\nb\r\tc\u0001"`},
		{"é€😀", `"é€😀"`},
		{"bad\xffutf8\xc3", `"bad\ufffdutf8\ufffd"`},
	}
	for _, c := range cases {
		if got := string(Append(nil, c.in)); got != c.want {
			t.Errorf("Append(%q) = %s, want %s", c.in, got, c.want)
		}
		if got := string(Append(nil, []byte(c.in))); got != c.want {
			t.Errorf("Append([]byte(%q)) = %s, want %s", c.in, got, c.want)
		}
	}
}

// FuzzAppend: every string comes out as one valid JSON string that decodes
// to the input, each invalid byte replaced by U+FFFD.
func FuzzAppend(f *testing.F) {
	for _, s := range []string{"", "plain", "a\"b", "\x00\x1f\x7f", "é\xff\xfe", "\u2028"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := Append(nil, s)
		var got string
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("%q -> %q: %v", s, out, err)
		}
		if want := validUTF8(s); got != want {
			t.Fatalf("%q -> %q decodes to %q", s, out, got)
		}
		if b := Append(nil, []byte(s)); string(b) != string(out) {
			t.Fatalf("%q: string and []byte encodings differ: %q, %q", s, out, b)
		}
	})
}

// validUTF8 is s with each byte that is not part of a valid sequence
// replaced by U+FFFD.
func validUTF8(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b.WriteString("\uFFFD")
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}
