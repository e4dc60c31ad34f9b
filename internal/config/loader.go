package config

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gosgi/gosgi/internal/options"
	"github.com/gosgi/gosgi/internal/plugins"
)

// envExcluded are UWSGI_* variables uWSGI uses internally (CF-30).
var envExcluded = map[string]bool{
	"UWSGI_RELOADS": true, "UWSGI_VASSALS_DIR": true, "UWSGI_EMPEROR_FD": true,
	"UWSGI_BROODLORD_NUM": true, "UWSGI_EMPEROR_FD_CONFIG": true,
	"UWSGI_EMPEROR_PROXY": true, "UWSGI_JAIL_PID": true,
	"UWSGI_ORIGINAL_PROC_NAME": true, "UWSGI_PLUGINS": true,
}

type custom struct {
	declared bool
	template string
	split    bool // declare-option splits the value into $1..$N
}

type logicBlock struct {
	kind  string // "if" or "for"
	ok    bool   // if: condition held
	value string // if: %(_) of the block
	items []string
	body  []Entry
	opt   string
}

type fileRef struct {
	given, path, section string
	abs                  string
	ino                  uint64
}

type loader struct {
	argv0   string
	environ []string
	env     map[string]string
	log     io.Writer
	entries []Entry
	plugins []string
	loaded  map[string]bool // option-providing plugins: core, python, http
	names   map[string]bool // plugin names as given, for if-plugin
	custom  map[string]custom

	logic     *logicBlock
	replaying bool
	inInherit bool
	depth     int

	lastIni   string
	firstFile *fileRef
	stdout    bytes.Buffer
	warnings  []string

	magic magicEnv
}

func newLoader(argv0 string, environ []string, log io.Writer) *loader {
	l := &loader{
		argv0:   argv0,
		environ: environ,
		env:     map[string]string{},
		log:     log,
		// Python, the HTTP router and gevent are built into gosgi, as into
		// pip's uWSGI builds: their options work without a plugin line, so
		// command lines and files written for either build keep working
		// (a deliberate difference from Debian's build, PL-3; docs/compat.md).
		loaded: map[string]bool{options.PluginCore: true, options.PluginPython: true, options.PluginHTTP: true,
			options.PluginGevent: true},
		names:  map[string]bool{},
		custom: map[string]custom{},
	}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			if _, dup := l.env[k]; !dup {
				l.env[k] = v
			}
		}
	}
	l.magic = newMagicEnv()
	return l
}

func (l *loader) logf(format string, a ...any) { fmt.Fprintf(l.log, format+"\n", a...) }

// loadPlugins records plugin names from a comma list (PL-1); python and
// http make their options available.
func (l *loader) loadPlugins(list string) {
	for _, item := range strings.Split(list, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		l.plugins = append(l.plugins, item)
		name := item
		if p, err := plugins.Resolve(item); err == nil {
			name = p.Name
			if p.Kind == plugins.Unsupported { // PL-4: not fatal
				l.logf("!!! UNABLE to load uWSGI plugin: %s !!!", p.Message)
			}
		}
		l.names[name] = true
		if t := options.PluginOf(item); t != "" {
			l.loaded[t] = true
			l.names[t] = true
			if t == options.PluginHTTP {
				l.names["corerouter"] = true
			}
		}
	}
}

func (l *loader) run(args []string) error {
	// Implicit plugins first: argv[0] words, then UWSGI_PLUGINS (PL-2).
	for _, p := range plugins.FromArgv0(l.argv0) {
		l.logf("[uwsgi] implicit plugin requested %s", p)
		l.loadPlugins(p)
	}
	if v, ok := l.env["UWSGI_PLUGINS"]; ok {
		l.loadPlugins(v)
	}
	if err := l.loadEnv(); err != nil {
		return err
	}
	positional, err := l.parseCLI(args)
	if err != nil {
		return err
	}
	for _, p := range positional {
		if err := l.loadFile(p, "command line"); err != nil {
			return err
		}
	}
	return nil
}

