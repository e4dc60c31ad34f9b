package logging

import (
	"strconv"
	"strings"
	"time"
)

// LogFormat is a compiled `logformat`/`log-format` (LG-10..LG-13): literal
// text and `%(name)` fields, resolved once so that Append only copies and
// formats numbers. Config-time `%(name)` placeholder substitution (LG-13)
// happens before, in the config reader.
type LogFormat struct {
	parts    []lfPart
	strftime string // ftime's format; "" = like ltime
}

// LogFormatOptions are the options that change how fields print.
type LogFormatOptions struct {
	// Strftime is the log-date strftime format; with UseStrftime
	// (logformat-strftime) %(ftime) uses it (OP-123).
	Strftime    string
	UseStrftime bool
}

// RequestExtra is what a logformat may print that RequestLine does not
// hold. The worker keeps one per core and refills it, so Append does not
// allocate.
type RequestExtra struct {
	// Block is the request's uwsgi variable block (LE u16 key length,
	// key, LE u16 value length, value...): %(var.NAME), %(host),
	// %(uagent), %(referer) and %(cl) read it.
	Block                []byte
	WorkerID             int
	Modifier1, Modifier2 int
	RSS, VSZ             int64 // bytes, 0 unless memory polling is on
	ReadErrors           int64
	WriteErrors          int64
	// LogVar returns a value set by uwsgi.set_logvar, nil when unset.
	LogVar func(name string) []byte
	// Metric returns a metric's value (%(metric.NAME)).
	Metric func(name string) (int64, bool)
	// Now is %(epoch)'s clock; zero means time.Now().
	Now time.Time
}

type lfField uint8

const (
	lfLiteral lfField = iota
	lfURI
	lfMethod
	lfUser
	lfAddr
	lfHost
	lfProto
	lfUagent
	lfReferer
	lfStatus
	lfRsize
	lfHsize
	lfSize
	lfCl
	lfMicros
	lfMsecs
	lfSecs
	lfTmsecs
	lfTmicros
	lfTime
	lfEpoch
	lfCtime
	lfLtime
	lfFtime
	lfPid
	lfWid
	lfCore
	lfSwitches
	lfVars
	lfPktsize
	lfModifier1
	lfModifier2
	lfHeaders
	lfVsz
	lfRss
	lfVszM
	lfRssM
	lfWerr
	lfRerr
	lfIoerr
	lfVar    // var.NAME
	lfMetric // metric.NAME
	lfLogVar // anything else
)

var lfNames = map[string]lfField{
	"uri": lfURI, "method": lfMethod, "user": lfUser, "addr": lfAddr, "host": lfHost,
	"proto": lfProto, "uagent": lfUagent, "referer": lfReferer, "status": lfStatus,
	"rsize": lfRsize, "hsize": lfHsize, "size": lfSize, "cl": lfCl, "micros": lfMicros,
	"msecs": lfMsecs, "secs": lfSecs, "tmsecs": lfTmsecs, "tmicros": lfTmicros, "time": lfTime,
	"epoch": lfEpoch, "ctime": lfCtime, "ltime": lfLtime, "ftime": lfFtime, "pid": lfPid,
	"wid": lfWid, "core": lfCore, "switches": lfSwitches, "vars": lfVars, "pktsize": lfPktsize,
	"modifier1": lfModifier1, "modifier2": lfModifier2, "headers": lfHeaders, "vsz": lfVsz,
	"rss": lfRss, "vszM": lfVszM, "rssM": lfRssM, "werr": lfWerr, "rerr": lfRerr, "ioerr": lfIoerr,
}

type lfPart struct {
	field lfField
	text  string // the literal, or the name of a var/metric/logvar
}

