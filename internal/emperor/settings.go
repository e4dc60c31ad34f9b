package emperor

import (
	"fmt"
	"strings"
	"time"

	"github.com/gosgi/gosgi/internal/privs"
)

// Options is the read side of a loaded configuration: *config.Config
// satisfies it. Names are canonical option names; missing options read
// as "", false, 0 and nil.
type Options interface {
	String(name string) string
	Bool(name string) bool
	Int(name string) int
	List(name string) []string
	Has(name string) bool
}

// Settings is what the emperor takes from the configuration.
type Settings struct {
	// Sources are the emperor option values: directories or globs (T-01).
	Sources []string
	// Freq is the rescan period (emperor-freq, default 3 s: T-02).
	Freq time.Duration
	// Throttle and MaxThrottle bound the respawn backoff of vassals that
	// die without having been loyal (emperor-throttle, default 1000 ms;
	// emperor-max-throttle, default 3 minutes: OP-209, OP-210).
	Throttle, MaxThrottle time.Duration
	// CurseTolerance is how long a vassal asked to stop may take before
	// it is killed (emperor-curse-tolerance, default 30 s).
	CurseTolerance time.Duration
	// RequiredHeartbeat: a vassal that has sent a heartbeat and then
	// stays silent this long is considered stuck and reloaded.
	RequiredHeartbeat time.Duration
	// Nofollow uses lstat for vassal files (emperor-nofollow, T-03).
	Nofollow bool
	// ExtraExtensions are further accepted suffixes, run with --config.
	ExtraExtensions []string
	// NoBlacklist turns the respawn backoff off (emperor-no-blacklist).
	NoBlacklist bool

	// Tyrant runs vassals as their file's owner (T-10..T-16).
	Tyrant bool
	// TyrantNofollow takes the owner of a symlink itself.
	TyrantNofollow bool
	// NoInitgroups gives tyrant vassals no supplementary groups, as
	// uWSGI 2.0 does (T-14); the default is the owner's groups (T-16).
	NoInitgroups bool

	// Binary is the vassal executable: emperor-wrapper, else binary-path,
	// else this program.
	Binary string
	// WrapperOverride are binaries tried before Binary, WrapperFallback
	// after it, when a start fails (emperor-wrapper-override,
	// emperor-wrapper-fallback).
	WrapperOverride, WrapperFallback []string
	// IncludeBefore, InheritBefore, Set, Inherit and Include are the
	// per-vassal arguments of vassals-include-before,
	// vassals-inherit-before, vassals-set, vassals-inherit and
	// vassals-include (T-07).
	IncludeBefore, InheritBefore, Set, Inherit, Include []string
	// VassalCaps are the capabilities left in each vassal's bounding set
	// (emperor-cap / vassals-cap, T-19); empty: untouched.
	VassalCaps []string

	// OnDemandDir, OnDemandExt and OnDemandExec select on-demand
	// vassals (emperor-on-demand-directory, -extension, -exec: T-20).
	OnDemandDir, OnDemandExt, OnDemandExec string

	// Pidfile is emperor-pidfile; Stats the emperor-stats address (or
	// stats when emperor-stats is not set).
	Pidfile, Stats string
}

// Defaults of uWSGI 2.0.21.
const (
	DefaultFreq           = 3 * time.Second
	DefaultThrottle       = 1000 * time.Millisecond
	DefaultMaxThrottle    = 180 * time.Second
	DefaultCurseTolerance = 30 * time.Second
)

// FromOptions reads the emperor's settings. binary is the executable
// vassals run when no wrapper is configured.
func FromOptions(o Options, binary string) (Settings, error) {
	s := Settings{
		Sources:         o.List("emperor"),
		Freq:            seconds(o.Int("emperor-freq"), DefaultFreq),
		Throttle:        millis(o.Int("emperor-throttle"), DefaultThrottle),
		MaxThrottle:     millis(o.Int("emperor-max-throttle"), DefaultMaxThrottle),
		CurseTolerance:  seconds(o.Int("emperor-curse-tolerance"), DefaultCurseTolerance),
		Nofollow:        o.Bool("emperor-nofollow"),
		ExtraExtensions: o.List("emperor-extra-extension"),
		NoBlacklist:     o.Bool("emperor-no-blacklist"),
		Tyrant:          o.Bool("emperor-tyrant"),
		TyrantNofollow:  o.Bool("emperor-tyrant-nofollow"),
		// emperor-tyrant-initgroups (uWSGI master only) asks for what is
		// already the default here; no-initgroups opts out.
		NoInitgroups:    o.Bool("no-initgroups") && !o.Bool("emperor-tyrant-initgroups"),
		Binary:          binary,
		IncludeBefore:   o.List("vassals-include-before"),
		InheritBefore:   o.List("vassals-inherit-before"),
		Set:             o.List("vassals-set"),
		Inherit:         o.List("vassals-inherit"),
		Include:         o.List("vassals-include"),
		Pidfile:         o.String("emperor-pidfile"),
		WrapperOverride: o.List("emperor-wrapper-override"),
		WrapperFallback: o.List("emperor-wrapper-fallback"),
		OnDemandDir:     o.String("emperor-on-demand-directory"),
		OnDemandExt:     o.String("emperor-on-demand-extension"),
		OnDemandExec:    o.String("emperor-on-demand-exec"),
		Stats:           o.String("emperor-stats"),
	}
	if s.Stats == "" {
		// An emperor has no workers to report: its stats server is the
		// one `stats` asks for (Fedora's unit passes --stats).
		s.Stats = o.String("stats")
	}
	if hb := o.Int("emperor-required-heartbeat"); hb > 0 {
		s.RequiredHeartbeat = time.Duration(hb) * time.Second
	}
	if b := o.String("binary-path"); b != "" {
		s.Binary = b
	}
	if w := o.String("emperor-wrapper"); w != "" {
		s.Binary = w
	}
	if c := o.String("emperor-cap"); c != "" {
		s.VassalCaps = splitList(c)
		if _, err := privs.ParseCaps(s.VassalCaps); err != nil {
			return s, fmt.Errorf("emperor-cap: %w", err)
		}
	}
	if len(s.Sources) == 0 {
		return s, fmt.Errorf("emperor: no vassal directory or glob given")
	}
	if s.Binary == "" {
		return s, fmt.Errorf("emperor: unknown vassal binary")
	}
	if s.MaxThrottle < s.Throttle {
		s.MaxThrottle = s.Throttle
	}
	return s, nil
}

