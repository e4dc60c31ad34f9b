// Package pyrt finds the Python runtime a gosgi instance runs: the shared
// libpython to load, and the program name and home to give it, from the
// version the plugin table asked for and from a virtualenv's pyvenv.cfg.
//
// A venv decides the version on its own (it was made by one interpreter and
// works only with it, uWSGI #1723); a plugin name like python311 decides it
// otherwise; plain python3 means the system's python3. It only looks at the
// file system; it never starts a Python process.
package pyrt

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
)

// Runtime is what the zygote needs to start Python.
type Runtime struct {
	Version string // "3.11"
	Lib     string // path of the shared libpython
	Program string // program name to give Python (a venv's bin/python), or ""
	Home    string // PYTHONHOME for a non-venv home, or ""
	Venv    string // the venv directory, if any
}

// Root is prepended to every absolute path looked at (tests).
var Root = ""

var versionRE = regexp.MustCompile(`^3\.(\d+)`)

// Find resolves the runtime for the wanted version ("" or "3": the system
// python3; "3.11": that version) and home (virtualenv/home option, may be "").
func Find(want, home string) (*Runtime, error) {
	rt := &Runtime{}
	prefixes := []string{}
	if home != "" {
		cfg := filepath.Join(home, "pyvenv.cfg")
		if v, base, err := readVenv(cfg); err == nil {
			rt.Venv = home
			rt.Program = filepath.Join(home, "bin", "python")
			if want != "" && want != "3" && want != v {
				return nil, fmt.Errorf("virtualenv %s was made with Python %s, not %s: using %s", home, v, want, v)
			}
			want = v
			if base != "" {
				prefixes = append(prefixes, filepath.Dir(base))
			}
		} else if !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("virtualenv %s: %w", home, err)
		} else {
			rt.Home = home
			prefixes = append(prefixes, home)
		}
	}
	if want == "" || want == "3" {
		v, err := systemPython3()
		if err != nil {
			return nil, err
		}
		want = v
	}
	rt.Version = want
	lib, err := findLib(want, prefixes)
	if err != nil {
		return nil, err
	}
	rt.Lib = lib
	return rt, nil
}

// readVenv returns the Python version ("3.11") and base executable dir of a
// pyvenv.cfg.
func readVenv(path string) (version, base string, err error) {
	f, err := os.Open(Root + path)
	if err != nil {
		return "", "", err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		k, v, ok := strings.Cut(s.Text(), "=")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch k {
		case "version", "version_info":
			if m := versionRE.FindStringSubmatch(v); m != nil {
				version = "3." + m[1]
			}
		case "home":
			base = v
		}
	}
	if version == "" {
		return "", "", fmt.Errorf("%s: no Python version recorded", path)
	}
	return version, base, s.Err()
}

// systemPython3 reads which version /usr/bin/python3 is.
func systemPython3() (string, error) {
	for _, p := range []string{"/usr/bin/python3", "/usr/local/bin/python3"} {
		target, err := filepath.EvalSymlinks(Root + p)
		if err != nil {
			continue
		}
		if m := regexp.MustCompile(`python(3\.\d+)$`).FindStringSubmatch(target); m != nil {
			return m[1], nil
		}
	}
	return "", errors.New("no python3 found in /usr/bin: install the python3 package")
}

func multiarch() string {
	switch runtime.GOARCH {
	case "amd64":
		return "x86_64-linux-gnu"
	case "arm64":
		return "aarch64-linux-gnu"
	case "386":
		return "i386-linux-gnu"
	}
	return runtime.GOARCH + "-linux-gnu"
}

// findLib looks for libpython<version> in the usual places and the given
// installation prefixes.
func findLib(version string, prefixes []string) (string, error) {
	dirs := []string{}
	for _, p := range prefixes {
		dirs = append(dirs, filepath.Join(p, "lib"), filepath.Join(p, "lib64"))
	}
	dirs = append(dirs, "/usr/lib/"+multiarch(), "/usr/lib64", "/usr/lib", "/usr/local/lib", "/lib/"+multiarch())
	names := []string{
		"libpython" + version + ".so.1.0",
		"libpython" + version + ".so",
		"libpython" + version + "m.so.1.0", // 3.7 ABI flag
	}
	for _, d := range dirs {
		for _, n := range names {
			p := filepath.Join(d, n)
			if _, err := os.Stat(Root + p); err == nil {
				return p, nil
			}
		}
	}
	return "", fmt.Errorf("no shared libpython%s found: install the libpython%s package", version, version)
}
