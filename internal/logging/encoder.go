package logging

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Encoder is one `log-encoder`/`log-req-encoder` of uWSGI 2.0 (LG-25):
// it turns a log message (a line with its "\n") into new bytes; encoders
// run in configuration order, each on the previous one's output.
//
//	prefix TEXT   TEXT + message
//	suffix TEXT   message + TEXT (after the message's "\n")
//	nl            message + "\n"
//	format TMPL   TMPL with ${msg} (the message without its "\n"), ${msgnl}
//	              (with it), ${unix}, ${millis}, ${micros} (now since the
//	              epoch), ${strftime:FORMAT} (local time); others are empty
//	json TMPL     like format, with ${msg} and ${msgnl} escaped as uWSGI
//	              does: " \ newline, CR and TAB only
//
// `NAME:LOGGER args` applies the encoder to the lines of that logger only.
type Encoder struct {
	Kind   string
	Logger string // "" for every logger
	text   string // prefix/suffix
	tmpl   []tmplPart
}

type tmplPart struct {
	lit  string
	v    string // "" for a literal
	arg  string // strftime's format
	json bool
}

// ParseEncoder reads one encoder option value.
func ParseEncoder(spec string) (*Encoder, error) {
	head, args, _ := strings.Cut(spec, " ")
	kind, logger, _ := strings.Cut(head, ":")
	e := &Encoder{Kind: kind, Logger: logger}
	switch kind {
	case "prefix", "suffix":
		e.text = args
	case "nl":
	case "format", "json":
		e.tmpl = parseTemplate(args, kind == "json")
	case "gzip", "compress":
		return nil, fmt.Errorf("log encoder %q: compressed log lines are not provided by gosgi", kind)
	default:
		return nil, fmt.Errorf("unable to find log encoder %q", kind)
	}
	return e, nil
}

func parseTemplate(s string, json bool) []tmplPart {
	var parts []tmplPart
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			break
		}
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			break // an unterminated ${ is text
		}
		if i > 0 {
			parts = append(parts, tmplPart{lit: s[:i]})
		}
		name := s[i+2 : i+end]
		p := tmplPart{v: name, json: json}
		if f, ok := strings.CutPrefix(name, "strftime:"); ok {
			p.v, p.arg = "strftime", f
		}
		parts = append(parts, p)
		s = s[i+end+1:]
	}
	if s != "" {
		parts = append(parts, tmplPart{lit: s})
	}
	return parts
}

// Encode appends the encoding of msg to dst; now is the clock of the
// time variables.
func (e *Encoder) Encode(dst, msg []byte, now time.Time) []byte {
	switch e.Kind {
	case "prefix":
		return append(append(dst, e.text...), msg...)
	case "suffix":
		return append(append(dst, msg...), e.text...)
	case "nl":
		return append(append(dst, msg...), '\n')
	}
	bare := msg
	if n := len(bare); n > 0 && bare[n-1] == '\n' {
		bare = bare[:n-1]
	}
	for _, p := range e.tmpl {
		switch p.v {
		case "":
			dst = append(dst, p.lit...)
		case "msg", "msgnl":
			m := bare
			if p.v == "msgnl" {
				m = msg
			}
			if p.json {
				dst = appendUWSGIJSONEscaped(dst, m)
			} else {
				dst = append(dst, m...)
			}
		case "unix":
			dst = strconv.AppendInt(dst, now.Unix(), 10)
		case "millis":
			dst = strconv.AppendInt(dst, now.UnixMilli(), 10)
		case "micros":
			dst = strconv.AppendInt(dst, now.UnixMicro(), 10)
		case "strftime":
			dst = Strftime(dst, p.arg, now)
		}
	}
	return dst
}

// appendUWSGIJSONEscaped escapes like uWSGI's json encoder, so the bytes
// are the same: other control characters and non-UTF-8 bytes stay raw.
func appendUWSGIJSONEscaped(dst, m []byte) []byte {
	for _, c := range m {
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// EncodeFor runs, in order, the encoders that apply to the logger named
// logger ("" for an unnamed one) on msg.
func EncodeFor(encs []*Encoder, logger string, msg []byte, now time.Time) []byte {
	out := msg
	for _, e := range encs {
		if e.Logger != "" && e.Logger != logger {
			continue
		}
		out = e.Encode(nil, out, now)
	}
	return out
}
