package config

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// TestDialectsGolden loads each file of testdata/dialects as a bare
// argument (CF-4) and compares the entry list, with sources, to its golden
// file (CF-10..CF-17, CF-20..CF-25, CF-35..CF-36, CF-50..CF-52).
func TestDialectsGolden(t *testing.T) {
	dir, err := filepath.Abs("testdata/dialects")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"dialect.ini", "dialect.xml", "dialect.json", "dialect.yml", "expand.ini"} {
		t.Run(name, func(t *testing.T) {
			t.Chdir(dir)
			c, log := mustLoad(t, []string{name}, []string{"HOME=/home/app"})
			var b strings.Builder
			b.WriteString(log)
			for _, e := range c.Entries() {
				v := fmt.Sprintf("%q", e.Value)
				if e.NoValue {
					v = "(no value)"
				}
				// %d expands to the absolute directory: keep goldens portable.
				v = strings.ReplaceAll(v, dir, "<dir>")
				fmt.Fprintf(&b, "%s = %s\t[%s]\n", e.Key, v, e.Source)
			}
			golden(t, filepath.Join("dialects", name+".golden"), []byte(b.String()))
		})
	}
}