// CompileLogFormat compiles a logformat. It never fails: text that is not
// a complete `%(name)` is literal, as in uWSGI.
func CompileLogFormat(format string, o LogFormatOptions) *LogFormat {
	f := &LogFormat{}
	if o.UseStrftime {
		f.strftime = o.Strftime
	}
	lit := 0
	for i := 0; i+1 < len(format); {
		if format[i] != '%' || format[i+1] != '(' {
			i++
			continue
		}
		end := strings.IndexByte(format[i+2:], ')')
		if end < 0 {
			break // an unclosed "%(" and the rest stay literal
		}
		if k := strings.Index(format[i+2:i+2+end], "%("); k >= 0 {
			i += 2 + k // a later "%(" starts the field: "%(x%(pid)" is "%(x" + pid
			continue
		}
		if i > lit {
			f.parts = append(f.parts, lfPart{field: lfLiteral, text: format[lit:i]})
		}
		name := format[i+2 : i+2+end]
		f.parts = append(f.parts, resolveField(name))
		i += 2 + end + 1
		lit = i
	}
	if lit < len(format) {
		f.parts = append(f.parts, lfPart{field: lfLiteral, text: format[lit:]})
	}
	return f
}

func resolveField(name string) lfPart {
	if fd, ok := lfNames[name]; ok {
		return lfPart{field: fd}
	}
	if v, ok := strings.CutPrefix(name, "var."); ok {
		return lfPart{field: lfVar, text: v}
	}
	if m, ok := strings.CutPrefix(name, "metric."); ok {
		return lfPart{field: lfMetric, text: m}
	}
	return lfPart{field: lfLogVar, text: name}
}

// Append appends the line for one request, ending with "\n". A field whose
// value is empty prints "-" (LG-11). x may be nil.
func (f *LogFormat) Append(dst []byte, l *RequestLine, x *RequestExtra) []byte {
	if x == nil {
		x = &RequestExtra{}
	}
	for i := range f.parts {
		p := &f.parts[i]
		if p.field == lfLiteral {
			dst = append(dst, p.text...)
			continue
		}
		n := len(dst)
		dst = f.appendField(dst, p, l, x)
		if len(dst) == n {
			dst = append(dst, '-')
		}
	}
	return append(dst, '\n')
}

