// Package route compiles uWSGI's internal routing rules (route, route-uri,
// route-qs, route-host, route-remote-addr, route-user-agent, route-referer,
// route-remote-user, route-if, route-if-not, route-run, route-label) and
// evaluates them against a parsed request head before the app is called.
//
// Evaluation returns a Decision the worker applies: answer directly
// (redirect, return, break), serve a file (static), or call the app,
// possibly with a rewritten PATH_INFO/QUERY_STRING and extra response
// headers (addheader). Subjects are matched with Go regexps (RE2: no
// backreferences or lookaround, unlike uWSGI's PCRE); `$1`..`$9` expand to
// the captures of the rule's regexp and `${VAR}` to a request variable.
//
// The package deliberately implements only the actions real deployments
// use: redirect (-301/-302/-permanent), rewrite(-last), addheader,
// static, return, break, last, continue, goto, log and donotlog. Other
// actions (uwsgi:, http:, cache, basicauth, ...) are refused at compile
// time with an error naming them, never silently ignored.
package route

import (
	"encoding/binary"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/gosgi/gosgi/internal/proto"
)

// Option is one routing option as configured, in config order.
type Option struct {
	Name  string // "route", "route-uri", "route-if", "route-label", ...
	Value string
}

// subjects: the request variable each regexp option matches.
var subjects = map[string]struct{ log, key string }{
	"route":             {"path_info", "PATH_INFO"},
	"route-uri":         {"request_uri", "REQUEST_URI"},
	"route-qs":          {"query_string", "QUERY_STRING"},
	"route-host":        {"http_host", "HTTP_HOST"},
	"route-remote-addr": {"remote_addr", "REMOTE_ADDR"},
	"route-user-agent":  {"user_agent", "HTTP_USER_AGENT"},
	"route-referer":     {"referer", "HTTP_REFERER"},
	"route-remote-user": {"remote_user", "REMOTE_USER"},
}

type actionKind int

const (
	actRedirect actionKind = iota
	actRewrite
	actRewriteLast
	actAddHeader
	actStatic
	actReturn
	actBreak
	actLast
	actGoto
	actLog
	actDoNotLog
)

var actions = map[string]actionKind{
	"redirect": actRedirect, "redirect-302": actRedirect, "redirect-301": actRedirect,
	"redirect-permanent": actRedirect, "rewrite": actRewrite, "rewrite-last": actRewriteLast,
	"addheader": actAddHeader, "static": actStatic, "return": actReturn, "break": actBreak,
	"last": actLast, "continue": actLast, "goto": actGoto, "log": actLog, "donotlog": actDoNotLog,
}

// rule is one compiled rule.
type rule struct {
	key    string         // request variable matched by re
	re     *regexp.Regexp // nil for route-if, route-run and labels
	cond   string         // route-if function ("equal", "exists", ...)
	negate bool           // route-if-not
	args   string         // route-if arguments (expanded per request)
	label  string         // route-label
	act    actionKind
	name   string // action name as written
	arg    string // action argument (expanded per request)
	status int    // redirect status (301/302)
}

// Table is a compiled rule list; it is read-only and safe for concurrent
// use.
type Table struct {
	rules    []rule
	labels   map[string]int
	messages []string
}