// loadEnv turns UWSGI_* variables into entries (CF-30), in environment
// order.
func (l *loader) loadEnv() error {
	for _, kv := range l.environ {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(k, "UWSGI_") || envExcluded[k] || len(k) == len("UWSGI_") {
			continue
		}
		name := strings.ToLower(strings.ReplaceAll(k[len("UWSGI_"):], "_", "-"))
		if err := l.add(Entry{Key: name, Value: v, Source: "environment"}); err != nil {
			return err
		}
	}
	return nil
}

// add appends an entry, routing it through an open logic block and
// performing immediate options (CF-5).
func (l *loader) add(e Entry) error {
	if l.inInherit {
		e.raw = true
	}
	if l.logic != nil && !l.replaying {
		return l.addInBlock(e)
	}
	o := options.Lookup(e.Key)
	if o == nil || !o.Immediate {
		l.entries = append(l.entries, e)
		return nil
	}
	e.immediate = true
	if strings.HasPrefix(o.Name, "if-") || strings.HasPrefix(o.Name, "for") {
		l.entries = append(l.entries, e)
		return l.openBlock(o.Name, e)
	}
	switch o.Name {
	case "set", "set-placeholder":
		k, v, ok := strings.Cut(e.Value, "=")
		if !ok {
			return &Exit{Code: 1, Stderr: "invalid placeholder/--set value\n"}
		}
		l.entries = append(l.entries, e)
		ne := Entry{Key: k, Value: v, Source: e.Source, raw: e.raw}
		if o.Name == "set-placeholder" {
			if options.Lookup(k) != nil {
				return &Exit{Code: 1, Stderr: "you cannot use %s as a placeholder, it is already available as an option\n"}
			}
			ne.placeholder = true
			l.entries = append(l.entries, ne)
			return nil
		}
		return l.add(ne)
	}
	l.entries = append(l.entries, e)
	return l.immediate(o, e)
}

// immediate performs an immediate option other than set and logic.
func (l *loader) immediate(o *options.Option, e Entry) error {
	switch o.Name {
	case "ini", "xml", "yaml", "json", "include":
		kind := o.Name
		if kind == "include" {
			kind = ""
		}
		return l.loadFileKind(e.Value, kind, e.Source)
	case "plugins":
		l.loadPlugins(e.Value)
	case "declare-option", "declare-option2":
		name, tmpl, ok := strings.Cut(e.Value, "=")
		if !ok {
			return fmt.Errorf("%s: invalid %s value %q (want name=options)", e.Source, o.Name, e.Value)
		}
		l.custom[strings.TrimSpace(name)] = custom{declared: true, template: tmpl, split: o.Name == "declare-option"}
	case "version":
		return &Exit{Code: 0, Stdout: l.stdout.String() + options.Version + "\n"}
	case "help":
		var b bytes.Buffer
		options.WriteHelp(&b, l.argv0, l.plugins)
		return &Exit{Code: 0, Stdout: l.stdout.String() + b.String()}
	case "stop", "reload", "pause":
		sig := map[string]syscall.Signal{"stop": syscall.SIGINT, "reload": syscall.SIGHUP, "pause": syscall.SIGTSTP}[o.Name]
		return signalPidfile(e.Value, sig)
	case "iprint":
		l.stdout.WriteString(e.Value + "\n")
	case "connect-and-read":
		return connectAndRead(e.Value, l.stdout.String())
	case "exit":
		code := 0
		if !e.NoValue {
			code = Atoi(e.Value)
		}
		return &Exit{Code: code, Stdout: l.stdout.String()}
	case "resolve":
		name, host, ok := strings.Cut(e.Value, "=")
		if !ok {
			return &Exit{Code: 1, Stderr: "invalid resolve syntax, must be placeholder=domain\n"}
		}
		addrs, err := net.LookupHost(host)
		if err != nil || len(addrs) == 0 {
			return &Exit{Code: 1, Stderr: fmt.Sprintf("unable to resolve name %s\n", host)}
		}
		l.entries = append(l.entries, Entry{Key: name, Value: addrs[0], Source: e.Source, placeholder: true})
	}
	return nil
}

