package e2e

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

// cliResult is the comparable outcome of a command that ends by itself.
type cliResult struct {
	Code   int
	Stdout string
	Stderr string
}

// normaliseCLI replaces the binary path (argv[0], OP-304's "Usage:" path),
// the version and the temp dir with tokens.
func normaliseCLI(s string, e *Env, dir string) string {
	s = strings.ReplaceAll(s, e.Impl.Bin, "<BIN>")
	s = strings.ReplaceAll(s, dir, "<DIR>")
	// The Debian uwsgi wrapper reports the real core binary in "Usage:".
	s = regexp.MustCompile(`(?m)^Usage: \S+ `).ReplaceAllString(s, "Usage: <BIN> ")
	return s
}

// TestCommandLine: OP-305 --version, OP-304 --help, CF-47 unknown option /
// missing argument, PL-3 plugin options before the plugin, CF-46 optional
// arguments, CF-6 --get, PL-4 unknown plugin.
func TestCommandLine(t *testing.T) {
	cases := []struct {
		name     string
		args     []string
		wantCode int
		// wantStderr / wantStdout: lines that must appear (after
		// normalisation), on both implementations.
		wantStderr []string
		wantStdout []string
		// ownWords: the implementations word the message differently;
		// only wantStderr is checked, the stderr texts are not compared.
		ownWords bool
		// firstLines: compare only the first N lines of stdout (help text
		// is long and its option list is the option table's business).
		firstLines int
	}{
		{name: "version_OP305", args: []string{"--version"}, wantCode: 0},
		{name: "version_then_other_options_OP305", args: []string{"--version", "--master", "--processes", "2"}, wantCode: 0},
		{name: "version_with_unknown_plugin_PL4", args: []string{"--plugin", "notaplugin", "--version"}, wantCode: 0,
			wantStderr: []string{"!!! UNABLE to load uWSGI plugin: "}, ownWords: true},
		{name: "help_first_line_OP304", args: []string{"--help"}, wantCode: 0, firstLines: 1,
			wantStdout: []string{"Usage: <BIN> [options...]"}},
		{name: "unknown_option_CF47", args: []string{"--no-such-option"}, wantCode: 1,
			wantStderr: []string{"<BIN>: unrecognized option '--no-such-option'", "getopt_long() error"}},
		// harakiri-graceful-* came after 2.0.21: unknown there too (PM-41).
		{name: "unknown_harakiri_graceful_CF47", args: []string{"--harakiri-graceful-timeout", "5"}, wantCode: 1,
			wantStderr: []string{"<BIN>: unrecognized option '--harakiri-graceful-timeout'", "getopt_long() error"}},
		{name: "missing_argument_CF47", args: []string{"--socket"}, wantCode: 1,
			wantStderr: []string{"<BIN>: option '--socket' requires an argument", "getopt_long() error"}},
		{name: "optional_argument_as_positional_CF46", args: []string{"--chmod-socket", "660"}, wantCode: 1,
			wantStderr: []string{"unable to load configuration from 660"}},
		{name: "bare_py_file_not_a_config_CF4", args: []string{"app.py"}, wantCode: 1,
			wantStderr: []string{"unable to load configuration from app.py"}},
		{name: "get_first_value_CF6", args: []string{"--set-ph", "x=1", "--set-ph", "x=2", "--get", "x", "--get", "nope"}, wantCode: 0,
			wantStdout: []string{"1"}},
		{name: "python_version_OP305", args: []string{"--plugin", "python3", "--python-version"}, wantCode: 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			Differential(t, Setup{NoStart: true}, func(t *testing.T, e *Env) any {
				dir := e.Vars["dir"]
				r := Run(t, e.Impl.Bin, c.args, dir)
				res := cliResult{Code: r.Code, Stdout: normaliseCLI(r.Stdout, e, dir), Stderr: normaliseCLI(r.Stderr, e, dir)}
				if c.firstLines > 0 {
					lines := strings.SplitAfter(res.Stdout, "\n")
					res.Stdout = strings.Join(lines[:min(c.firstLines, len(lines))], "")
				}
				if res.Code != c.wantCode {
					t.Errorf("exit %d, want %d; stderr:\n%s", res.Code, c.wantCode, res.Stderr)
				}
				for _, w := range c.wantStderr {
					if !strings.Contains(res.Stderr, w) {
						t.Errorf("stderr lacks %q:\n%s", w, res.Stderr)
					}
				}
				for _, w := range c.wantStdout {
					if !LogHasLine(res.Stdout, w) {
						t.Errorf("stdout lacks %q:\n%s", w, res.Stdout)
					}
				}
				if c.ownWords {
					res.Stderr = ""
				}
				return res
			})
		})
	}
}

