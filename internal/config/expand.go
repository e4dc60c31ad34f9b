package config

import (
	"os"
	"strconv"
	"strings"
)

// expandAll runs the three value passes in uWSGI's order, $( ) then @( )
// then %( ), over every entry not already acted on (CF-22..CF-25, CF-48).
func (l *loader) expandAll() {
	for i := range l.entries {
		if l.entries[i].immediate || l.entries[i].raw {
			continue
		}
		l.entries[i].Value = replaceRefs(l.entries[i].Value, '$', func(name string) (string, bool) {
			v, ok := l.env[name]
			return v, ok
		})
	}
	for i := range l.entries {
		if l.entries[i].immediate || l.entries[i].raw {
			continue
		}
		l.entries[i].Value = replaceRefs(l.entries[i].Value, '@', func(name string) (string, bool) {
			b, err := os.ReadFile(name)
			if err != nil {
				return "", false
			}
			return strings.TrimSuffix(string(b), "\n"), true
		})
	}
	for i := range l.entries {
		if l.entries[i].immediate || l.entries[i].raw {
			continue
		}
		l.entries[i].Value = replaceRefs(l.entries[i].Value, '%', l.placeholder)
	}
}

// first returns the first value recorded for key (TOP-2).
func (l *loader) first(key string) (string, bool) {
	for _, e := range l.entries {
		if e.Key == key {
			if e.NoValue {
				return "1", true
			}
			return e.Value, true
		}
	}
	return "", false
}

// placeholder resolves the inside of %( ): one name, or space-separated
// tokens concatenated, with + - * / ++ -- integer math (CF-23).
func (l *loader) placeholder(expr string) (string, bool) {
	tokens := strings.Fields(expr)
	if len(tokens) == 0 {
		return "", false
	}
	if len(tokens) == 1 {
		return l.first(tokens[0])
	}
	result := ""
	op := ""
	for _, t := range tokens {
		switch t {
		case "+", "-", "*", "/":
			op = t
			continue
		case "++":
			result = strconv.Itoa(Atoi(result) + 1)
			continue
		case "--":
			result = strconv.Itoa(Atoi(result) - 1)
			continue
		}
		v := t
		if !isNumber(t) {
			v, _ = l.first(t) // unknown names count as empty
		}
		if op == "" {
			result += v
			continue
		}
		a, b := Atoi(result), Atoi(v)
		switch op {
		case "+":
			a += b
		case "-":
			a -= b
		case "*":
			a *= b
		case "/":
			if b == 0 {
				a = 0
			} else {
				a /= b
			}
		}
		result = strconv.Itoa(a)
		op = ""
	}
	return result, true
}

func isNumber(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			if i == 0 && s[i] == '-' && len(s) > 1 {
				continue
			}
			return false
		}
	}
	return true
}

// replaceRefs replaces every sigil( ... ) with balanced parentheses by
// resolve's answer; unresolved references stay literally.
func replaceRefs(s string, sigil byte, resolve func(string) (string, bool)) string {
	open := string([]byte{sigil, '('})
	if !strings.Contains(s, open) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if i+1 < len(s) && s[i] == sigil && s[i+1] == '(' {
			depth, j := 1, i+2
			for ; j < len(s) && depth > 0; j++ {
				switch s[j] {
				case '(':
					depth++
				case ')':
					depth--
				}
			}
			if depth == 0 {
				inner := s[i+2 : j-1]
				if v, ok := resolve(inner); ok {
					b.WriteString(v)
				} else {
					b.WriteString(s[i:j])
				}
				i = j
				continue
			}
		}
		b.WriteByte(s[i])
		i++
	}
	return b.String()
}
