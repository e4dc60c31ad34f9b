package static

import (
	"encoding/binary"
	"time"
)

// RangeState is the outcome of ParseRange.
type RangeState int

const (
	RangeNone    RangeState = iota // no Range header: send the whole file
	RangeValid                     // send [From, To]
	RangeInvalid                   // answer 416 Requested Range Not Satisfiable
)

// ParseRange reads a Range header value for a file of size bytes, as
// uWSGI's honour-range does: only the first range of a list is served;
// "a-b", "a-" and "-n" forms; an end past the file is clipped; a start
// past the end, a reversed range or a value it cannot read is invalid
// (uWSGI answers 416 where RFC 9110 would allow ignoring the header).
func ParseRange(v []byte, size int64) (from, to int64, st RangeState) {
	if len(v) == 0 {
		return 0, 0, RangeNone
	}
	const prefix = "bytes="
	if len(v) < len(prefix) || string(v[:len(prefix)]) != prefix {
		return 0, 0, RangeInvalid
	}
	v = v[len(prefix):]
	for i, c := range v {
		if c == ',' {
			v = v[:i]
			break
		}
	}
	v = trimSpace(v)
	dash := -1
	for i, c := range v {
		if c == '-' {
			dash = i
			break
		}
	}
	if dash < 0 {
		return 0, 0, RangeInvalid
	}
	a, b := trimSpace(v[:dash]), trimSpace(v[dash+1:])
	if len(a) == 0 { // suffix range: the last n bytes
		n, ok := parseUint(b)
		if !ok || n == 0 || size == 0 {
			return 0, 0, RangeInvalid
		}
		if n > size {
			n = size
		}
		return size - n, size - 1, RangeValid
	}
	from, ok := parseUint(a)
	if !ok || from >= size {
		return 0, 0, RangeInvalid
	}
	to = size - 1
	if len(b) > 0 {
		end, ok := parseUint(b)
		if !ok || end < from {
			return 0, 0, RangeInvalid
		}
		if end < to {
			to = end
		}
	}
	return from, to, RangeValid
}

func parseUint(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && isBlank(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isBlank(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

var (
	weekdays = [...]string{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"}
	months   = [...]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}
)

// AppendHTTPDate appends t (unix seconds) as an RFC 1123 date in GMT.
func AppendHTTPDate(dst []byte, sec int64) []byte {
	t := time.Unix(sec, 0).UTC()
	dst = append(dst, weekdays[t.Weekday()]...)
	dst = append(dst, ", "...)
	dst = append2(dst, t.Day())
	dst = append(dst, ' ')
	dst = append(dst, months[t.Month()-1]...)
	dst = append(dst, ' ')
	y := t.Year()
	dst = append(dst, byte('0'+y/1000%10), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10))
	dst = append(dst, ' ')
	dst = append2(dst, t.Hour())
	dst = append(dst, ':')
	dst = append2(dst, t.Minute())
	dst = append(dst, ':')
	dst = append2(dst, t.Second())
	return append(dst, " GMT"...)
}

func append2(dst []byte, n int) []byte { return append(dst, byte('0'+n/10%10), byte('0'+n%10)) }

// ParseHTTPDate reads an RFC 1123 date ("Sun, 06 Nov 1994 08:49:37 GMT"),
// the only form uWSGI understands in If-Modified-Since. It returns unix
// seconds, or ok=false for anything else.
func ParseHTTPDate(b []byte) (sec int64, ok bool) {
	if len(b) != 29 || b[3] != ',' || b[4] != ' ' || b[7] != ' ' || b[11] != ' ' ||
		b[16] != ' ' || b[19] != ':' || b[22] != ':' || string(b[25:]) != " GMT" {
		return 0, false
	}
	num := func(p []byte) (int, bool) {
		n := 0
		for _, c := range p {
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	mon := -1
	for i, m := range months {
		if string(b[8:11]) == m {
			mon = i
		}
	}
	day, ok1 := num(b[5:7])
	year, ok2 := num(b[12:16])
	h, ok3 := num(b[17:19])
	m, ok4 := num(b[20:22])
	s, ok5 := num(b[23:25])
	if mon < 0 || !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || day < 1 || day > 31 || h > 23 || m > 59 || s > 60 {
		return 0, false
	}
	return time.Date(year, time.Month(mon+1), day, h, m, s, 0, time.UTC).Unix(), true
}

// lookupVar returns the last value of key in a uwsgi variable block (the
// block was validated by proto, so lengths are trusted but still bounded).
func lookupVar(block []byte, key string) []byte {
	var v []byte
	for p := 0; p+2 <= len(block); {
		klen := int(binary.LittleEndian.Uint16(block[p:]))
		if p+2+klen+2 > len(block) {
			break
		}
		k := block[p+2 : p+2+klen]
		voff := p + 2 + klen
		vlen := int(binary.LittleEndian.Uint16(block[voff:]))
		if voff+2+vlen > len(block) {
			break
		}
		if string(k) == key {
			v = block[voff+2 : voff+2+vlen]
		}
		p = voff + 2 + vlen
	}
	return v
}
