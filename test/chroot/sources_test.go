package chroot

import (
	"os"
	"path/filepath"
	"testing"
)

func TestParseSources(t *testing.T) {
	tests := []struct {
		name   string
		data   string
		deb822 bool
		want   string
	}{
		{"deb822", "Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n", true, "http://deb.debian.org/debian"},
		{"deb822 security stanza first", "Types: deb\nURIs: http://security.example/debian-security\nSuites: bookworm-security\nComponents: main\n\nTypes: deb deb-src\nURIs: http://mirror.example/debian\nSuites: bookworm\nComponents: main contrib\n", true, "http://mirror.example/debian"},
		{"deb822 disabled", "Enabled: no\nTypes: deb\nURIs: http://a.example/debian\nSuites: bookworm\nComponents: main\n", true, ""},
		{"deb822 comment and continuation", "# mirror\nTypes: deb\nURIs:\n http://b.example/debian\nSuites: bookworm\nComponents: main\n", true, "http://b.example/debian"},
		{"deb822 src only", "Types: deb-src\nURIs: http://a.example/debian\nSuites: bookworm\nComponents: main\n", true, ""},
		{"deb822 other suite", "Types: deb\nURIs: http://a.example/debian\nSuites: trixie\nComponents: main\n", true, ""},
		{"list", "deb http://deb.debian.org/debian bookworm main\n", false, "http://deb.debian.org/debian"},
		{"list options", "deb [arch=amd64 signed-by=/k.gpg] https://m.example/debian bookworm main contrib # x\n", false, "https://m.example/debian"},
		{"list commented", "# deb http://a.example/debian bookworm main\n", false, ""},
		{"list no main", "deb http://a.example/debian bookworm contrib\n", false, ""},
		{"list cdrom", "deb cdrom:[Debian]/ bookworm main\n", false, ""},
		{"list deb-src", "deb-src http://a.example/debian bookworm main\n", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ParseSources([]byte(tt.data), tt.deb822, "bookworm"); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestHostMirror(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "sources.list.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"sources.list.d/a.sources":            "Types: deb\nURIs: http://sec.example/d\nSuites: bookworm-security\nComponents: main\n",
		"sources.list.d/b.list":               "deb http://list.example/debian bookworm main\n",
		"sources.list.d/c.list.disabled-by-x": "deb http://ignored.example/debian bookworm main\n",
	}
	for p, body := range files {
		if err := os.WriteFile(filepath.Join(dir, p), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := HostMirror(dir, "bookworm")
	if err != nil || got != "http://list.example/debian" {
		t.Fatalf("HostMirror = %q, %v", got, err)
	}
	if _, err := HostMirror(dir, "trixie"); err == nil {
		t.Fatal("HostMirror found a trixie source")
	}
}

func FuzzParseSources(f *testing.F) {
	f.Add([]byte("Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm\nComponents: main\n"), true)
	f.Add([]byte("deb [a=b c=d] http://x/debian bookworm main\n"), false)
	f.Fuzz(func(t *testing.T, data []byte, deb822 bool) {
		u := ParseSources(data, deb822, "bookworm")
		if u != "" && !isHTTP(u) {
			t.Fatalf("non-http mirror %q", u)
		}
	})
}