// TestPluginOptionsBuiltIn: Debian's uWSGI knows --wsgi-file only after
// --plugin python3 (PL-3); gosgi has Python and the HTTP router built in, as
// pip's uWSGI builds do, so command lines written for either keep working
// (a documented difference, docs/compat.md).
func TestPluginOptionsBuiltIn(t *testing.T) {
	RequireTools(t)
	dir := t.TempDir()
	args := []string{"--wsgi-file", "app.py", "--plugin", "python3", "--get", "wsgi-file"}
	real := Run(t, RealUWSGI, args, dir)
	if real.Code != 1 || !strings.Contains(real.Stderr, "unrecognized option '--wsgi-file'") {
		t.Errorf("uwsgi: exit %d, stderr %q; want the PL-3 refusal", real.Code, real.Stderr)
	}
	for _, a := range [][]string{args, {"--wsgi-file", "app.py", "--get", "wsgi-file"}} {
		r := Run(t, GosgiBin(t), a, dir)
		if r.Code != 0 || strings.TrimSpace(r.Stdout) != "app.py" {
			t.Errorf("gosgi %v: exit %d, stdout %q, stderr %q; want app.py", a, r.Code, r.Stdout, r.Stderr)
		}
	}
}

// TestHelpListsCoreOptions: the option lines of --help name the common
// options with their short flags (OP-304).
func TestHelpListsCoreOptions(t *testing.T) {
	want := []string{"-s|--socket", "--http-socket", "-M|--master", "-p|--processes", "--pidfile", "-d|--daemonize"}
	Differential(t, Setup{NoStart: true}, func(t *testing.T, e *Env) any {
		r := Run(t, e.Impl.Bin, []string{"--help"}, e.Vars["dir"])
		var found []string
		for _, l := range strings.Split(r.Stdout, "\n") {
			f := strings.Fields(l)
			if len(f) > 0 {
				for _, w := range want {
					if f[0] == w {
						found = append(found, w)
					}
				}
			}
		}
		sort.Strings(found)
		if len(found) != len(want) {
			t.Errorf("--help lists %v, want all of %v", found, want)
		}
		return found
	})
}

