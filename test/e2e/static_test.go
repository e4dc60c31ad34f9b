package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// staticMtime is the modification time of every file of the static tree,
// so Last-Modified is the same for both implementations.
var staticMtime = time.Date(2026, 11, 21, 4, 19, 44, 0, time.UTC)

// staticTree builds the tree the static scenarios serve and returns its
// root: an index, a css with a pre-compressed twin, a text file for ranges,
// a file without extension, a skipped extension, a sub directory with an
// index and one without, a symlink inside the tree and one leaving it.
func staticTree(t *testing.T) string {
	t.Helper()
	base, err := os.MkdirTemp("", "e2e-static")
	if err != nil {
		t.Fatalf("temp dir: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	root := filepath.Join(base, "st")
	files := map[string]string{
		"st/index.html":      "hello static\n",
		"st/a.css":           "body { color: black }\n",
		"st/a.css.gz":        "\x1f\x8b\x08\x00pretend-gzip",
		"st/alpha.txt":       "abcdefghijklmnopqrstuvwxyz",
		"st/noext":           "xyz\n",
		"st/skip.txt2":       "never static\n",
		"st/docs/index.html": "docs index\n",
		"st/empty/.keep":     "",
		"st/big.js":          strings.Repeat("var x = 1;\n", 2000),
		"outside/secret.txt": "secret\n",
	}
	for name, body := range files {
		p := filepath.Join(base, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatalf("mkdir: %v", err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatalf("write %s: %v", name, err)
		}
		if err := os.Chtimes(p, staticMtime, staticMtime); err != nil {
			t.Fatalf("chtimes %s: %v", name, err)
		}
	}
	for link, target := range map[string]string{"link-in": filepath.Join(root, "index.html"), "link-out": filepath.Join(base, "outside", "secret.txt")} {
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
			t.Fatalf("symlink: %v", err)
		}
	}
	return root
}

// wantExpires checks an Expires header about delta seconds ahead of now
// (static-expires, PM-79); normaliseExpires then hides its value.
func wantExpires(delta time.Duration) func(t *testing.T, r *Response) {
	return func(t *testing.T, r *Response) {
		t.Helper()
		v := r.Header("Expires")
		if len(v) != 1 {
			t.Fatalf("Expires headers %q, want one", v)
		}
		at, err := time.Parse(time.RFC1123, v[0])
		if err != nil {
			t.Fatalf("Expires %q: %v", v[0], err)
		}
		if d := time.Until(at) - delta; d < -5*time.Second || d > 5*time.Second {
			t.Errorf("Expires %q is not now+%v", v[0], delta)
		}
	}
}

func wantHeader(name, want string) func(t *testing.T, r *Response) {
	return func(t *testing.T, r *Response) {
		t.Helper()
		if got := r.Header(name); len(got) != 1 || got[0] != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
}

// normaliseExpires replaces Expires values (time-dependent) by a token.
func normaliseExpires(res []httpResult) []httpResult {
	for i := range res {
		for j, h := range res[i].Reply.Headers {
			if strings.EqualFold(h[0], "Expires") {
				res[i].Reply.Headers[j][1] = "<EXPIRES>"
			}
		}
	}
	return res
}

// TestStaticFiles: PM-79, LG-3, OP-184..OP-196. Static hits are answered
// without Python (`app: -1|req: -1/N`, `via sendfile()`), misses fall
// through to the app, and files outside the mapping are refused.
func TestStaticFiles(t *testing.T) {
	root := staticTree(t)
	via := []string{"|app: -1|req: -1/", " via sendfile() ", "(0 switches on core 0)"}
	cases := []httpCase{
		{name: "index_html_PM79", req: Get("/static/index.html"), lineHas: via,
			check: all(wantStatus("HTTP/1.1 200 OK"), wantHeader("Content-Type", "text/html"),
				wantHeader("Content-Length", "13"), wantHeader("Last-Modified", "Sat, 21 Nov 2026 04:19:44 GMT"),
				wantBody("hello static\n"))},
		{name: "http10_status_line", req: "GET /static/index.html HTTP/1.0\r\n\r\n", check: wantStatus("HTTP/1.0 200 OK")},
		{name: "gzip_twin_and_expires", req: Get("/static/a.css", "Accept-Encoding: gzip, deflate"), lineHas: via,
			check: all(wantHeader("Content-Encoding", "gzip"), wantHeader("Content-Type", "text/css"), wantExpires(time.Hour))},
		{name: "no_gzip_without_accept_encoding", req: Get("/static/a.css"),
			check: all(wantBody("body { color: black }\n"), wantExpires(time.Hour))},
		{name: "big_file_sendfile", req: Get("/static/big.js"), lineHas: []string{"generated 22000 bytes", " via sendfile() "}},
		{name: "no_extension_no_content_type", req: Get("/static/noext"), check: func(t *testing.T, r *Response) {
			if r.Header("Content-Type") != nil {
				t.Errorf("Content-Type %q for a file without extension", r.Header("Content-Type"))
			}
		}},
		{name: "directory_index_OP187", req: Get("/static/docs/"), check: wantBody("docs index\n")},
		{name: "directory_without_index_falls_through", req: Get("/static/empty"), check: wantEnv("PATH_INFO", "/static/empty")},
		{name: "head_no_body", req: Request("HEAD", "/static/index.html", ""),
			lineHas: []string{"generated 0 bytes", "(HTTP/1.1 200) 3 headers in 110 bytes"}},
		{name: "if_modified_since_304", req: Get("/static/index.html", "If-Modified-Since: Sat, 21 Nov 2026 04:19:44 GMT"),
			lineHas: []string{"(HTTP/1.1 304) 0 headers in 29 bytes"}, check: wantStatus("HTTP/1.1 304 Not Modified")},
		{name: "if_modified_since_older_200", req: Get("/static/index.html", "If-Modified-Since: Sat, 21 Nov 2026 04:19:43 GMT"),
			check: wantStatus("HTTP/1.1 200 OK")},
		{name: "if_modified_since_garbage_ignored", req: Get("/static/index.html", "If-Modified-Since: yesterday"),
			check: wantStatus("HTTP/1.1 200 OK")},
		{name: "range_out_of_bounds_416_OP196", req: Get("/static/alpha.txt", "Range: bytes=30-40"),
			lineHas: []string{"(HTTP/1.1 416) 1 headers in 75 bytes"},
			check:   all(wantStatus("HTTP/1.1 416 Requested Range Not Satisfiable"), wantHeader("Content-Range", "bytes */26"))},
		{name: "range_garbage_416", req: Get("/static/alpha.txt", "Range: bytes=abc"),
			check: wantStatus("HTTP/1.1 416 Requested Range Not Satisfiable")},
		// uWSGI logs a 206 as "200": gosgi logs the status it sent.
		{name: "range_206_OP196", req: Get("/static/alpha.txt", "Range: bytes=2-5"),
			check: all(wantStatus("HTTP/1.1 206 Partial Content"), wantHeader("Content-Range", "bytes 2-5/26"), wantBody("cdef")),
			gosgi: &httpCase{lineHas: []string{"(HTTP/1.1 206) 4 headers in 152 bytes"},
				check: all(wantStatus("HTTP/1.1 206 Partial Content"), wantHeader("Content-Range", "bytes 2-5/26"), wantBody("cdef"))}},
		{name: "suffix_range", req: Get("/static/alpha.txt", "Range: bytes=-3"), check: wantBody("xyz"),
			gosgi: &httpCase{check: wantBody("xyz")}},
		{name: "symlink_inside_served", req: Get("/static/link-in"), check: wantBody("hello static\n")},
		{name: "symlink_outside_refused", req: Get("/static/link-out"),
			logHas: []string{"[uwsgi-fileserve] security error: " + filepath.Join(filepath.Dir(root), "outside", "secret.txt") + " is not under " + root + " or a safe path"},
			check:  wantEnv("PATH_INFO", "/static/link-out")},
		{name: "encoded_dotdot_refused", req: Get("/static/%2e%2e/outside/secret.txt"),
			logHas: []string{"[uwsgi-fileserve] security error:"}, check: wantEnv("PATH_INFO", "/static/../outside/secret.txt")},
		{name: "skip_ext_OP188", req: Get("/static/skip.txt2"), check: wantEnv("PATH_INFO", "/static/skip.txt2")},
		{name: "post_goes_to_app", req: Request("POST", "/static/index.html", "x=1"), check: wantEnv("REQUEST_METHOD", "POST")},
		{name: "missing_file_falls_through", req: Get("/static/nope.html"), check: wantEnv("PATH_INFO", "/static/nope.html")},
		{name: "check_static_OP186", req: Get("/alpha.txt"), lineHas: via, check: wantBody("abcdefghijklmnopqrstuvwxyz")},
		{name: "file_mapping", req: Get("/favicon.ico"), lineHas: via, check: wantBody("xyz\n")},
		// uWSGI cuts the name at the NUL and serves index.html; gosgi
		// refuses the request.
		{name: "nul_in_path", req: Get("/static/index.html%00.png"),
			gosgi: &httpCase{lineHas: []string{"(HTTP/1.1 400)"}, check: wantStatus("HTTP/1.1 400 Bad Request")}},
		{name: "app_still_served", req: Get("/hello"), check: wantBody("Hello, World!\n")},
	}
	args := append(append([]string{}, routerArgs...),
		"--static-map", "/static="+root,
		"--static-map", "/favicon.ico="+filepath.Join(root, "noext"),
		"--check-static", root,
		"--static-index", "index.html",
		"--static-skip-ext", ".txt2",
		"--static-expires", root+`/.*\.css 3600`,
		"--static-gzip-all",
		"--honour-range")
	Differential(t, Setup{Args: args}, func(t *testing.T, e *Env) any {
		log := e.Srv.Log()
		for _, want := range []string{
			"[uwsgi-static] added mapping for /static => " + root,
			"[uwsgi-static] added check for " + root,
			"building mime-types dictionary from file /etc/mime.types...",
		} {
			if !strings.Contains(log, want) {
				t.Errorf("startup log lacks %q", want)
			}
		}
		return normaliseExpires(runHTTPCases(t, e, e.Addr("http"), cases))
	})
}

// TestStaticVanishingDir: a mapped directory that disappears makes its
// requests fall through to the app; other clients keep being served.
func TestStaticVanishingDir(t *testing.T) {
	Differential(t, Setup{NoStart: true}, func(t *testing.T, e *Env) any {
		root := staticTree(t)
		args := Args(append(append([]string{}, routerArgs...), "--static-map", "/static="+root), e.Vars)
		e.Srv = Start(t, e.Impl.Name, e.Impl.Bin, args, StartOptions{Dir: e.Vars["dir"]})
		cases := []httpCase{
			{name: "before", req: Get("/static/index.html"), check: wantBody("hello static\n")},
		}
		res := runHTTPCases(t, e, e.Addr("http"), cases)
		if err := os.RemoveAll(root); err != nil {
			t.Fatalf("remove static dir: %v", err)
		}
		res = append(res, runHTTPCases(t, e, e.Addr("http"), []httpCase{
			{name: "after_removal_falls_through", req: Get("/static/index.html"), check: wantEnv("PATH_INFO", "/static/index.html")},
			{name: "app_served", req: Get("/hello"), check: wantBody("Hello, World!\n")},
		})...)
		// The tree path differs per run; the environ does not depend on it.
		return res
	})
}

// TestStaticOffloadAndMimefile: offload-threads changes the log line to
// `via offload()` (PM-78, LG-3); mimefile replaces the MIME table and its
// entry count follows uWSGI's parser (PM-79).
func TestStaticOffloadAndMimefile(t *testing.T) {
	root := staticTree(t)
	mimes := filepath.Join(filepath.Dir(root), "mime.types")
	if err := os.WriteFile(mimes, []byte("text/x-weird\t\tweird  w2\n# comment\napplication/foo\ntext/plain txt\n"), 0o644); err != nil {
		t.Fatalf("write mime file: %v", err)
	}
	args := append(append([]string{}, routerArgs...), "--static-map", "/static="+root, "--offload-threads", "1", "--mimefile", mimes)
	cases := []httpCase{
		{name: "offload_via_PM78", req: Get("/static/alpha.txt"),
			lineHas: []string{"|app: -1|req: -1/", " via offload() "}, check: wantHeader("Content-Type", "text/plain")},
		{name: "html_unknown_in_custom_table", req: Get("/static/index.html"), check: func(t *testing.T, r *Response) {
			if r.Header("Content-Type") != nil {
				t.Errorf("Content-Type %q from a table without html", r.Header("Content-Type"))
			}
		}},
	}
	Differential(t, Setup{Args: args}, func(t *testing.T, e *Env) any {
		if !strings.Contains(e.Srv.Log(), "building mime-types dictionary from file "+mimes+"...4 entry found") {
			t.Errorf("mime line missing or count differs:\n%s", e.Srv.Log())
		}
		return runHTTPCases(t, e, e.Addr("http"), cases)
	})
}

// TestSearxngShapedConfig runs the static part of SearXNG's container
// config (testdata/corpus/searxng__container-uwsgi.ini): static-map,
// static-gzip-all and offload-threads from an ini, plus static-expires,
// with the app and paths replaced by the test's own. add-header and
// uid/gid are left out: they are not what this scenario checks.
func TestSearxngShapedConfig(t *testing.T) {
	corpus, err := os.ReadFile(filepath.Join("testdata", "corpus", "searxng__container-uwsgi.ini"))
	if err != nil {
		t.Fatalf("corpus file: %v", err)
	}
	for _, k := range []string{"static-map = /static=", "static-gzip-all = True", "offload-threads = %k"} {
		if !strings.Contains(string(corpus), k) {
			t.Fatalf("the corpus SearXNG config no longer has %q; update this test", k)
		}
	}
	root := staticTree(t)
	Differential(t, Setup{NoStart: true}, func(t *testing.T, e *Env) any {
		ini := strings.Join([]string{
			"[uwsgi]",
			"http-socket = " + e.Addr("http"),
			"plugin = python3",
			"workers = 1",
			"threads = 2",
			"single-interpreter = true",
			"master = true",
			"lazy-apps = true",
			"enable-threads = true",
			"wsgi-file = " + filepath.Join(e.Vars["apps"], "router.py"),
			"buffer-size = 8192",
			"die-on-term",
			"static-map = /static=" + root,
			"static-gzip-all = True",
			"static-expires = /.*\\.(css|js)$ 86400",
			"offload-threads = %k",
			"",
		}, "\n")
		path := filepath.Join(e.Vars["dir"], "searxng.ini")
		if err := os.WriteFile(path, []byte(ini), 0o644); err != nil {
			t.Fatalf("write ini: %v", err)
		}
		e.Srv = Start(t, e.Impl.Name, e.Impl.Bin, []string{"--ini", path}, StartOptions{Dir: e.Vars["dir"]})
		cases := []httpCase{
			{name: "css_gzip", req: Get("/static/a.css", "Accept-Encoding: gzip"), lineHas: []string{" via offload() "},
				check: all(wantHeader("Content-Encoding", "gzip"))},
			{name: "js_expires", req: Get("/static/big.js"), check: wantExpires(24 * time.Hour)},
			{name: "html_no_expires", req: Get("/static/index.html"), check: func(t *testing.T, r *Response) {
				if r.Header("Expires") != nil {
					t.Errorf("Expires on html: %q", r.Header("Expires"))
				}
			}},
			{name: "app", req: Get("/hello"), check: wantBody("Hello, World!\n")},
		}
		res := normaliseExpires(runHTTPCases(t, e, e.Addr("http"), cases))
		for i := range res {
			// threads = 2: either core may take a request.
			res[i].LogLine = coreRE.ReplaceAllString(NormaliseSwitches(res[i].LogLine), "on core <C>)")
		}
		return res
	})
}

var coreRE = regexp.MustCompile(`on core \d+\)`)

// TestInternalRouting: OP-198 route/route-uri/route-host/route-if/
// route-label with the actions real configs use, compared with uWSGI and
// its router_redirect, router_rewrite and router_static plugins. Direct
// answers are logged with `app: -1`.
func TestInternalRouting(t *testing.T) {
	root := staticTree(t)
	rules := []string{
		"--route", `^/old/(.*)$ redirect:/new/$1`,
		"--route", `^/perm redirect-301:/p2`,
		"--route", `^/rw/(.*)$ rewrite:/$1`,
		"--route", `^/rq/(.*)$ rewrite:/$1?a=b`,
		"--route", `^/forbid return:403`,
		"--route", `^/brk break:404 Gone Away`,
		"--route", `^/silent break:`,
		"--route", `^/hello addheader:X-Route: yes`,
		"--route", `^/hello log:routed ${PATH_INFO}`,
		"--route-host", `^evil\. break:403`,
		"--route-if", `equal:${PATH_INFO};/eq return:418`,
		"--route", `^/routed-static static:` + root + `/alpha.txt`,
		"--route", `^/lbl goto:mylabel`,
		"--route", `^/lbl return:500`,
		"--route-label", `mylabel`,
		"--route", `^/lbl return:201`,
		"--route", `^/last last:`,
		"--route", `^/last return:500`,
		"--route-uri", `\?q=1$ return:202`,
	}
	args := append(append(append([]string{}, routerArgs...), "--plugin", "router_redirect,router_rewrite,router_static",
		"--static-map", "/static="+root), rules...)
	direct := "|app: -1|req: -1/"
	cases := []httpCase{
		{name: "redirect_capture", req: Get("/old/a/b?z=2"), lineHas: []string{direct, "(HTTP/1.1 302) 1 headers in 42 bytes"},
			check: all(wantStatus("HTTP/1.1 302 Found"), wantHeader("Location", "/new/a/b"), wantBody("Moved"))},
		{name: "redirect_301", req: Get("/perm"), check: all(wantStatus("HTTP/1.1 301 Moved Permanently"), wantHeader("Location", "/p2"))},
		{name: "redirect_http10", req: "GET /old/x HTTP/1.0\r\n\r\n", check: wantStatus("HTTP/1.0 302 Found")},
		{name: "return_403", req: Get("/forbid"), lineHas: []string{direct, "(HTTP/1.1 403) 2 headers in 71 bytes"},
			check: all(wantStatus("HTTP/1.1 403 Forbidden"), wantBody("Forbidden"))},
		{name: "break_with_reason", req: Get("/brk"), check: all(wantStatus("HTTP/1.1 404 Gone Away"), wantHeader("Connection", "close"), wantBody(""))},
		{name: "break_without_status", req: Get("/silent"), lineHas: []string{direct, "(HTTP/1.1 500) 0 headers in 0 bytes"}, check: wantEmptyReply},
		{name: "route_host", req: "GET / HTTP/1.1\r\nHost: evil.example\r\n\r\n", check: wantStatus("HTTP/1.1 403 Forbidden")},
		{name: "route_if_equal", req: Get("/eq"), check: all(wantStatus("HTTP/1.1 418 I'm a teapot"), wantBody("I'm a teapot"))},
		{name: "goto_label", req: Get("/lbl"), check: wantStatus("HTTP/1.1 201 Created")},
		{name: "last_goes_to_app", req: Get("/last"), check: wantEnv("PATH_INFO", "/last")},
		{name: "route_uri", req: Get("/zz?q=1"), check: wantStatus("HTTP/1.1 202 Accepted")},
		{name: "rewrite_keeps_query", req: Get("/rw/env?x=1"),
			check: all(wantEnv("PATH_INFO", "/env"), wantEnv("QUERY_STRING", "x=1"), wantEnv("REQUEST_URI", "/rw/env?x=1"))},
		{name: "rewrite_prepends_query", req: Get("/rq/env?x=1"), check: wantEnv("QUERY_STRING", "a=b&x=1")},
		{name: "addheader_and_log", req: Get("/hello"), logHas: []string{"routed /hello"},
			check: all(wantHeader("X-Route", "yes"), wantBody("Hello, World!\n"))},
		{name: "static_action", req: Get("/routed-static"), lineHas: []string{direct, " via sendfile() "},
			check: wantBody("abcdefghijklmnopqrstuvwxyz")},
		{name: "no_rule_app", req: Get("/env"), check: wantEnv("PATH_INFO", "/env")},
	}
	Differential(t, Setup{Args: args}, func(t *testing.T, e *Env) any {
		for _, want := range []string{
			"[rule: 0] subject: path_info regexp: ^/old/(.*)$ action: redirect:/new/$1",
			"[rule: 9] subject: http_host regexp: ^evil\\. action: break:403",
			"[rule: 10] subject: ${PATH_INFO};/eq func: equal action: return:418",
			"[rule: 14] label: mylabel",
		} {
			if !strings.Contains(e.Srv.Log(), want) {
				t.Errorf("startup log lacks %q", want)
			}
		}
		return runHTTPCases(t, e, e.Addr("http"), cases)
	})
}
