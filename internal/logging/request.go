package logging

import (
	"strconv"
	"time"
)

// RequestLine holds the figures of one request log line (LG-1, LG-2).
type RequestLine struct {
	Pid         int    // worker pid
	App         int    // app index, -1 when no app handled the request
	AppRequests int64  // requests of that app in this worker, this one included (printed -1 when App < 0)
	Total       int64  // requests of the whole instance, this one included
	Addr        []byte // REMOTE_ADDR (or X-Forwarded-For with log-x-forwarded-for)
	User        []byte // REMOTE_USER, may be empty
	Vars        int    // number of variables counting keys and values: 2*Request.Pairs
	VarsBytes   int    // size of the variable block
	Start       time.Time
	Method      []byte
	URI         []byte
	Size        int64 // response body bytes written
	Duration    time.Duration
	Via         string // "", "sendfile", "route" or "offload"
	Proto       []byte // SERVER_PROTOCOL
	Status      int
	Headers     int // response headers, status line not counted
	HeaderBytes int // the whole response head, status line and final CRLF included
	Switches    int
	Core        int
	Micros      bool // log-micros: microseconds instead of milliseconds
}

// AppendRequestLine appends l formatted as uWSGI's default request line,
// byte for byte, ending with "\n" (LG-1).
func AppendRequestLine(dst []byte, l *RequestLine) []byte {
	dst = append(dst, "[pid: "...)
	dst = strconv.AppendInt(dst, int64(l.Pid), 10)
	dst = append(dst, "|app: "...)
	dst = strconv.AppendInt(dst, int64(l.App), 10)
	dst = append(dst, "|req: "...)
	if l.App < 0 {
		dst = append(dst, "-1"...)
	} else {
		dst = strconv.AppendInt(dst, l.AppRequests, 10)
	}
	dst = append(dst, '/')
	dst = strconv.AppendInt(dst, l.Total, 10)
	dst = append(dst, "] "...)
	dst = append(dst, l.Addr...)
	dst = append(dst, " ("...)
	dst = append(dst, l.User...)
	dst = append(dst, ") {"...)
	dst = strconv.AppendInt(dst, int64(l.Vars), 10)
	dst = append(dst, " vars in "...)
	dst = strconv.AppendInt(dst, int64(l.VarsBytes), 10)
	dst = append(dst, " bytes} ["...)
	dst = AppendCtime(dst, l.Start)
	dst = append(dst, "] "...)
	dst = append(dst, l.Method...)
	dst = append(dst, ' ')
	dst = append(dst, l.URI...)
	dst = append(dst, " => generated "...)
	dst = strconv.AppendInt(dst, l.Size, 10)
	dst = append(dst, " bytes in "...)
	if l.Micros {
		dst = strconv.AppendInt(dst, int64(l.Duration/time.Microsecond), 10)
		dst = append(dst, " micros "...)
	} else {
		dst = strconv.AppendInt(dst, int64(l.Duration/time.Millisecond), 10)
		dst = append(dst, " msecs "...)
	}
	switch l.Via {
	case "":
	case "sendfile":
		dst = append(dst, "via sendfile() "...)
	case "route":
		dst = append(dst, "via route() "...)
	case "offload":
		dst = append(dst, "via offload() "...)
	default:
		dst = append(dst, "via "...)
		dst = append(dst, l.Via...)
		dst = append(dst, "() "...)
	}
	dst = append(dst, '(')
	dst = append(dst, l.Proto...)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, int64(l.Status), 10)
	dst = append(dst, ") "...)
	dst = strconv.AppendInt(dst, int64(l.Headers), 10)
	dst = append(dst, " headers in "...)
	dst = strconv.AppendInt(dst, int64(l.HeaderBytes), 10)
	dst = append(dst, " bytes ("...)
	dst = strconv.AppendInt(dst, int64(l.Switches), 10)
	dst = append(dst, " switches on core "...)
	dst = strconv.AppendInt(dst, int64(l.Core), 10)
	return append(dst, ")\n"...)
}
