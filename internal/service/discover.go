package service

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// DefaultNamespace is the namespace of a bare NAME argument and the only
// one "all instances" covers (C-12, C-16).
const DefaultNamespace = "app"

// enabledSuffix turns a namespace into its directory: app -> apps-enabled.
const enabledSuffix = "s-enabled"

// Extensions are the recognised config extensions in priority order
// (C-11): when one name has several files, the earliest extension wins.
var Extensions = []string{"db", "ini", "js", "json", "sqlite", "sqlite3", "xml", "yaml", "yml"}

// OptionFor returns the uwsgi option that loads a config file with the
// given extension (case-insensitive): "ini" -> "ini", "yml" -> "yaml".
func OptionFor(ext string) (string, bool) {
	switch strings.ToLower(ext) {
	case "ini":
		return "ini", true
	case "js", "json":
		return "json", true
	case "db", "sqlite", "sqlite3":
		return "sqlite", true
	case "xml":
		return "xmlconfig", true
	case "yaml", "yml":
		return "yaml", true
	}
	return "", false
}

// OptionForFile is OptionFor applied to a path's extension.
func OptionForFile(path string) (string, bool) {
	ext := filepath.Ext(path)
	if ext == "" {
		return "", false
	}
	return OptionFor(ext[1:])
}

// extRank is the priority of an extension in Extensions, -1 if unknown.
func extRank(ext string) int {
	ext = strings.ToLower(ext)
	for i, e := range Extensions {
		if e == ext {
			return i
		}
	}
	return -1
}

// Instance is one app the controller manages.
type Instance struct {
	// Namespace is the first directory under the config root minus
	// "s-enabled" ("app" for apps-enabled).
	Namespace string
	// Name is the config file's base name without extension; files in
	// sub-directories are flattened (C-13).
	Name string
	// Config is the config file path under the enabled directory
	// (symlinks not resolved). Empty when no config exists any more but a
	// run directory does (an instance whose config was disabled while it
	// ran).
	Config string
}

// ID is "ns/name", the form used in markers and messages.
func (i Instance) ID() string { return i.Namespace + "/" + i.Name }

// ParseSpec splits a command-line instance argument, NAME or NS/NAME
// (C-16). Arguments that cannot name an instance safely (a path with more
// components, "." or "..", an empty part) are rejected; the caller reports
// them as not found (C-17).
func ParseSpec(spec string) (ns, name string, ok bool) {
	ns, name = DefaultNamespace, spec
	if i := strings.IndexByte(spec, '/'); i >= 0 {
		ns, name = spec[:i], spec[i+1:]
	}
	for _, part := range []string{ns, name} {
		if part == "" || part == "." || part == ".." || strings.ContainsRune(part, '/') || strings.ContainsRune(part, 0) {
			return "", "", false
		}
	}
	return ns, name, true
}

// candidate is one recognised config file found while scanning.
type candidate struct {
	path string
	rank int
}

// scanEnabled walks dir recursively and groups the recognised config
// files (extension matched case-insensitively, regular file or symlink to
// one) by name. Within a name, files keep walk order (lexical), so the
// choice between same-named files in different sub-directories is
// deterministic. A missing dir yields no files.
func scanEnabled(dir string) (map[string][]candidate, error) {
	found := map[string][]candidate{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == dir && errors.Is(err, fs.ErrNotExist) {
				return filepath.SkipAll
			}
			return err
		}
		if d.IsDir() {
			return nil
		}
		base := d.Name()
		ext := filepath.Ext(base)
		if ext == "" {
			return nil
		}
		rank := extRank(ext[1:])
		stem := strings.TrimSuffix(base, ext)
		if rank < 0 || stem == "" {
			return nil
		}
		// Like find -xtype f: a symlink counts when its target is a
		// regular file; dangling links and links to dirs do not.
		st, err := os.Stat(path)
		if err != nil || !st.Mode().IsRegular() {
			return nil
		}
		found[stem] = append(found[stem], candidate{path: path, rank: rank})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("scan %s: %w", dir, err)
	}
	return found, nil
}

// best picks the config for one name: lowest extension rank, then first
// in walk order (C-14).
func best(cands []candidate) string {
	pick := cands[0]
	for _, c := range cands[1:] {
		if c.rank < pick.rank {
			pick = c
		}
	}
	return pick.path
}

// EnabledDir is the directory holding a namespace's configs.
func (l Layout) EnabledDir(ns string) string {
	return filepath.Join(l.ConfDir, ns+enabledSuffix)
}

// InstanceDir is /run/uwsgi/<ns>/<name>.
func (l Layout) InstanceDir(i Instance) string {
	return filepath.Join(l.RunDir, i.Namespace, i.Name)
}

// Pidfile is /run/uwsgi/<ns>/<name>/pid.
func (l Layout) Pidfile(i Instance) string {
	return filepath.Join(l.InstanceDir(i), "pid")
}

// LogFile is /var/log/uwsgi/<ns>/<name>.log.
func (l Layout) LogFile(i Instance) string {
	return filepath.Join(l.LogDir, i.Namespace, i.Name+".log")
}

// All lists the instances of the default namespace: every recognised
// config below apps-enabled, one per name, sorted by name (C-12..C-15).
func (l Layout) All() ([]Instance, error) {
	found, err := scanEnabled(l.EnabledDir(DefaultNamespace))
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(found))
	for n := range found {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]Instance, 0, len(names))
	for _, n := range names {
		out = append(out, Instance{Namespace: DefaultNamespace, Name: n, Config: best(found[n])})
	}
	return out, nil
}

// Lookup resolves one command-line argument (C-16, C-17). ok is false when
// the argument is malformed or no config exists; the returned Instance
// still carries the namespace and name when the argument was well formed,
// so that a running instance whose config was removed can be found by its
// run directory.
func (l Layout) Lookup(spec string) (inst Instance, wellFormed bool, err error) {
	ns, name, ok := ParseSpec(spec)
	if !ok {
		return Instance{}, false, nil
	}
	inst = Instance{Namespace: ns, Name: name}
	found, err := scanEnabled(l.EnabledDir(ns))
	if err != nil {
		return inst, true, err
	}
	if c := found[name]; len(c) > 0 {
		inst.Config = best(c)
	}
	return inst, true, nil
}

// Orphans lists instances of namespace ns that have a pidfile under the
// run directory but are not in known (their config was removed or
// disabled while they ran, C-38). Sorted by name.
func (l Layout) Orphans(ns string, known []Instance) ([]Instance, error) {
	dir := filepath.Join(l.RunDir, ns)
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	seen := map[string]bool{}
	for _, k := range known {
		if k.Namespace == ns {
			seen[k.Name] = true
		}
	}
	var out []Instance
	for _, e := range ents {
		if !e.IsDir() || seen[e.Name()] {
			continue
		}
		inst := Instance{Namespace: ns, Name: e.Name()}
		if _, err := os.Lstat(l.Pidfile(inst)); err == nil {
			out = append(out, inst)
		}
	}
	return out, nil
}
