package config

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/gosgi/gosgi/internal/options"
)

// magicEnv holds the process-wide values of the magic variables, fixed at
// startup (CF-20).
type magicEnv struct {
	cwd, hostname, binary string
	cpus                  int
	start                 time.Time
	uid, gid              int
	user, group           string
}

func newMagicEnv() magicEnv {
	m := magicEnv{cpus: runtime.NumCPU(), start: time.Now(), uid: os.Getuid(), gid: os.Getgid()}
	m.cwd, _ = os.Getwd()
	m.hostname, _ = os.Hostname()
	m.binary, _ = os.Executable()
	if u, err := user.LookupId(strconv.Itoa(m.uid)); err == nil {
		m.user = u.Username
	}
	if g, err := user.LookupGroupId(strconv.Itoa(m.gid)); err == nil {
		m.group = g.Name
	}
	return m
}

// djb33x is uWSGI's string hash used by %j.
func djb33x(s string) uint32 {
	h := uint32(5381)
	for i := 0; i < len(s); i++ {
		h = (h*33 ^ uint32(s[i]))
	}
	return h
}

// fileVars returns the per-file magic values for ref.
func fileVars(ref *fileRef) map[byte]string {
	v := map[byte]string{}
	if ref == nil {
		return v
	}
	abs := ref.abs
	dir := filepath.Dir(abs)
	if !strings.HasSuffix(dir, "/") {
		dir += "/"
	}
	base := filepath.Base(ref.path)
	ext := filepath.Ext(base)
	v['p'] = abs
	v['s'] = base
	v['n'] = strings.TrimSuffix(base, ext)
	v['e'] = strings.TrimPrefix(ext, ".")
	v['d'] = dir
	v['c'] = filepath.Base(strings.TrimSuffix(dir, "/"))
	v['x'] = ref.section
	v['o'] = ref.path // the docs say file:section; 2.0.21 gives the path (QK-7)
	v['i'] = strconv.FormatUint(ref.ino, 10)
	v['j'] = fmt.Sprintf("%08X", djb33x(abs))
	parts := strings.Split(strings.Trim(dir, "/"), "/")
	for i := 0; i < 10; i++ {
		if i < len(parts) {
			v[byte('0'+i)] = parts[i]
		}
	}
	return v
}

// expand substitutes magic variables in a config file's text as it is
// read. %( is kept for the %(name) pass; unknown %<char> vanishes (CF-21).
func (m magicEnv) expand(text string, ref, first *fileRef) string {
	if !strings.Contains(text, "%") {
		return text
	}
	cur := fileVars(ref)
	top := fileVars(first)
	var b strings.Builder
	for i := 0; i < len(text); i++ {
		c := text[i]
		if c != '%' || i+1 >= len(text) {
			b.WriteByte(c)
			continue
		}
		i++
		k := text[i]
		switch {
		case k == '(':
			b.WriteString("%(")
		case k == '%':
			b.WriteByte('%')
		case k == '[':
			b.WriteByte(0x1b)
		case k == 'v':
			b.WriteString(m.cwd)
		case k == 'h':
			b.WriteString(m.hostname)
		case k == 'k':
			b.WriteString(strconv.Itoa(m.cpus))
		case k == 't':
			b.WriteString(strconv.FormatInt(m.start.Unix(), 10))
		case k == 'T':
			b.WriteString(strconv.FormatInt(m.start.UnixMicro(), 10))
		case k == 'V':
			b.WriteString(options.Version)
		case k == 'u':
			b.WriteString(strconv.Itoa(m.uid))
		case k == 'U':
			b.WriteString(m.user)
		case k == 'g':
			b.WriteString(strconv.Itoa(m.gid))
		case k == 'G':
			b.WriteString(m.group)
		case k == 'b':
			b.WriteString(m.binary)
		case strings.IndexByte("psnedcxoij0123456789", k) >= 0:
			b.WriteString(cur[k])
		case strings.IndexByte("PSNEDCXOIJ", k) >= 0:
			b.WriteString(top[k+('a'-'A')])
		default:
			// Unknown: both characters disappear (QK-14).
		}
	}
	return b.String()
}