// Compile parses the rules in order. It returns an error naming the option
// for a malformed rule, a bad regexp, an unknown action, a route-if
// function it does not know or a goto to a missing label.
func Compile(opts []Option) (*Table, error) {
	t := &Table{labels: map[string]int{}}
	for _, o := range opts {
		n := len(t.rules)
		var r rule
		switch {
		case o.Name == "route-label":
			r.label = o.Value
			t.labels[o.Value] = n
			t.messages = append(t.messages, fmt.Sprintf("[rule: %d] label: %s", n, o.Value))
			t.rules = append(t.rules, r)
			continue
		case o.Name == "route-run":
			if err := r.setAction(o.Value); err != nil {
				return nil, fmt.Errorf("%s = %s: %w", o.Name, o.Value, err)
			}
			t.messages = append(t.messages, fmt.Sprintf("[rule: %d] action: %s", n, o.Value))
		case o.Name == "route-if" || o.Name == "route-if-not":
			cond, act, ok := strings.Cut(o.Value, " ")
			fn, args, ok2 := strings.Cut(cond, ":")
			if !ok || !ok2 {
				return nil, fmt.Errorf("%s = %s: want \"func:args action\"", o.Name, o.Value)
			}
			if _, known := conditions[fn]; !known {
				return nil, fmt.Errorf("%s = %s: unknown route-if function %q", o.Name, o.Value, fn)
			}
			r.cond, r.args, r.negate = fn, args, o.Name == "route-if-not"
			if fn == "regexp" || fn == "re" {
				_, pat, ok := strings.Cut(args, ";")
				if !ok {
					return nil, fmt.Errorf("%s = %s: want regexp:subject;pattern", o.Name, o.Value)
				}
				re, err := regexp.Compile(pat)
				if err != nil {
					return nil, fmt.Errorf("%s = %s: %w", o.Name, o.Value, err)
				}
				r.re = re
			}
			if err := r.setAction(act); err != nil {
				return nil, fmt.Errorf("%s = %s: %w", o.Name, o.Value, err)
			}
			t.messages = append(t.messages, fmt.Sprintf("[rule: %d] subject: %s func: %s action: %s", n, args, fn, act))
		default:
			sub, ok := subjects[o.Name]
			if !ok {
				return nil, fmt.Errorf("%s: not a routing option", o.Name)
			}
			pat, act, ok := strings.Cut(o.Value, " ")
			if !ok {
				return nil, fmt.Errorf("%s = %s: want \"regexp action\"", o.Name, o.Value)
			}
			re, err := regexp.Compile(pat)
			if err != nil {
				return nil, fmt.Errorf("%s = %s: %w", o.Name, o.Value, err)
			}
			r.key, r.re = sub.key, re
			if err := r.setAction(act); err != nil {
				return nil, fmt.Errorf("%s = %s: %w", o.Name, o.Value, err)
			}
			t.messages = append(t.messages, fmt.Sprintf("[rule: %d] subject: %s regexp: %s action: %s", n, sub.log, pat, act))
		}
		t.rules = append(t.rules, r)
	}
	for _, r := range t.rules {
		if r.act == actGoto && r.label == "" {
			if _, ok := t.labels[r.arg]; !ok {
				return nil, fmt.Errorf("goto:%s: no route-label %q", r.arg, r.arg)
			}
		}
	}
	return t, nil
}

func (r *rule) setAction(s string) error {
	name, arg, _ := strings.Cut(strings.TrimSpace(s), ":")
	act, ok := actions[name]
	if !ok {
		return fmt.Errorf("unsupported routing action %q", name)
	}
	r.act, r.name, r.arg = act, name, arg
	switch name {
	case "redirect-301", "redirect-permanent":
		r.status = 301
	case "redirect", "redirect-302":
		r.status = 302
	}
	if (act == actReturn || act == actBreak) && arg != "" {
		code, _, _ := strings.Cut(arg, " ")
		n, err := strconv.Atoi(code)
		if err != nil || n < 100 || n > 999 {
			return fmt.Errorf("%s:%s: want a status code", name, arg)
		}
	}
	if (act == actRedirect || act == actRewrite || act == actRewriteLast || act == actStatic || act == actGoto || act == actAddHeader) && arg == "" {
		return fmt.Errorf("%s needs an argument", name)
	}
	return nil
}

// Messages returns uWSGI's startup lines for the table ("[rule: 0]
// subject: path_info regexp: ^/old action: redirect:/new").
func (t *Table) Messages() []string { return t.messages }

// Len is the number of rules (labels included).
func (t *Table) Len() int { return len(t.rules) }

// Outcome says what the worker does after routing.
type Outcome int

const (
	// App: call the app (with Decision's rewrite and headers applied).
	App Outcome = iota
	// Respond: write Decision.Response and close; the app is not called.
	Respond
	// Static: serve the file Decision.File (through internal/static).
	Static
)

// Decision is the result of evaluating the table for one request.
type Decision struct {
	Outcome Outcome
	// Rewritten is set when a rewrite changed PATH_INFO and QUERY_STRING:
	// PathInfo and Query hold the new values (HasQuery is then true).
	Rewritten bool
	PathInfo  string
	Query     string
	HasQuery  bool
	// AddHeaders are "Name: value" lines to add to the app's response.
	AddHeaders []string
	// Logs are lines the log action asked for, in order.
	Logs []string
	// NoLog: donotlog matched; the request line is not written (LG-5).
	NoLog bool
	// Status is the status of a direct response (Respond), for the log
	// line too (500 for a break without status, which sends nothing).
	Status int
	// File is the file of a static action.
	File string
	// Direct-response parts (Respond); AppendResponse renders them.
	reason   string
	location string
	body     string
	brk      bool
	silent   bool // break without a status: nothing is written
}

// maxSteps bounds an evaluation: a goto loop must not hang a core.
const maxSteps = 1000

