package self

import (
	"os"
	"path/filepath"
	"testing"
)

func TestPath(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	link := filepath.Join(dir, "uwsgi")
	if err := os.Symlink(exe, link); err != nil {
		t.Fatal(err)
	}
	plain := filepath.Join(dir, "plain")
	if err := os.WriteFile(plain, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{link}, link},    // a link keeps its own name
		{[]string{"uwsgi"}, link}, // looked up in PATH
		{[]string{"nope-not-here"}, exe},
		{[]string{plain}, exe}, // not executable
		{nil, exe},
	}
	for _, tt := range tests {
		got, err := Path(tt.args)
		if err != nil || got != tt.want {
			t.Errorf("Path(%q) = %q, %v; want %q", tt.args, got, err, tt.want)
		}
	}
	// Relative names become absolute.
	t.Chdir(dir)
	if got, _ := Path([]string{"./uwsgi"}); got != link {
		t.Errorf("Path(./uwsgi) = %q, want %q", got, link)
	}
}