func (f *LogFormat) appendField(dst []byte, p *lfPart, l *RequestLine, x *RequestExtra) []byte {
	switch p.field {
	case lfURI:
		return append(dst, l.URI...)
	case lfMethod:
		return append(dst, l.Method...)
	case lfUser:
		return append(dst, l.User...)
	case lfAddr:
		return append(dst, l.Addr...)
	case lfHost:
		if h := lookupVar(x.Block, "HTTP_HOST"); len(h) > 0 {
			return append(dst, h...)
		}
		return append(dst, lookupVar(x.Block, "SERVER_NAME")...)
	case lfProto:
		return append(dst, l.Proto...)
	case lfUagent:
		return append(dst, lookupVar(x.Block, "HTTP_USER_AGENT")...)
	case lfReferer:
		return append(dst, lookupVar(x.Block, "HTTP_REFERER")...)
	case lfStatus:
		return strconv.AppendInt(dst, int64(l.Status), 10)
	case lfRsize:
		return strconv.AppendInt(dst, l.Size, 10)
	case lfHsize:
		return strconv.AppendInt(dst, int64(l.HeaderBytes), 10)
	case lfSize:
		return strconv.AppendInt(dst, l.Size+int64(l.HeaderBytes), 10)
	case lfCl:
		return strconv.AppendInt(dst, parseDecimal(lookupVar(x.Block, "CONTENT_LENGTH")), 10)
	case lfMicros:
		return strconv.AppendInt(dst, int64(l.Duration/time.Microsecond), 10)
	case lfMsecs:
		return strconv.AppendInt(dst, int64(l.Duration/time.Millisecond), 10)
	case lfSecs:
		return strconv.AppendFloat(dst, float64(l.Duration/time.Microsecond)/1e6, 'f', 6, 64)
	case lfTmsecs:
		return strconv.AppendInt(dst, l.Start.UnixMilli(), 10)
	case lfTmicros:
		return strconv.AppendInt(dst, l.Start.UnixMicro(), 10)
	case lfTime:
		return strconv.AppendInt(dst, l.Start.Unix(), 10)
	case lfEpoch:
		now := x.Now
		if now.IsZero() {
			now = time.Now()
		}
		return strconv.AppendInt(dst, now.Unix(), 10)
	case lfCtime:
		return AppendCtime(dst, l.Start)
	case lfLtime:
		return Strftime(dst, "%d/%b/%Y:%H:%M:%S %z", l.Start.Local())
	case lfFtime:
		if f.strftime != "" {
			return Strftime(dst, f.strftime, l.Start.Local())
		}
		return Strftime(dst, "%d/%b/%Y:%H:%M:%S %z", l.Start.Local())
	case lfPid:
		return strconv.AppendInt(dst, int64(l.Pid), 10)
	case lfWid:
		return strconv.AppendInt(dst, int64(x.WorkerID), 10)
	case lfCore:
		return strconv.AppendInt(dst, int64(l.Core), 10)
	case lfSwitches:
		return strconv.AppendInt(dst, int64(l.Switches), 10)
	case lfVars:
		return strconv.AppendInt(dst, int64(l.Vars), 10)
	case lfPktsize:
		return strconv.AppendInt(dst, int64(l.VarsBytes), 10)
	case lfModifier1:
		return strconv.AppendInt(dst, int64(x.Modifier1), 10)
	case lfModifier2:
		return strconv.AppendInt(dst, int64(x.Modifier2), 10)
	case lfHeaders:
		return strconv.AppendInt(dst, int64(l.Headers), 10)
	case lfVsz:
		return strconv.AppendInt(dst, x.VSZ, 10)
	case lfRss:
		return strconv.AppendInt(dst, x.RSS, 10)
	case lfVszM:
		return strconv.AppendInt(dst, x.VSZ/(1024*1024), 10)
	case lfRssM:
		return strconv.AppendInt(dst, x.RSS/(1024*1024), 10)
	case lfWerr:
		return strconv.AppendInt(dst, x.WriteErrors, 10)
	case lfRerr:
		return strconv.AppendInt(dst, x.ReadErrors, 10)
	case lfIoerr:
		return strconv.AppendInt(dst, x.ReadErrors+x.WriteErrors, 10)
	case lfVar:
		return append(dst, lookupVar(x.Block, p.text)...)
	case lfMetric:
		if x.Metric != nil {
			if v, ok := x.Metric(p.text); ok {
				return strconv.AppendInt(dst, v, 10)
			}
		}
		return dst
	case lfLogVar:
		if x.LogVar != nil {
			return append(dst, x.LogVar(p.text)...)
		}
		return dst
	}
	return dst
}

// lookupVar returns the first value of key in a uwsgi variable block, nil
// when absent; a truncated block ends the search.
func lookupVar(block []byte, key string) []byte {
	for p := 0; p+2 <= len(block); {
		kl := int(block[p]) | int(block[p+1])<<8
		p += 2
		if p+kl+2 > len(block) {
			return nil
		}
		k := block[p : p+kl]
		p += kl
		vl := int(block[p]) | int(block[p+1])<<8
		p += 2
		if p+vl > len(block) {
			return nil
		}
		if string(k) == key {
			return block[p : p+vl]
		}
		p += vl
	}
	return nil
}

// parseDecimal reads a CONTENT_LENGTH; anything but digits gives 0, as an
// empty one does.
func parseDecimal(b []byte) int64 {
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' || n > (1<<62)/10 {
			return 0
		}
		n = n*10 + int64(c-'0')
	}
	return n
}

// AppendMemoryReport appends the prefix memory-report puts before a
// request line (LG-4, OP-126):
// "{address space usage: B bytes/NMB} {rss usage: B bytes/NMB} ".
func AppendMemoryReport(dst []byte, vsz, rss int64) []byte {
	dst = append(dst, "{address space usage: "...)
	dst = strconv.AppendInt(dst, vsz, 10)
	dst = append(dst, " bytes/"...)
	dst = strconv.AppendInt(dst, vsz/(1024*1024), 10)
	dst = append(dst, "MB} {rss usage: "...)
	dst = strconv.AppendInt(dst, rss, 10)
	dst = append(dst, " bytes/"...)
	dst = strconv.AppendInt(dst, rss/(1024*1024), 10)
	return append(dst, "MB} "...)
}