// TestAppLoadFailures: PY-1 messages, PY-14 (no app: full dynamic mode and
// a 500 per request; with need-app exit 22 and GAME OVER), TOP-20.
func TestAppLoadFailures(t *testing.T) {
	cases := []struct {
		name   string
		file   string // wsgi-file; {apps} expands
		logHas []string
		// noRequest: do not send a request in full dynamic mode. After a
		// non-callable `application`, uWSGI 2.0.21's workers crash with
		// SIGSEGV in post_fork (a reference-count bug): nothing to copy.
		noRequest bool
	}{
		{name: "missing_file", file: "/nonexistent/app.py",
			logHas: []string{"failed to open python file /nonexistent/app.py"}},
		{name: "no_callable", file: "{apps}/nocallable.py",
			logHas: []string{`unable to find "application" callable in file {apps}/nocallable.py`}},
		{name: "not_callable", file: "{apps}/notcallable.py", noRequest: true,
			logHas: []string{`"application" must be a callable object in file {apps}/notcallable.py`}},
		{name: "import_error", file: "{apps}/importerror.py",
			logHas: []string{"Traceback (most recent call last):", "ModuleNotFoundError: No module named 'does_not_exist_e2e'"}},
	}
	for _, c := range cases {
		for _, needApp := range []bool{false, true} {
			name := c.name
			if needApp {
				name += "_need_app"
			}
			t.Run(name, func(t *testing.T) {
				args := []string{"--plugin", "python3", "--master", "--processes", "1", "--http-socket", "{http}", "--wsgi-file", c.file}
				ready := DefaultReady
				if needApp {
					args = append(args, "--need-app")
					ready = "-"
				}
				Differential(t, Setup{Args: args, Ready: ready}, func(t *testing.T, e *Env) any {
					log := func() string { return strings.ReplaceAll(e.Srv.Log(), e.Vars["apps"], "{apps}") }
					want := append([]string{}, c.logHas...)
					want = append(want, "unable to load app 0 (mountpoint='') (callable not found or import error)")
					type result struct {
						Code  int
						Reply Summary
						Log   []string
					}
					var res result
					if needApp {
						res.Code = e.Srv.Wait(t, StartTimeout)
						want = append(want, "*** no app loaded. GAME OVER ***")
						if res.Code != 22 {
							t.Errorf("exit %d, want 22 (PY-14)", res.Code)
						}
					} else {
						e.Srv.WaitLog(t, `going in full dynamic mode`, StartTimeout)
						want = append(want, "*** no app loaded. going in full dynamic mode ***")
						if !c.noRequest {
							want = append(want, "--- no python application found, check your startup logs for errors ---")
							r := Do(t, e.Addr("http"), Get("/"))
							res.Reply = Summarise(r)
							if r.StatusLine != "HTTP/1.1 500 Internal Server Error" || string(r.Body) != "Internal Server Error" {
								t.Errorf("no-app reply %s, want a 500 with body \"Internal Server Error\" (PY-14)", res.Reply)
							}
							e.Srv.WaitLog(t, `no python application found`, RequestTimeout)
						}
						res.Code = e.Srv.Stop(t)
						if res.Code != 0 {
							t.Errorf("exit %d after SIGINT, want 0 (PM-24)", res.Code)
						}
					}
					for _, w := range want {
						if !LogHasLine(log(), w) {
							t.Errorf("log lacks %q; log:\n%s", w, tail(log()))
						} else {
							res.Log = append(res.Log, w)
						}
					}
					return res
				})
			})
		}
	}
}

// corpusEnv is the environment each corpus file expects (see its README):
// `$(NAME)` references are expanded by the config reader itself.
var corpusEnv = map[string][]string{
	"searxng__container-uwsgi.ini": {"BIND_ADDRESS=127.0.0.1:8080", "UWSGI_WORKERS=2", "UWSGI_THREADS=2"},
	"dispatcharr__uwsgi.ini": {"REDIS_IDLE_TIMEOUT=60", "CELERY_NICE_LEVEL=5", "CELERY_MAX_WORKERS=4",
		"CELERY_MIN_WORKERS=1", "UWSGI_WORKERS=2"},
	"uwsgi__welcome.ini":                             {"PORT=8000"},
	"20tab-django-uwsgi-template__remote-global.ini": {"HOME=/home/e2e"},
}

// corpusExpect lists corpus files that cannot load here for reasons outside
// the config reader: they must fail the same way. (None today: the TLS
// certificates the https lines name are created by layoutCorpusFile.)
var corpusExpect = map[string]struct {
	code   int
	stderr string
}{}

// corpusKeys are printed with --get for every file: the first value of each
// (CF-6), so the comparison covers expansions, env refs and includes.
var corpusKeys = []string{"master", "processes", "workers", "socket", "uwsgi-socket", "http-socket", "http", "https",
	"module", "wsgi-file", "callable", "chdir", "threads", "harakiri", "buffer-size", "uid", "gid", "static-map",
	"logto", "pidfile", "stats", "env", "plugins", "plugin", "home", "virtualenv", "lazy-apps", "need-app"}

// corpusLoaderFlag picks the loader from the extension (CF-4).
func corpusLoaderFlag(name string) string {
	switch filepath.Ext(name) {
	case ".xml":
		return "--xml"
	case ".yml", ".yaml":
		return "--yaml"
	case ".js", ".json":
		return "--json"
	}
	return "--ini"
}

