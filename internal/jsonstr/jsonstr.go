// Package jsonstr appends JSON strings without reflection, for the stats
// server and the JSON log lines, which write on every request or query.
package jsonstr

import "unicode/utf8"

// Append appends v as a quoted JSON string: quotes, backslashes and
// control characters escaped, invalid UTF-8 replaced by U+FFFD.
func Append[T ~string | ~[]byte](dst []byte, v T) []byte {
	return append(AppendEscaped(append(dst, '"'), v), '"')
}

// AppendEscaped appends the inside of a JSON string (no quotes).
func AppendEscaped[T ~string | ~[]byte](dst []byte, v T) []byte {
	const hex = "0123456789abcdef"
	start := 0
	for i := 0; i < len(v); {
		c := v[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			dst = append(dst, v[start:i]...)
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
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		if r, size := decodeRune(v[i:]); r == utf8.RuneError && size == 1 {
			dst = append(dst, v[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
		} else {
			i += size
		}
	}
	return append(dst, v[start:]...)
}

// decodeRune decodes the first rune of a string or a byte slice without
// converting either (at most utf8.UTFMax bytes are copied).
func decodeRune[T ~string | ~[]byte](v T) (rune, int) {
	var buf [utf8.UTFMax]byte
	n := copy(buf[:], v)
	return utf8.DecodeRune(buf[:n])
}
