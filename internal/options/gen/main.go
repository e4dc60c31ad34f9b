// Command gen writes table_gen.go, the option table of package options, from
// two checked-in files: uwsgi-options.tsv (facts extracted from the uWSGI
// 2.0.21 binaries by ./extract) and gosgi.txt (what gosgi does with each
// option). Options absent from gosgi.txt get their status, reason and
// description from the family rules below.
//
// It needs no network and no uWSGI installation: run it with
// `go generate ./internal/options`.
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"go/format"
	"os"
	"regexp"
	"strconv"
	"strings"
)

type fact struct {
	plugin, name, setter, data string
	hasArg                     int
	short                      string
	flags                      uint64
}

type decision struct {
	status, def, help, reason string
}

type option struct {
	fact
	aliases []string
	decision
}

// Flag bits of uWSGI's option records.
const (
	optImmediate  = 1 << 0
	optMaster     = 1 << 1
	optLogMaster  = 1 << 2
	optThreads    = 1 << 3
	optCheaper    = 1 << 4
	optReqLogMast = 1 << 14
)

// listSetters accumulate every occurrence instead of keeping the last one.
var listSetters = map[string]bool{
	"uwsgi_opt_load": true, "uwsgi_opt_load_ini": true, "uwsgi_opt_load_xml": true,
	"uwsgi_opt_load_yml": true, "uwsgi_opt_load_json": true, "uwsgi_opt_load_config": true,
	"uwsgi_opt_load_plugin": true, "uwsgi_opt_set_placeholder": true,
	"uwsgi_opt_set_env": true, "uwsgi_opt_unset_env": true, "uwsgi_opt_pythonpath": true,
	"uwsgi_opt_print": true, "uwsgi_opt_set_logger": true, "uwsgi_opt_set_req_logger": true,
	"uwsgi_opt_static_map": true, "uwsgi_opt_check_static": true, "uwsgi_opt_corerouter": true,
	"uwsgi_opt_sni": true, "uwsgi_opt_legion_hook": true, "uwsgi_opt_https": true,
	"uwsgi_opt_https2": true, "uwsgi_opt_http_to_https": true, "uwsgi_opt_envdir": true,
	"uwsgi_opt_pyrun": true, "uwsgi_opt_resolve": true, "uwsgi_opt_flock": true,
	"uwsgi_opt_flock_wait": true, "uwsgi_opt_dlopen": true, "uwsgi_opt_signal": true,
	"uwsgi_opt_corerouter_use_pattern": true, "uwsgi_opt_corerouter_use_base": true,
	"uwsgi_opt_corerouter_ss": true, "uwsgi_opt_corerouter_zerg": true,
	"uwsgi_opt_get": true, "uwsgi_opt_logic": false,
}

// aliasSetters group options that share a setter even though the setter
// takes no data pointer to compare.
var aliasSetters = map[string]bool{
	"uwsgi_opt_load_xml": true, "uwsgi_opt_load_yml": true, "uwsgi_opt_load_json": true,
	"uwsgi_opt_chmod_socket": true, "uwsgi_help": true, "uwsgi_print_sym": true,
	"uwsgi_opt_safe_fd": true, "uwsgi_opt_log_date": true, "uwsgi_opt_load_plugin": true,
	"uwsgi_opt_pythonpath": true, "uwsgi_opt_pyrun": true, "uwsgi_opt_check_static": true,
	"uwsgi_opt_fileserve_mode": true, "uwsgi_opt_set_req_logger": true,
	"uwsgi_opt_add_legion_cron": true, "uwsgi_opt_add_unique_legion_cron": true,
	"uwsgi_opt_sni": true, "uwsgi_opt_set_emperor_cap": true, "uwsgi_opt_ini_paste": true,
}

// manualAliases are aliases the spec names that the binary does not show
// as such (uwsgi-socket differs from socket only in the protocol it
// forces, which is the default one).
var manualAliases = map[string]string{"uwsgi-socket": "socket"}

// preferred names become the canonical name of their group (the spec and
// the documentation use them) instead of the first name in uWSGI's table.
var preferred = map[string]bool{"log-date": true, "xml": true, "py-sys-executable": true, "del-header": true}

// notAliases split groups the rules above would join: the names share a
// setter but behave differently.
var notAliases = map[string]bool{
	"undeferred-shared-socket": true, "end-for": false, "endif": true,
	"pyshell-oneshot": true,
}