// connectAndRead implements --connect-and-read: print what a unix socket
// path or a host:port sends until it closes (the py-tracebacker sockets),
// then exit 0; 1 when it cannot connect.
func connectAndRead(addr, printed string) error {
	network := "unix"
	if !strings.Contains(addr, "/") && strings.Contains(addr, ":") {
		network = "tcp"
	}
	conn, err := net.DialTimeout(network, addr, 10*time.Second)
	if err != nil {
		return &Exit{Code: 1, Stdout: printed, Stderr: fmt.Sprintf("connect-and-read %s: %v\n", addr, err)}
	}
	defer conn.Close()
	var out strings.Builder
	out.WriteString(printed)
	if _, err := io.Copy(&out, conn); err != nil {
		return &Exit{Code: 1, Stdout: out.String(), Stderr: fmt.Sprintf("connect-and-read %s: %v\n", addr, err)}
	}
	return &Exit{Code: 0, Stdout: out.String()}
}

// signalPidfile implements --stop/--reload/--pause (PM-31): exit 0 when
// the signal was sent, 1 when the pidfile cannot be read, 255 when the
// process is gone.
func signalPidfile(path string, sig syscall.Signal) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return &Exit{Code: 1, Stderr: fmt.Sprintf("open(%q): %s\n", path, errText(err))}
	}
	pid := Atoi(strings.TrimSpace(string(b)))
	if pid <= 0 {
		return &Exit{Code: 1, Stderr: fmt.Sprintf("invalid pid in %s\n", path)}
	}
	if err := syscall.Kill(pid, sig); err != nil {
		return &Exit{Code: 255, Stderr: fmt.Sprintf("signal_pidfile()/kill(): %s\n", errText(err))}
	}
	return &Exit{Code: 0}
}

// errText renders an errno the way strerror does ("No such file or
// directory").
func errText(err error) string {
	var errno syscall.Errno
	if pe, ok := err.(*os.PathError); ok {
		err = pe.Err
	}
	if e, ok := err.(syscall.Errno); ok {
		errno = e
		s := errno.Error()
		return strings.ToUpper(s[:1]) + s[1:]
	}
	return err.Error()
}

// expandCustom inserts the options a declare-option name stands for
// (CF-27): pieces separated by ";", $1..$N replaced by the words of the
// value.
func (l *loader) expandCustom(e Entry, c custom) error {
	words := []string{e.Value}
	if c.split {
		words = strings.Fields(e.Value)
	}
	for _, piece := range strings.Split(c.template, ";") {
		piece = strings.TrimSpace(piece)
		for i := len(words); i >= 1; i-- {
			piece = strings.ReplaceAll(piece, "$"+strconv.Itoa(i), words[i-1])
		}
		piece = regexp.MustCompile(`\$[0-9]+`).ReplaceAllString(piece, "")
		if piece == "" {
			continue
		}
		k, v, hasValue := strings.Cut(piece, "=")
		k = strings.TrimSpace(k)
		// A piece without "=" (Debian's bare "$1", whose value is the
		// namespace, say "test") names no option to set: it does nothing,
		// even when the word happens to be an option name.
		if !hasValue || options.Lookup(k) == nil && !l.custom[k].declared {
			// uWSGI applies the pieces as options directly; a name that
			// is not an option (Debian's bare "$1") does nothing.
			continue
		}
		if err := l.add(Entry{Key: strings.TrimSpace(k), Value: v, Source: e.Source, raw: e.raw, derived: true}); err != nil {
			return err
		}
	}
	return nil
}

