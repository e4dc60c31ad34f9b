package service

import (
	"os"
	"path/filepath"
	"testing"
)

func TestParseSettings(t *testing.T) { // C-40..C-43
	def := DefaultSettings()
	tests := []struct {
		name, in string
		want     Settings
	}{
		{"empty file keeps the shipped values", "", def},
		{"shipped file", "# comment\nVERBOSE=yes\nPRINT_CONFNAMES_IN_INITD_SCRIPT_OUTPUT=no\nINHERITED_CONFIG=/usr/share/uwsgi/conf/default.ini\n", def},
		{"quiet", "VERBOSE=no\n", Settings{false, false, DefaultInheritedConfig}},
		{"anything but no is verbose", "VERBOSE=0\n", def},
		{"names", "PRINT_CONFNAMES_IN_INITD_SCRIPT_OUTPUT=yes\n", Settings{true, true, DefaultInheritedConfig}},
		{"double quotes", "INHERITED_CONFIG=\"/etc/uwsgi/my default.ini\"\n", Settings{true, false, "/etc/uwsgi/my default.ini"}},
		{"single quotes", "INHERITED_CONFIG='/etc/uwsgi/x.yaml'\n", Settings{true, false, "/etc/uwsgi/x.yaml"}},
		{"export", "export VERBOSE=no\n", Settings{false, false, DefaultInheritedConfig}},
		{"empty inherited", "INHERITED_CONFIG=\n", Settings{true, false, ""}},
		{"last wins", "VERBOSE=no\nVERBOSE=yes\n", def},
		{"spaces around", "  VERBOSE = no  \n", Settings{false, false, DefaultInheritedConfig}},
		{"unknown lines ignored", "if [ -x /bin/true ]; then\nVERBOSE=no\nfi\n", Settings{false, false, DefaultInheritedConfig}},
		{"obsolete RUN_AT_STARTUP ignored", "RUN_AT_STARTUP=no\n", def},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSettings([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestReadSettings(t *testing.T) {
	dir := t.TempDir()
	if got, err := ReadSettings(filepath.Join(dir, "missing")); err != nil || got != DefaultSettings() {
		t.Errorf("missing file: %+v, %v", got, err)
	}
	p := filepath.Join(dir, "uwsgi")
	if err := os.WriteFile(p, []byte("VERBOSE=no\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := ReadSettings(p); err != nil || got.Verbose {
		t.Errorf("ReadSettings = %+v, %v", got, err)
	}
	// The shipped file parses to the shipped values.
	if _, err := os.Stat("../../debian/uwsgi.default"); err != nil {
		t.Fatal(err)
	}
	got, err := ReadSettings("../../debian/uwsgi.default")
	if err != nil {
		t.Fatal(err)
	}
	if got != DefaultSettings() {
		t.Errorf("debian/uwsgi.default = %+v, want %+v", got, DefaultSettings())
	}
}

func FuzzParseSettings(f *testing.F) {
	for _, s := range []string{"VERBOSE=no\n", "export A='b'\n", "[x]\nA=\"q\"\n", "a b c\n=\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = ParseSettings(data)
	})
}