// Eval runs the rules against r (block is its variable block, for ${VAR}
// and the header subjects). It does not allocate when no rule matches.
func (t *Table) Eval(r *proto.Request, block []byte) Decision {
	if t == nil {
		return Decision{}
	}
	ctx := evalCtx{r: r, block: block}
	d := &ctx.d
	for i, steps := 0, 0; i < len(t.rules) && steps < maxSteps; steps++ {
		rule := &t.rules[i]
		i++
		if rule.label != "" {
			continue
		}
		caps, ok := ctx.match(rule)
		if !ok {
			continue
		}
		arg := ""
		if rule.arg != "" {
			arg = ctx.expand(rule.arg, caps)
		}
		switch rule.act {
		case actRedirect:
			d.Outcome, d.Status, d.location = Respond, rule.status, arg
			d.reason, d.body = "Found", "Moved"
			if rule.status == 301 {
				d.reason, d.body = "Moved Permanently", "Moved Permanently"
			}
			return *d
		case actReturn, actBreak:
			d.Outcome, d.brk = Respond, rule.act == actBreak
			if arg == "" {
				// break without a status: uWSGI closes without a reply
				// and logs a 500 with no headers.
				d.Status, d.silent = 500, true
				return *d
			}
			code, reason, _ := strings.Cut(arg, " ")
			d.Status, _ = strconv.Atoi(code)
			if reason == "" {
				reason = StatusText(d.Status)
			}
			d.reason = reason
			if !d.brk {
				d.body = reason
			}
			return *d
		case actRewrite, actRewriteLast:
			// uWSGI sets both variables: the new query string comes first,
			// the request's own (as rewritten so far) follows after "&".
			p, q, _ := strings.Cut(arg, "?")
			orig := string(ctx.value("QUERY_STRING"))
			switch {
			case q == "":
				q = orig
			case orig != "":
				q = q + "&" + orig
			}
			d.Rewritten, d.PathInfo, d.Query, d.HasQuery = true, p, q, true
			if rule.act == actRewriteLast {
				return *d
			}
		case actAddHeader:
			d.AddHeaders = append(d.AddHeaders, arg)
		case actLog:
			d.Logs = append(d.Logs, arg)
		case actDoNotLog:
			d.NoLog = true
		case actStatic:
			d.Outcome, d.File = Static, arg
			return *d
		case actGoto:
			i = t.labels[rule.arg]
		case actLast:
			return *d
		}
	}
	return *d
}

// AppendResponse appends the bytes uWSGI writes for a direct response
// (observed on 2.0.21): redirects carry Location and a short body, return
// carries Content-Type and Content-Length with the reason as body, break
// carries "Connection: close" and no body. It also returns the log-line
// figures: header count, head size and body size. A break without status
// appends nothing.
func (d *Decision) AppendResponse(dst, protocol []byte) (out []byte, headers, headBytes, bodyBytes int) {
	if d.Outcome != Respond || d.Status == 0 || d.silent {
		return dst, 0, 0, 0
	}
	if len(protocol) == 0 {
		protocol = []byte("HTTP/1.0")
	}
	start := len(dst)
	dst = append(dst, protocol...)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, int64(d.Status), 10)
	dst = append(dst, ' ')
	dst = append(dst, d.reason...)
	dst = append(dst, "\r\n"...)
	switch {
	case d.location != "":
		dst = append(dst, "Location: "...)
		dst = append(dst, d.location...)
		dst = append(dst, "\r\n"...)
		headers = 1
	case d.brk:
		dst = append(dst, "Connection: close\r\nContent-Type: text/plain\r\n"...)
		headers = 2
	default:
		dst = append(dst, "Content-Type: text/plain\r\nContent-Length: "...)
		dst = strconv.AppendInt(dst, int64(len(d.body)), 10)
		dst = append(dst, "\r\n"...)
		headers = 2
	}
	dst = append(dst, "\r\n"...)
	headBytes = len(dst) - start
	dst = append(dst, d.body...)
	return dst, headers, headBytes, len(d.body)
}

// AppendRewrite appends the rewritten PATH_INFO and QUERY_STRING to a
// variable block, as uWSGI does: the later pair wins when the block is
// parsed again, and the log line counts the extra variables.
func (d *Decision) AppendRewrite(block []byte) []byte {
	if !d.Rewritten {
		return block
	}
	block = proto.AppendVar(block, "PATH_INFO", d.PathInfo)
	if d.HasQuery {
		block = proto.AppendVar(block, "QUERY_STRING", d.Query)
	}
	return block
}

type evalCtx struct {
	r     *proto.Request
	block []byte
	d     Decision
}

// value returns the current value of a request variable, seeing earlier
// rewrites.
func (c *evalCtx) value(key string) []byte {
	switch key {
	case "PATH_INFO":
		if c.d.Rewritten {
			return []byte(c.d.PathInfo)
		}
		return c.r.PathInfo
	case "QUERY_STRING":
		if c.d.HasQuery {
			return []byte(c.d.Query)
		}
		return c.r.Query
	case "REQUEST_URI":
		return c.r.URI
	case "HTTP_HOST":
		return c.r.Host
	case "REMOTE_ADDR":
		return c.r.RemoteAddr
	case "REMOTE_USER":
		return c.r.RemoteUser
	}
	return lookupVar(c.block, key)
}