// TestCorpusConfigsLoad parses every real-world config of testdata/corpus
// (and of $E2E_CORPUS_DIR when set) with `--get` as a dry run: the file must
// parse (exit 0, or the listed failure) and every --get answer must match
// uWSGI's. Paths inside the configs do not exist here, so nothing is served.
func TestCorpusConfigsLoad(t *testing.T) {
	impls := Impls(t)
	dirs := []string{filepath.Join("testdata", "corpus")}
	if d := os.Getenv("E2E_CORPUS_DIR"); d != "" {
		dirs = append(dirs, d)
	}
	for _, dir := range dirs {
		ents, err := os.ReadDir(dir)
		if err != nil {
			t.Fatalf("read corpus %s: %v", dir, err)
		}
		for _, ent := range ents {
			name := ent.Name()
			if ent.IsDir() || name == "README.md" || isTemplate(name) {
				continue
			}
			t.Run(name, func(t *testing.T) {
				// One working directory for both, as relative paths and %d
				// show up in the answers.
				root := t.TempDir()
				src, err := os.ReadFile(filepath.Join(dir, name))
				if err != nil {
					t.Fatalf("read: %v", err)
				}
				path := layoutCorpusFile(t, root, name, src)
				args := []string{"--plugin", "python3,http", corpusLoaderFlag(name), path}
				for _, k := range corpusKeys {
					args = append(args, "--get", k)
				}
				var results []cliResult
				for _, impl := range impls {
					r := Run(t, impl.Bin, args, root, corpusEnv[name]...)
					want := corpusExpect[name]
					if r.Code != want.code {
						t.Errorf("%s: exit %d, want %d; stderr:\n%s", impl.Name, r.Code, want.code, tail(r.Stderr))
					}
					if want.stderr != "" && !strings.Contains(r.Stderr, want.stderr) {
						t.Errorf("%s: stderr lacks %q:\n%s", impl.Name, want.stderr, tail(r.Stderr))
					}
					results = append(results, cliResult{Code: r.Code, Stdout: r.Stdout})
				}
				if results[0] != results[1] {
					t.Errorf("--get answers differ (-%s +%s):\n%s", impls[0].Name, impls[1].Name,
						LineDiff(results[0].Stdout, results[1].Stdout))
				}
			})
		}
	}
}

// corpusTemplates are the corpus files that another tool must render
// before uWSGI can read them (shell ${...}, buildout, ERB, Jinja2,
// django-admin placeholders: the corpus README's table).
var corpusTemplates = map[string]bool{
	"searxng__apps-archlinux-searxng.ini":                true,
	"searxng__apps-available-searxng.ini":                true,
	"searxng__apps-available-searxng.ini-socket":         true,
	"plone-buildout.coredev__uwsgi.ini":                  true,
	"zulip__uwsgi.ini.template.erb":                      true,
	"openstack-ansible-role-uwsgi__uwsgi.ini.j2":         true,
	"20tab-django-uwsgi-template__remote-production.ini": true,
}

func isTemplate(name string) bool {
	return corpusTemplates[name] || strings.HasSuffix(name, ".j2") || strings.HasSuffix(name, ".erb")
}

// layoutCorpusFile writes the file under root where its includes expect
// their neighbours (corpus README, "Files that belong together") and returns
// its path.
func layoutCorpusFile(t *testing.T, root, name string, src []byte) string {
	t.Helper()
	write := func(rel string, data []byte) string {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatalf("mkdir: %v", err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatalf("write %s: %v", p, err)
		}
		return p
	}
	// uWSGI reads https certificates while parsing: give the configs that
	// name some under /opt real ones, inside root.
	if m := regexp.MustCompile(`(?m)^https\s*=\s*[^,]+,(/opt/\S+),(/opt/\S+)\s*$`).FindSubmatch(src); m != nil {
		writeSelfSigned(t, filepath.Join(root, string(m[1])), filepath.Join(root, string(m[2])))
		src = bytes.ReplaceAll(src, []byte("/opt/"), []byte(root+"/opt/"))
	}
	switch name {
	case "20tab-django-uwsgi-template__remote-static.ini":
		// remote/static.ini includes %d../static.ini.
		other, err := os.ReadFile(filepath.Join("testdata", "corpus", "20tab-django-uwsgi-template__static.ini"))
		if err != nil {
			t.Fatalf("read static.ini: %v", err)
		}
		write("static.ini", other)
		return write(filepath.Join("remote", "static.ini"), src)
	}
	return write(name, src)
}

// writeSelfSigned writes a throwaway self-signed certificate and its key.
func writeSelfSigned(t *testing.T, certPath, keyPath string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	for path, block := range map[string]*pem.Block{certPath: {Type: "CERTIFICATE", Bytes: der}, keyPath: {Type: "PRIVATE KEY", Bytes: kder}} {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}
