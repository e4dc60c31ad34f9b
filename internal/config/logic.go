package config

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// openBlock starts an if-* or for* block (CF-35..CF-37). Entries read
// until the matching end are kept, dropped or repeated.
func (l *loader) openBlock(name string, e Entry) error {
	if l.logic != nil {
		return &Exit{Code: 1, Stderr: fmt.Sprintf("recursive logic in options is not supported (option = %s)\n", e.Key)}
	}
	b := &logicBlock{opt: e.Key}
	v := e.Value
	if strings.HasPrefix(name, "for") {
		b.kind = "for"
		switch name {
		case "for":
			b.items = strings.Fields(v)
		case "for-glob":
			m, err := filepath.Glob(v)
			if err != nil {
				return fmt.Errorf("%s: for-glob %q: %w", e.Source, v, err)
			}
			b.items = m
		case "for-times":
			for i := 1; i <= Atoi(v); i++ {
				b.items = append(b.items, strconv.Itoa(i))
			}
		case "for-readline":
			f, err := os.Open(v)
			if err != nil {
				return &Exit{Code: 1, Stderr: fmt.Sprintf("open(%q): %s\n", v, errText(err))}
			}
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				if line := strings.TrimRight(sc.Text(), "\r"); line != "" {
					b.items = append(b.items, line)
				}
			}
			f.Close()
		}
		l.logic = b
		return nil
	}
	b.kind = "if"
	ok, val, err := l.test(name, v)
	if err != nil {
		return fmt.Errorf("%s: %s: %w", e.Source, e.Key, err)
	}
	b.ok, b.value = ok, val
	l.logic = b
	return nil
}

// test evaluates an if-* condition and returns the %(_) value.
func (l *loader) test(name, v string) (bool, string, error) {
	neg := strings.HasPrefix(name, "if-not-")
	base := strings.Replace(name, "if-not-", "if-", 1)
	var ok bool
	val := v
	switch base {
	case "if-env":
		k, want, hasWant := strings.Cut(v, "=")
		got, set := l.env[k]
		ok = set && (!hasWant || got == want)
		if set {
			val = got
		}
	case "if-opt":
		k, want, hasWant := strings.Cut(v, "=")
		ns := names(k)
		for _, e := range l.entries {
			if ns[e.Key] && (!hasWant || e.Value == want) {
				ok, val = true, e.Value
			}
		}
	case "if-exists":
		_, err := os.Stat(v)
		ok = err == nil
	case "if-file":
		st, err := os.Stat(v)
		ok = err == nil && st.Mode().IsRegular()
	case "if-dir":
		st, err := os.Stat(v)
		ok = err == nil && st.IsDir()
	case "if-reload":
		ok = Atoi(l.env["UWSGI_RELOADS"]) > 0
	case "if-hostname":
		h, _ := os.Hostname()
		ok = h == v
	case "if-hostname-match":
		re, err := regexp.Compile(v)
		if err != nil {
			return false, "", fmt.Errorf("bad regexp %q: %w", v, err)
		}
		h, _ := os.Hostname()
		ok = re.MatchString(h)
	case "if-plugin":
		ok = l.names[v]
	default:
		return false, "", fmt.Errorf("unknown logic option %s", name)
	}
	if neg {
		ok = !ok
	}
	return ok, val, nil
}

func isEnd(key, kind string) bool {
	switch key {
	case "endif", "end-if":
		return kind == "if"
	case "endfor", "end-for":
		return kind == "for"
	case "end":
		return true
	}
	return false
}

// addInBlock handles an entry read while a block is open.
func (l *loader) addInBlock(e Entry) error {
	b := l.logic
	if isEnd(e.Key, b.kind) {
		l.logic = nil
		e.immediate = true
		l.entries = append(l.entries, e)
		if b.kind == "for" {
			return l.replay(b)
		}
		return nil
	}
	if b.kind == "if" {
		if !b.ok {
			return nil
		}
		e.Value = strings.ReplaceAll(e.Value, "%(_)", b.value)
		l.logic = nil
		err := l.add(e)
		if l.logic == nil {
			l.logic = b
		} else {
			return &Exit{Code: 1, Stderr: fmt.Sprintf("recursive logic in options is not supported (option = %s)\n", e.Key)}
		}
		return err
	}
	if strings.HasPrefix(e.Key, "if-") || strings.HasPrefix(e.Key, "for") {
		return &Exit{Code: 1, Stderr: fmt.Sprintf("recursive logic in options is not supported (option = %s)\n", e.Key)}
	}
	b.body = append(b.body, e)
	return nil
}

// replay adds a for block's body once per item with %(_) replaced.
func (l *loader) replay(b *logicBlock) error {
	for _, item := range b.items {
		for _, e := range b.body {
			e.Value = strings.ReplaceAll(e.Value, "%(_)", item)
			e.Key = strings.ReplaceAll(e.Key, "%(_)", item)
			if err := l.add(e); err != nil {
				return err
			}
		}
	}
	return nil
}
