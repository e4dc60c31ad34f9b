package logging

import (
	"sync/atomic"
	"time"
)

// CtimeLen is the length of a ctime date without its newline.
const CtimeLen = 24

type ctimeCache struct {
	sec int64
	buf [CtimeLen]byte
}

// lastCtime holds the most recently formatted second: every request of the
// same second reuses it, so the hot path formats at most once per second.
var lastCtime atomic.Pointer[ctimeCache]

// AppendCtime appends t as C's ctime() does, in local time and without the
// newline: "Sat Nov 21 01:55:55 2026" (24 characters, day space-padded).
func AppendCtime(dst []byte, t time.Time) []byte {
	sec := t.Unix()
	if c := lastCtime.Load(); c != nil && c.sec == sec {
		return append(dst, c.buf[:]...)
	}
	c := &ctimeCache{sec: sec}
	formatCtime(c.buf[:0], t.In(time.Local))
	lastCtime.Store(c)
	return append(dst, c.buf[:]...)
}

var (
	shortDays   = [...]string{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"}
	longDays    = [...]string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"}
	shortMonths = [...]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}
	longMonths  = [...]string{"January", "February", "March", "April", "May", "June", "July",
		"August", "September", "October", "November", "December"}
)

// formatCtime appends "%a %b %e %H:%M:%S %Y" for t as it is (no zone change).
func formatCtime(dst []byte, t time.Time) []byte {
	dst = append(dst, shortDays[t.Weekday()]...)
	dst = append(dst, ' ')
	dst = append(dst, shortMonths[t.Month()-1]...)
	dst = append(dst, ' ')
	dst = pad(dst, t.Day(), 2, ' ')
	dst = append(dst, ' ')
	dst = pad(dst, t.Hour(), 2, '0')
	dst = append(dst, ':')
	dst = pad(dst, t.Minute(), 2, '0')
	dst = append(dst, ':')
	dst = pad(dst, t.Second(), 2, '0')
	dst = append(dst, ' ')
	return pad(dst, t.Year(), 4, '0')
}

// pad appends n (>= 0) in decimal, left-padded with c to width.
func pad(dst []byte, n, width int, c byte) []byte {
	var b [20]byte
	i := len(b)
	for n >= 10 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	i--
	b[i] = byte('0' + n)
	for len(b)-i < width {
		i--
		b[i] = c
	}
	return append(dst, b[i:]...)
}