// masterImplied adds CF-8 options whose master requirement is enforced
// outside the flag bits.
var masterImplied = map[string]bool{"touch-reload": true, "stats": true, "cheaper": true}

type rule struct {
	re             *regexp.Regexp
	status, reason string
	help           string // %s is replaced by the option name's words
}

func r(pat, status, help, reason string) rule {
	return rule{regexp.MustCompile(pat), status, reason, help}
}

// rules decide options gosgi.txt does not list, first match wins.
var rules = []rule{
	r(`^(final-|error-|response-)?route(-|$)`, "W", "internal routing rule (%s)", "internal routing is not implemented; express the rule in nginx or the app"),
	r(`^router-list$`, "W", "print the available routers", "there are no pluggable routers to list"),
	r(`^legion|legion`, "W", "Legion clustering (%s)", "Legion clustering is not provided: a gosgi instance is one node behind your load balancer"),
	r(`^(emperor|early-emperor|vassal|imperial-monitor|hook-emperor|hook-as-emperor|hook-as-vassal|exec-as-vassal|exec-as-emperor|call-as-vassal|call-as-emperor|mount-as-vassal|mount-as-emperor|umount-as-vassal|umount-as-emperor|heartbeat$)`, "W", "Emperor and vassal setting (%s)", "this Emperor setting is not implemented"),
	r(`^(subscri|unsubscribe|start-unsubscribed|http-subscription|http-resubscribe)`, "W", "subscription system (%s)", "the subscription system is not provided"),
	r(`^(ssl-|sni|suwsgi-socket|https2?$|https-|http-to-https)`, "W", "TLS setting (%s)", "TLS is not implemented yet; terminate TLS in nginx"),
	r(`^(fastcgi|scgi|raw-|puwsgi)`, "R", "socket speaking another protocol (%s)", "gosgi speaks only the uwsgi protocol and HTTP"),
	r(`modifier[12]$`, "W", "force a modifier (%s)", "only the Python request handler exists, so modifiers select nothing"),
	r(`^(spooler|touch-spoolers)`, "W", "spooler setting (%s)", "this spooler setting is not implemented (the spooler and uwsgi.spool are)"),
	r(`^(mule|touch-mules)`, "W", "mule setting (%s)", "this mule setting is not implemented (mules and mule messages are)"),
	r(`^(cache|add-cache-item|load-file-in-cache|check-cache|http-use-cache|queue)`, "W", "cache setting (%s)", "this cache setting is not implemented (cache, cache2 and uwsgi.cache_* are)"),
	r(`^(hook-|after-request)`, "W", "hook action (%s)", "hooks are not implemented; use ExecStartPre or the app"),
	r(`^(exec-|call-)`, "W", "run something at a startup phase (%s)", "startup hooks are not implemented; use ExecStartPre or the app"),
	r(`^(mount|umount)-`, "R", "mount a filesystem at a startup phase (%s)", "filesystem mounting is not implemented; use systemd mounts"),
	r(`^(unshare|setns|jailed|pivot-root|namespace|cgroup|refork)`, "R", "jailing setting (%s)", "namespaces, cgroups and jails are not implemented; use systemd sandboxing"),
	r(`^(immediate-uid|immediate-gid|master-as-root|drop-after)`, "R", "privilege-drop timing (%s)", "privileges are dropped at the one point gosgi supports"),
	r(`^(wait-for|wait-iface|wait-interface)`, "W", "wait for a resource before starting (%s)", "startup waits are not implemented; order units in systemd"),
	r(`^(alarm|log-alarm|not-log-alarm|segfault-alarm|backlog-alarm|lq-alarm|listen-queue-alarm|metric-threshold)`, "W", "alarm setting (%s)", "alarms are not implemented; alert on the stats server or metrics"),
	r(`^(metric|metrics-)`, "W", "metrics setting (%s)", "metrics are always collected and exported without extra setup"),
	r(`^(attach-|smart-attach|daemons-honour)`, "W", "external daemon under the master (%s)", "external daemons are not supervised yet; use systemd units"),
	r(`^(cron|unique-cron)`, "W", "scheduled command (%s)", "this cron setting is not implemented (cron, cron2 and unique-cron are)"),
	r(`^(signal|timer$|rbtimer$|touch-signal|fs-signal)`, "W", "uWSGI signal framework (%s)", "this signal setting is not implemented (uwsgi.register_signal, timers and the decorators are)"),
	r(`^(snmp)`, "W", "SNMP server (%s)", "SNMP is not provided; scrape the stats server instead"),
	r(`^(zerg|http-zerg)`, "W", "zerg mode (%s)", "zerg mode is not implemented"),
	r(`^(stats-push|carbon)`, "W", "stats pusher (%s)", "stats pushers are not implemented; scrape the stats server instead"),
	r(`^(log|req-log)`, "W", "logging setting (%s)", "this logging refinement is not implemented; lines are written in the default way"),
	r(`^(static-|check-static)`, "W", "static file setting (%s)", "this static-file refinement is not implemented"),
	r(`^(cheaper|cheap$)`, "W", "adaptive worker setting (%s)", "this adaptive-spawning knob is not implemented"),
	r(`^http-`, "W", "HTTP router setting (%s)", "the http address is served by the workers, which have no router process to tune"),
	r(`^(if-|for-|end)`, "I", "config logic (%s)", ""),
	r(`^(touch-|fs-)`, "W", "file-watch reload setting (%s)", "this reload trigger is not implemented"),
	r(`^(py|python|wsgi)`, "W", "Python setting (%s)", "it is not implemented"),
	r(`-list$`, "W", "print a list of built-in components (%s)", "gosgi has no pluggable components to list"),
	r(`.`, "W", "uWSGI setting (%s)", "it is not implemented"),
}