// match reports whether rule applies and returns its regexp captures.
func (c *evalCtx) match(rule *rule) ([][]byte, bool) {
	if rule.cond == "" {
		if rule.re == nil { // route-run
			return nil, true
		}
		v := c.value(rule.key)
		if !rule.re.Match(v) {
			return nil, false
		}
		if rule.re.NumSubexp() == 0 {
			return nil, true
		}
		return rule.re.FindSubmatch(v), true
	}
	args := c.expand(rule.args, nil)
	ok, caps := conditions[rule.cond](args, rule.re)
	return caps, ok != rule.negate
}

// expand replaces $1..$9 with captures and ${VAR} with request variables.
func (c *evalCtx) expand(s string, caps [][]byte) string {
	if strings.IndexByte(s, '$') < 0 {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if ch != '$' || i+1 >= len(s) {
			b.WriteByte(ch)
			continue
		}
		next := s[i+1]
		switch {
		case next >= '0' && next <= '9':
			n := int(next - '0')
			if n < len(caps) {
				b.Write(caps[n])
			}
			i++
		case next == '{':
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				b.WriteByte(ch)
				continue
			}
			b.Write(c.value(s[i+2 : i+2+end]))
			i += 2 + end
		default:
			b.WriteByte(ch)
		}
	}
	return b.String()
}

// conditions are the route-if functions: args is the expanded argument
// text ("a;b" for two-operand functions).
var conditions = map[string]func(args string, re *regexp.Regexp) (bool, [][]byte){
	"equal":      two(func(a, b string) bool { return a == b }),
	"startswith": two(strings.HasPrefix),
	"endswith":   two(strings.HasSuffix),
	"contains":   two(strings.Contains),
	"empty":      func(a string, _ *regexp.Regexp) (bool, [][]byte) { return a == "", nil },
	"exists": func(a string, _ *regexp.Regexp) (bool, [][]byte) {
		_, err := os.Stat(a)
		return err == nil, nil
	},
	"isfile": func(a string, _ *regexp.Regexp) (bool, [][]byte) {
		fi, err := os.Stat(a)
		return err == nil && fi.Mode().IsRegular(), nil
	},
	"isdir": func(a string, _ *regexp.Regexp) (bool, [][]byte) {
		fi, err := os.Stat(a)
		return err == nil && fi.IsDir(), nil
	},
	"regexp": matchRegexp,
	"re":     matchRegexp,
}

func two(f func(a, b string) bool) func(string, *regexp.Regexp) (bool, [][]byte) {
	return func(args string, _ *regexp.Regexp) (bool, [][]byte) {
		a, b, ok := strings.Cut(args, ";")
		return ok && f(a, b), nil
	}
}

// matchRegexp: "subject;pattern"; the pattern was compiled at Compile time
// from the unexpanded text, so only the subject is expanded.
func matchRegexp(args string, re *regexp.Regexp) (bool, [][]byte) {
	subject, _, _ := strings.Cut(args, ";")
	m := re.FindSubmatch([]byte(subject))
	return m != nil, m
}

// lookupVar returns the last value of key in a uwsgi variable block.
func lookupVar(block []byte, key string) []byte {
	var v []byte
	for p := 0; p+2 <= len(block); {
		klen := int(binary.LittleEndian.Uint16(block[p:]))
		if p+2+klen+2 > len(block) {
			break
		}
		voff := p + 2 + klen
		vlen := int(binary.LittleEndian.Uint16(block[voff:]))
		if voff+2+vlen > len(block) {
			break
		}
		if string(block[p+2:voff]) == key {
			v = block[voff+2 : voff+2+vlen]
		}
		p = voff + 2 + vlen
	}
	return v
}

// StatusText is the reason phrase uWSGI uses for a status code.
func StatusText(code int) string {
	if s, ok := reasons[code]; ok {
		return s
	}
	return "Unknown"
}

var reasons = map[int]string{
	200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 301: "Moved Permanently",
	302: "Found", 303: "See Other", 304: "Not Modified", 307: "Temporary Redirect",
	308: "Permanent Redirect", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
	404: "Not Found", 405: "Method Not Allowed", 406: "Not Acceptable", 408: "Request Timeout",
	409: "Conflict", 410: "Gone", 411: "Length Required", 413: "Request Entity Too Large",
	414: "Request-URI Too Long", 415: "Unsupported Media Type", 416: "Requested Range Not Satisfiable",
	418: "I'm a teapot", 429: "Too Many Requests", 500: "Internal Server Error", 501: "Not Implemented",
	502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout",
}
