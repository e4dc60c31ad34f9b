package logging

import (
	"strconv"
	"time"

	"github.com/gosgi/gosgi/internal/jsonstr"
)

// AppendRequestJSON appends l as one JSON object and "\n": gosgi's
// `log-json` request log, for log shippers. It has the figures of the
// default request line (LG-1) under stable names, plus the worker id:
//
//	{"pid":..,"worker":..,"app":..,"app_requests":..,"requests":..,
//	 "addr":"..","user":"..","vars":..,"vars_bytes":..,"time":"RFC 3339",
//	 "method":"..","uri":"..","size":..,"msecs":..,"micros":..,"via":"..",
//	 "proto":"..","status":..,"headers":..,"headers_bytes":..,
//	 "switches":..,"core":..}
//
// Strings are escaped as JSON; bytes that are not UTF-8 become U+FFFD.
func AppendRequestJSON(dst []byte, l *RequestLine, worker int) []byte {
	appReq := l.AppRequests
	if l.App < 0 {
		appReq = -1
	}
	dst = appendJSONInt(dst, `{"pid":`, int64(l.Pid))
	dst = appendJSONInt(dst, `,"worker":`, int64(worker))
	dst = appendJSONInt(dst, `,"app":`, int64(l.App))
	dst = appendJSONInt(dst, `,"app_requests":`, appReq)
	dst = appendJSONInt(dst, `,"requests":`, l.Total)
	dst = appendJSONStr(dst, `,"addr":`, l.Addr)
	dst = appendJSONStr(dst, `,"user":`, l.User)
	dst = appendJSONInt(dst, `,"vars":`, int64(l.Vars))
	dst = appendJSONInt(dst, `,"vars_bytes":`, int64(l.VarsBytes))
	dst = append(dst, `,"time":"`...)
	dst = l.Start.AppendFormat(dst, "2006-01-02T15:04:05.000000Z07:00")
	dst = append(dst, '"')
	dst = appendJSONStr(dst, `,"method":`, l.Method)
	dst = appendJSONStr(dst, `,"uri":`, l.URI)
	dst = appendJSONInt(dst, `,"size":`, l.Size)
	dst = appendJSONInt(dst, `,"msecs":`, int64(l.Duration/time.Millisecond))
	dst = appendJSONInt(dst, `,"micros":`, int64(l.Duration/time.Microsecond))
	dst = appendJSONStr(dst, `,"via":`, []byte(l.Via))
	dst = appendJSONStr(dst, `,"proto":`, l.Proto)
	dst = appendJSONInt(dst, `,"status":`, int64(l.Status))
	dst = appendJSONInt(dst, `,"headers":`, int64(l.Headers))
	dst = appendJSONInt(dst, `,"headers_bytes":`, int64(l.HeaderBytes))
	dst = appendJSONInt(dst, `,"switches":`, int64(l.Switches))
	dst = appendJSONInt(dst, `,"core":`, int64(l.Core))
	return append(dst, "}\n"...)
}

func appendJSONInt(dst []byte, key string, v int64) []byte {
	return strconv.AppendInt(append(dst, key...), v, 10)
}

func appendJSONStr(dst []byte, key string, v []byte) []byte {
	return jsonstr.Append(append(dst, key...), v)
}