func main() {
	factsPath := flag.String("facts", "gen/uwsgi-options.tsv", "facts file")
	decPath := flag.String("decisions", "gen/gosgi.txt", "decisions file")
	extraPath := flag.String("extra", "gen/gosgi-options.tsv", "facts file of options gosgi adds to uWSGI's (same format)")
	out := flag.String("o", "table_gen.go", "output file")
	flag.Parse()
	facts, err := readFacts(*factsPath)
	if err != nil {
		fail(err)
	}
	if *extraPath != "" {
		extra, err := readFacts(*extraPath)
		if err != nil {
			fail(err)
		}
		facts = append(facts, extra...)
	}
	decs, err := readDecisions(*decPath)
	if err != nil {
		fail(err)
	}
	opts := group(facts)
	for _, o := range opts {
		for i, a := range o.aliases {
			if preferred[a] {
				o.aliases[i], o.name = o.name, a
			}
		}
	}
	for name := range decs {
		found := false
		for _, o := range opts {
			if o.name == name {
				found = true
			}
		}
		if !found {
			fail(fmt.Errorf("%s: %q is not a canonical option name", *decPath, name))
		}
	}
	for _, o := range opts {
		if d, ok := decs[o.name]; ok {
			o.decision = d
			continue
		}
		for _, ru := range rules {
			if ru.re.MatchString(o.name) {
				o.decision = decision{status: ru.status, reason: ru.reason,
					help: strings.ReplaceAll(ru.help, "%s", o.name)}
				break
			}
		}
	}
	src, err := render(opts)
	if err != nil {
		fail(err)
	}
	if err := os.WriteFile(*out, src, 0o644); err != nil {
		fail(fmt.Errorf("write %s: %w", *out, err))
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "gen:", err)
	os.Exit(1)
}

func readFacts(path string) ([]fact, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open facts: %w", err)
	}
	defer f.Close()
	var fs []fact
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		c := strings.Split(line, "\t")
		if len(c) != 7 {
			return nil, fmt.Errorf("%s:%d: want 7 fields, got %d", path, n, len(c))
		}
		ha, err1 := strconv.Atoi(c[2])
		fl, err2 := strconv.ParseUint(c[6], 10, 64)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("%s:%d: bad number", path, n)
		}
		fs = append(fs, fact{plugin: c[0], name: c[1], hasArg: ha, short: c[3], setter: c[4], data: c[5], flags: fl})
	}
	return fs, sc.Err()
}

