package logging

import (
	"strconv"
	"time"
)

// Strftime appends t formatted with the C strftime conversions that uWSGI
// configs use (log-date, logformat-strftime), in the C locale:
// %a %A %b %h %B %c %C %d %D %e %F %H %I %j %k %l %m %M %n %p %R %s %S %t
// %T %u %w %y %Y %z %Z %%. Other conversions are copied literally. t is
// formatted in its own location; pass t.Local() for local time.
func Strftime(dst []byte, format string, t time.Time) []byte {
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' || i+1 == len(format) {
			dst = append(dst, c)
			continue
		}
		i++
		switch format[i] {
		case 'a':
			dst = append(dst, shortDays[t.Weekday()]...)
		case 'A':
			dst = append(dst, longDays[t.Weekday()]...)
		case 'b', 'h':
			dst = append(dst, shortMonths[t.Month()-1]...)
		case 'B':
			dst = append(dst, longMonths[t.Month()-1]...)
		case 'c':
			dst = formatCtime(dst, t)
		case 'C':
			dst = pad(dst, t.Year()/100, 2, '0')
		case 'd':
			dst = pad(dst, t.Day(), 2, '0')
		case 'D':
			dst = Strftime(dst, "%m/%d/%y", t)
		case 'e':
			dst = pad(dst, t.Day(), 2, ' ')
		case 'F':
			dst = Strftime(dst, "%Y-%m-%d", t)
		case 'H':
			dst = pad(dst, t.Hour(), 2, '0')
		case 'I':
			dst = pad(dst, hour12(t), 2, '0')
		case 'j':
			dst = pad(dst, t.YearDay(), 3, '0')
		case 'k':
			dst = pad(dst, t.Hour(), 2, ' ')
		case 'l':
			dst = pad(dst, hour12(t), 2, ' ')
		case 'm':
			dst = pad(dst, int(t.Month()), 2, '0')
		case 'M':
			dst = pad(dst, t.Minute(), 2, '0')
		case 'n':
			dst = append(dst, '\n')
		case 'p':
			if t.Hour() < 12 {
				dst = append(dst, "AM"...)
			} else {
				dst = append(dst, "PM"...)
			}
		case 'R':
			dst = Strftime(dst, "%H:%M", t)
		case 's':
			dst = strconv.AppendInt(dst, t.Unix(), 10)
		case 'S':
			dst = pad(dst, t.Second(), 2, '0')
		case 't':
			dst = append(dst, '\t')
		case 'T':
			dst = Strftime(dst, "%H:%M:%S", t)
		case 'u':
			wd := int(t.Weekday())
			if wd == 0 {
				wd = 7
			}
			dst = pad(dst, wd, 1, '0')
		case 'w':
			dst = pad(dst, int(t.Weekday()), 1, '0')
		case 'y':
			dst = pad(dst, t.Year()%100, 2, '0')
		case 'Y':
			dst = strconv.AppendInt(dst, int64(t.Year()), 10)
		case 'z':
			_, off := t.Zone()
			sign := byte('+')
			if off < 0 {
				sign, off = '-', -off
			}
			dst = append(dst, sign)
			dst = pad(dst, off/3600, 2, '0')
			dst = pad(dst, off%3600/60, 2, '0')
		case 'Z':
			name, _ := t.Zone()
			dst = append(dst, name...)
		case '%':
			dst = append(dst, '%')
		default:
			dst = append(dst, '%', format[i])
		}
	}
	return dst
}

func hour12(t time.Time) int {
	h := t.Hour() % 12
	if h == 0 {
		h = 12
	}
	return h
}
