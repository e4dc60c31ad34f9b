package service

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// DefaultSystemdDir is where `systemctl enable` links units.
const DefaultSystemdDir = "/etc/systemd/system"

// HandedToSystemd reports whether app/name is enabled as its own
// uwsgi-app@name unit (socket or service) under dir. Such an app belongs
// to systemd: the "all instances" commands of uwsgi.service leave it
// alone, otherwise both would start it at boot and the second would bind
// over the first's socket.
func HandedToSystemd(dir, name string) bool {
	if dir == "" {
		return false
	}
	wants, err := filepath.Glob(filepath.Join(dir, "*.wants"))
	if err != nil {
		return false
	}
	for _, w := range wants {
		for _, inst := range []string{name, SystemdEscape(name)} {
			for _, suffix := range []string{".socket", ".service"} {
				if _, err := os.Lstat(filepath.Join(w, "uwsgi-app@"+inst+suffix)); err == nil {
					return true
				}
			}
		}
	}
	return false
}

// SystemdEscape escapes a string for use as a unit instance name, as
// systemd-escape does: "/" becomes "-", bytes outside [A-Za-z0-9:_.] and a
// leading "." become \xNN.
func SystemdEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '/':
			b.WriteByte('-')
		case c == '.' && i == 0:
			fmt.Fprintf(&b, `\x%02x`, c)
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == ':', c == '_', c == '.':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, `\x%02x`, c)
		}
	}
	return b.String()
}
