package emperor

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Source is one emperor option value: a directory (dir:// monitor) or a
// glob pattern (glob:// monitor), T-01.
type Source struct {
	// Arg is the value as given (after stripping a dir:// or glob://).
	Arg string
	// Glob is true for patterns with glob characters or glob://.
	Glob bool
	// Dir is the absolute directory that holds the vassal files: Arg for
	// a directory, the fixed part of a pattern for a glob ("" when the
	// pattern has glob characters in its directory part).
	Dir string
}

// ParseSource classifies an emperor value. Schemes that need uWSGI
// plugins (pg://, mongodb://, amqp://, zmq://...) are refused.
func ParseSource(arg, cwd string) (Source, error) {
	s := Source{Arg: arg}
	switch {
	case strings.HasPrefix(arg, "dir://"):
		s.Arg = strings.TrimPrefix(arg, "dir://")
	case strings.HasPrefix(arg, "glob://"):
		s.Arg, s.Glob = strings.TrimPrefix(arg, "glob://"), true
	case strings.Contains(arg, "://"):
		scheme, _, _ := strings.Cut(arg, "://")
		return s, fmt.Errorf("emperor %s: the %s:// monitor is not supported (only directories and globs)", arg, scheme)
	default:
		s.Glob = strings.ContainsAny(arg, "*?[")
	}
	if s.Arg == "" {
		return s, fmt.Errorf("emperor: empty directory")
	}
	abs := func(p string) string {
		if filepath.IsAbs(p) {
			return filepath.Clean(p)
		}
		return filepath.Join(cwd, p)
	}
	if !s.Glob {
		s.Dir = abs(s.Arg)
		return s, nil
	}
	if d := filepath.Dir(s.Arg); !strings.ContainsAny(d, "*?[") {
		s.Dir = abs(d)
	}
	return s, nil
}

// Monitor is the uWSGI name of the monitor, as the stats server shows it.
func (s Source) Monitor() string { return s.Arg }

// File is one vassal config found by a scan.
type File struct {
	// Name identifies the vassal and is passed on its command line: the
	// file name for a directory, the matched path for a glob.
	Name string
	// Path is where to stat it (absolute for directories).
	Path string
	// Dir is the vassal's working directory ("" = the emperor's).
	Dir      string
	Mtime    time.Time
	UID, GID int
}

// ScanError tells a failed listing (the directory is missing or
// unreadable) from an empty one.
type ScanError struct {
	Source string
	Err    error
}

func (e *ScanError) Error() string { return fmt.Sprintf("scan %s: %v", e.Source, e.Err) }
func (e *ScanError) Unwrap() error { return e.Err }

// Scan lists the vassal files of one source (T-03): valid names, regular
// files (stat follows symlinks; with nofollow, lstat and symlinks count
// with their own mtime). dir:// is not recursive.
func (s *Settings) Scan(src Source) ([]File, error) {
	var names []string
	if src.Glob {
		m, err := filepath.Glob(src.Arg)
		if err != nil {
			return nil, &ScanError{src.Arg, err}
		}
		names = m
	} else {
		ents, err := os.ReadDir(src.Dir)
		if err != nil {
			return nil, &ScanError{src.Arg, err}
		}
		for _, e := range ents {
			names = append(names, e.Name())
		}
	}
	var out []File
	for _, n := range names {
		if !ValidName(filepath.Base(n), s.ExtraExtensions) || (src.Glob && !ValidName(n, s.ExtraExtensions)) {
			continue
		}
		f := File{Name: n, Path: n}
		if !src.Glob {
			f.Path, f.Dir = filepath.Join(src.Dir, n), src.Dir
		}
		if ok := s.statFile(&f); ok {
			out = append(out, f)
		}
	}
	return out, nil
}

// statFile fills mtime and owner; false if the file is gone or not a
// regular file (or symlink under nofollow).
func (s *Settings) statFile(f *File) bool {
	stat := os.Stat
	if s.Nofollow {
		stat = os.Lstat
	}
	fi, err := stat(f.Path)
	if err != nil {
		return false
	}
	mode := fi.Mode()
	if !mode.IsRegular() && !(s.Nofollow && mode&fs.ModeSymlink != 0) {
		return false
	}
	f.Mtime = fi.ModTime()
	owner := fi
	if s.TyrantNofollow != s.Nofollow {
		// The owner comes from the link itself only with
		// emperor-tyrant-nofollow (T-10).
		ostat := os.Stat
		if s.TyrantNofollow {
			ostat = os.Lstat
		}
		if o, err := ostat(f.Path); err == nil {
			owner = o
		}
	}
	if st, ok := owner.Sys().(*syscall.Stat_t); ok {
		f.UID, f.GID = int(st.Uid), int(st.Gid)
	}
	return true
}