// loadFile loads a config file chosen by extension (CF-4).
func (l *loader) loadFile(given, source string) error {
	return l.loadFileKind(given, "", source)
}

func (l *loader) loadFileKind(given, kind, source string) error {
	if l.depth > 64 {
		return fmt.Errorf("%s: config files include each other too deeply (at %s)", source, given)
	}
	l.depth++
	defer func() { l.depth-- }()
	for _, scheme := range []string{"http://", "https://", "data://", "sym://", "section://", "fd://", "exec://", "call://", "callint://", "emperor://"} {
		if strings.HasPrefix(given, scheme) {
			return &Exit{Code: 1, Stderr: fmt.Sprintf("unable to load configuration from %s: the %s scheme is not supported by gosgi\n", given, strings.TrimSuffix(scheme, "://"))}
		}
	}
	path, section := splitSection(given)
	if kind == "" {
		switch strings.ToLower(filepath.Ext(path)) {
		case ".ini":
			kind = "ini"
		case ".xml":
			kind = "xml"
		case ".yaml", ".yml":
			kind = "yaml"
		case ".json", ".js":
			kind = "json"
		default:
			return &Exit{Code: 1, Stderr: fmt.Sprintf("unable to load configuration from %s\n", given)}
		}
	}
	if kind == "ini" && path == "" {
		path = l.lastIni // ini = :section (CF-16)
	}
	ref, data, err := l.readConfig(given, path, section)
	if err != nil {
		return err
	}
	if kind == "ini" {
		l.lastIni = path
	}
	text := l.magic.expand(string(data), ref, l.firstFile)
	var entries []Entry
	switch kind {
	case "ini":
		l.logf("[uWSGI] getting INI configuration from %s", path)
		if section == "" {
			section = "uwsgi"
		}
		var found bool
		entries, found = parseINI(text, section, path)
		if !found {
			l.logf("*** WARNING: Can't find section \"%s\" in INI configuration file %s ***", section, path)
		}
	case "xml":
		if section != "" {
			l.logf("[uWSGI] using xml uwsgi id: %s", section)
		}
		l.logf("[uWSGI] parsing config file %s", path)
		entries, err = parseXML(text, section, path)
	case "yaml":
		l.logf("[uWSGI] getting YAML configuration from %s", path)
		entries, err = parseYAML(text, section, path)
	case "json":
		l.logf("[uWSGI] getting JSON configuration from %s", path)
		entries, err = parseJSON(text, section, path)
	}
	if err != nil {
		return &Exit{Code: 1, Stderr: fmt.Sprintf("%v\nunable to load configuration from %s\n", err, given)}
	}
	for _, e := range entries {
		if err := l.add(e); err != nil {
			return err
		}
	}
	return nil
}

// splitSection splits "file:section" at the last ':' after the last '/'
// (CF-17).
func splitSection(given string) (path, section string) {
	slash := strings.LastIndexByte(given, '/')
	colon := strings.LastIndexByte(given, ':')
	if colon > slash {
		return given[:colon], given[colon+1:]
	}
	return given, ""
}

func (l *loader) readConfig(given, path, section string) (*fileRef, []byte, error) {
	ref := &fileRef{given: given, path: path, section: section}
	var data []byte
	var err error
	if path == "-" {
		data, err = io.ReadAll(os.Stdin)
		ref.abs = "-"
	} else {
		ref.abs, err = filepath.Abs(path)
		if err == nil {
			var st os.FileInfo
			st, err = os.Stat(path)
			if err == nil {
				if s, ok := st.Sys().(*syscall.Stat_t); ok {
					ref.ino = s.Ino
				}
				data, err = os.ReadFile(path)
			}
		}
	}
	if err != nil {
		return nil, nil, &Exit{Code: 1, Stderr: fmt.Sprintf("realpath() of %s failed: %s\nunable to load configuration from %s\n", path, errText(err), given)}
	}
	if l.firstFile == nil {
		l.firstFile = ref
	}
	return ref, data, nil
}
