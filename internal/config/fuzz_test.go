package config

import (
	"strings"
	"testing"
)

func FuzzParseINI(f *testing.F) {
	for _, s := range []string{"[uwsgi]\nsocket = :1\nbare\n", "[uwsgi\nx=1", "[]\n=\n;c\n#c\n", "[uwsgi]\r\n a = b = c \r\n"} {
		f.Add(s, "uwsgi")
	}
	f.Fuzz(func(t *testing.T, text, section string) {
		entries, found := parseINI(text, section, "f.ini")
		if len(entries) > strings.Count(text, "\n")+1 {
			t.Fatalf("%d entries from %d lines", len(entries), strings.Count(text, "\n")+1)
		}
		if len(entries) > 0 && !found {
			t.Fatal("entries from a section that was not found")
		}
		for _, e := range entries {
			if strings.Trim(e.Key, " \t\r") != e.Key || strings.Trim(e.Value, " \t\r") != e.Value {
				t.Fatalf("untrimmed entry %q=%q", e.Key, e.Value)
			}
			if strings.Contains(e.Key, "\n") || strings.Contains(e.Value, "\n") {
				t.Fatalf("entry spans lines: %q=%q", e.Key, e.Value)
			}
		}
	})
}

func FuzzOtherFormats(f *testing.F) {
	f.Add(`{"uwsgi":{"a":[1,true,null,"s"],"b":{"c":1}}}`)
	f.Add("<uwsgi><a/><b>x</b></uwsgi>")
	f.Add("uwsgi:\n  a: [1, 2]\n  b: x\n")
	f.Fuzz(func(t *testing.T, text string) {
		// Errors are fine; panics and runaway output are not.
		for _, parse := range []func(string, string, string) ([]Entry, error){parseJSON, parseXML, parseYAML} {
			entries, err := parse(text, "", "f")
			if err == nil && len(entries) > len(text) {
				t.Fatalf("%d entries from %d bytes", len(entries), len(text))
			}
		}
	})
}

// FuzzExpansions drives the read-time magic substitution and the
// $( ) @( ) %( ) passes (CF-20..CF-25) over arbitrary values.
func FuzzExpansions(f *testing.F) {
	for _, s := range []string{"%(x + 4)", "$(HOME)/%(x)", "%d%n%e%%%z%[", "%(a (b) c)", "%(x * 2 ++)", "%(", "$(", "@(/nonexistent)", "%(x / 0)", "%(-2147483648 / -1)"} {
		f.Add(s)
	}
	m := newMagicEnv()
	f.Fuzz(func(t *testing.T, s string) {
		ref := &fileRef{given: "cfg/a.ini:prod", path: "cfg/a.ini", section: "prod", abs: "/srv/cfg/a.ini"}
		out := m.expand(s, ref, ref)
		if !strings.Contains(s, "%") && out != s {
			t.Fatalf("expand changed text without %%: %q -> %q", s, out)
		}
		l := newLoader("uwsgi", []string{"HOME=/home/app"}, nil)
		l.entries = []Entry{{Key: "x", Value: "5"}, {Key: "v", Value: s}}
		l.expandAll()
		if len(l.entries) != 2 {
			t.Fatal("expansion changed the number of entries")
		}
		if !strings.ContainsAny(s, "$@%") && l.entries[1].Value != s {
			t.Fatalf("value without references changed: %q -> %q", s, l.entries[1].Value)
		}
	})
}
