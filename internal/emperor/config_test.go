package emperor

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gosgi/gosgi/internal/config"
)

// The server hands its loaded configuration to Run.
var _ Options = (*config.Config)(nil)

// TestFromConfig reads emperor settings from a real uWSGI command line
// and ini through internal/config, as `uwsgi --emperor` will.
func TestFromConfig(t *testing.T) {
	ini := filepath.Join(t.TempDir(), "emperor.ini")
	os.WriteFile(ini, []byte("[uwsgi]\nemperor = /etc/uwsgi.d\nemperor-tyrant = true\ncap = setgid,setuid\nvassals-include = /etc/uwsgi/base.ini\nemperor-freq = 5\nlog-date = true\n"), 0o644)
	cfg, err := config.Load([]string{"uwsgi", "--ini", ini, "--emperor", "/srv/*.ini", "--vassal-set", "processes=2"}, nil, os.Stderr)
	if err != nil {
		t.Fatalf("config.Load: %v (the emperor options must be accepted by the option table)", err)
	}
	s, err := FromOptions(cfg, "/usr/bin/uwsgi")
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Sources) != 2 || s.Sources[0] != "/etc/uwsgi.d" || s.Sources[1] != "/srv/*.ini" || !s.Tyrant ||
		s.Freq != 5*time.Second || len(s.Include) != 1 || len(s.Set) != 1 || s.Set[0] != "processes=2" {
		t.Errorf("settings from config: %+v", s)
	}
	if !cfg.Has("log-date") || cfg.String("cap") != "setgid,setuid" {
		t.Errorf("process options: log-date %v cap %q", cfg.Has("log-date"), cfg.String("cap"))
	}
}