func readDecisions(path string) (map[string]decision, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("open decisions: %w", err)
	}
	m := map[string]decision{}
	for n, line := range strings.Split(string(b), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		c := strings.Split(line, "|")
		if len(c) != 5 {
			return nil, fmt.Errorf("%s:%d: want 5 fields", path, n+1)
		}
		for i := range c {
			c[i] = strings.TrimSpace(c[i])
		}
		if _, dup := m[c[0]]; dup {
			return nil, fmt.Errorf("%s:%d: %s listed twice", path, n+1, c[0])
		}
		switch c[1] {
		case "I", "W", "R":
		default:
			return nil, fmt.Errorf("%s:%d: status %q", path, n+1, c[1])
		}
		if c[1] != "I" && c[4] == "" {
			return nil, fmt.Errorf("%s:%d: %s needs a reason", path, n+1, c[0])
		}
		m[c[0]] = decision{status: c[1], def: c[2], help: c[3], reason: c[4]}
	}
	return m, nil
}

// group joins aliases: options of one plugin with the same setter, data,
// argument kind and flags, when the data identifies a variable.
func group(fs []fact) []*option {
	var opts []*option
	byKey := map[string]*option{}
	byName := map[string]*option{}
	for _, f := range fs {
		if canon, ok := manualAliases[f.name]; ok {
			byName[canon].aliases = append(byName[canon].aliases, f.name)
			continue
		}
		key := ""
		if (f.data != "0" || aliasSetters[f.setter]) && f.setter != "uwsgi_opt_add_route" && f.setter != "uwsgi_opt_add_daemon" && f.setter != "uwsgi_opt_legion_hook" && f.setter != "uwsgi_opt_noop" && !notAliases[f.name] {
			key = fmt.Sprintf("%s|%s|%s|%d|%d|%s", f.plugin, f.setter, f.data, f.hasArg, f.flags, f.short)
			// Plugin records point into one big struct, so the data
			// offset (not just the symbol) must match; it does, as
			// the offset is part of f.data.
		}
		if f.setter == "uwsgi_opt_noop" {
			// endfor/end-for and endif/end-if: pair by prefix.
			key = "noop|" + strings.TrimPrefix(strings.ReplaceAll(f.name, "end-", "end"), "")
		}
		if key != "" {
			if o, ok := byKey[key]; ok {
				o.aliases = append(o.aliases, f.name)
				byName[f.name] = o
				continue
			}
		}
		o := &option{fact: f}
		opts = append(opts, o)
		byName[f.name] = o
		if key != "" {
			byKey[key] = o
		}
	}
	return opts
}

func render(opts []*option) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("// Code generated by go run ./gen; DO NOT EDIT.\n\n")
	b.WriteString("package options\n\n")
	b.WriteString("var table = []*Option{\n")
	for _, o := range opts {
		kind := [...]string{"Flag", "Required", "Optional"}[o.hasArg]
		status := map[string]string{"I": "Implemented", "W": "Warn", "R": "Refused"}[o.status]
		short := "0"
		if o.short != "-" {
			short = fmt.Sprintf("'%s'", o.short)
		}
		value := "String"
		switch o.setter {
		case "uwsgi_opt_true", "uwsgi_opt_false", "uwsgi_opt_dyn_true":
			value = "Bool"
		case "uwsgi_opt_set_int", "uwsgi_opt_set_rawint", "uwsgi_opt_max_vars", "uwsgi_opt_set_16bit":
			value = "Int"
		case "uwsgi_opt_set_64bit":
			value = "Int64"
		case "uwsgi_opt_set_megabytes":
			value = "Megabytes"
		case "uwsgi_opt_add_mules":
			value = "Int"
		}
		if o.hasArg == 0 {
			value = "Bool"
		}
		plugin := o.plugin
		list := (strings.Contains(o.setter, "_add_") || listSetters[o.setter]) && o.hasArg != 0
		master := o.flags&(optMaster|optLogMaster|optCheaper|optReqLogMast) != 0 || masterImplied[o.name]
		fmt.Fprintf(&b, "\t{Name: %q, ", o.name)
		if len(o.aliases) > 0 {
			fmt.Fprintf(&b, "Aliases: %#v, ", o.aliases)
		}
		fmt.Fprintf(&b, "Short: %s, Kind: %s, Value: %s, List: %t, Immediate: %t, Plugin: %q, ImpliesMaster: %t, ImpliesThreads: %t, Default: %q, Status: %s, Reason: %q, Help: %q},\n",
			short, kind, value, list, o.flags&optImmediate != 0, plugin, master, o.flags&optThreads != 0, o.def, status, o.reason, o.help)
	}
	b.WriteString("}\n")
	src, err := format.Source(b.Bytes())
	if err != nil {
		return nil, fmt.Errorf("format generated table: %w", err)
	}
	return src, nil
}