func seconds(n int, def time.Duration) time.Duration {
	if n <= 0 {
		return def
	}
	return time.Duration(n) * time.Second
}

func millis(n int, def time.Duration) time.Duration {
	if n <= 0 {
		return def
	}
	return time.Duration(n) * time.Millisecond
}

// splitList splits uWSGI's comma lists ("setgid,setuid", "a, b").
func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// VassalArgs is the command line of a vassal whose config is name
// (relative to the emperor's directory, or the glob match): the binary,
// the -before templates and vassals-set, the config with the option its
// extension selects, then the templates (T-07, T-08; order as uWSGI
// 2.0.21 builds it).
func (s *Settings) VassalArgs(name string) []string {
	argv := []string{s.Binary}
	for _, f := range s.InheritBefore {
		argv = append(argv, "--inherit", f)
	}
	for _, f := range s.IncludeBefore {
		argv = append(argv, "--include", f)
	}
	for _, kv := range s.Set {
		argv = append(argv, "--set", kv)
	}
	argv = append(argv, "--"+ConfigFlag(name), name)
	for _, f := range s.Inherit {
		argv = append(argv, "--inherit", f)
	}
	for _, f := range s.Include {
		argv = append(argv, "--include", f)
	}
	return argv
}

// ConfigFlag is the option that loads a vassal file (T-08): ini, xml,
// yaml, json, or config for any other (extra) extension.
func ConfigFlag(name string) string {
	switch {
	case strings.HasSuffix(name, ".ini"):
		return "ini"
	case strings.HasSuffix(name, ".xml"):
		return "xml"
	case strings.HasSuffix(name, ".yml"), strings.HasSuffix(name, ".yaml"):
		return "yaml"
	case strings.HasSuffix(name, ".js"), strings.HasSuffix(name, ".json"):
		return "json"
	}
	return "config"
}

// ValidName reports whether a file name is a vassal config (T-03): a
// known or extra extension, shorter than 255 bytes.
func ValidName(name string, extra []string) bool {
	if len(name) >= 0xff || name == "" {
		return false
	}
	for _, ext := range []string{".xml", ".ini", ".yml", ".yaml", ".js", ".json"} {
		if strings.HasSuffix(name, ext) {
			return true
		}
	}
	for _, ext := range extra {
		if ext != "" && strings.HasSuffix(name, ext) {
			return true
		}
	}
	return false
}

// VassalEnv is a vassal's environment (T-07): base without NOTIFY_SOCKET
// and UWSGI_RELOADS (S-23), every UWSGI_VASSAL_X=v turned into UWSGI_X=v,
// plus UWSGI_EMPEROR_FD.
func VassalEnv(base []string, fd int) []string {
	env := make([]string, 0, len(base)+1)
	renamed := map[string]string{}
	var order []string
	for _, kv := range base {
		k, v, _ := strings.Cut(kv, "=")
		switch {
		case k == "NOTIFY_SOCKET", k == "UWSGI_RELOADS", k == "UWSGI_EMPEROR_FD",
			k == "UWSGI_EMPEROR_FD_CONFIG", k == "LISTEN_FDS", k == "LISTEN_PID", k == "LISTEN_FDNAMES":
			// Nor socket activation: those fds belong to the emperor.
			continue
		case strings.HasPrefix(k, "UWSGI_VASSAL_") && len(k) > len("UWSGI_VASSAL_"):
			// uWSGI rescans after each rename, so a doubled prefix is
			// stripped again.
			nk := k
			for strings.HasPrefix(nk, "UWSGI_VASSAL_") && len(nk) > len("UWSGI_VASSAL_") {
				nk = "UWSGI_" + nk[len("UWSGI_VASSAL_"):]
			}
			if _, seen := renamed[nk]; !seen {
				order = append(order, nk)
			}
			renamed[nk] = v
			continue
		}
		env = append(env, kv)
	}
	// A renamed variable wins over one of the same name already set.
	out := env[:0]
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if _, ok := renamed[k]; !ok {
			out = append(out, kv)
		}
	}
	for _, k := range order {
		out = append(out, k+"="+renamed[k])
	}
	return append(out, fmt.Sprintf("UWSGI_EMPEROR_FD=%d", fd))
}
