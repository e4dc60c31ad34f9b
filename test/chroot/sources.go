package chroot

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// ParseSources returns the archive URI that apt source data lists for
// suite with the main component and type deb, or "" if none. deb822
// selects the .sources format (stanzas of Key: value lines); otherwise
// the one-line .list format ("deb [options] URI SUITE COMPONENT...").
func ParseSources(data []byte, deb822 bool, suite string) string {
	if deb822 {
		return parseDeb822(data, suite)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != "deb" {
			continue
		}
		f = f[1:]
		// Options are one bracketed group, possibly split by spaces.
		if len(f) > 0 && strings.HasPrefix(f[0], "[") {
			for len(f) > 0 && !strings.HasSuffix(f[0], "]") {
				f = f[1:]
			}
			if len(f) > 0 {
				f = f[1:]
			}
		}
		if len(f) >= 3 && f[1] == suite && contains(f[2:], "main") && isHTTP(f[0]) {
			return f[0]
		}
	}
	return ""
}

func parseDeb822(data []byte, suite string) string {
	// Stanzas are separated by blank lines; continuation lines start
	// with white space and extend the previous field.
	for _, stanza := range splitStanzas(data) {
		fields := map[string]string{}
		last := ""
		for _, line := range strings.Split(stanza, "\n") {
			if strings.HasPrefix(line, "#") {
				continue
			}
			if (strings.HasPrefix(line, " ") || strings.HasPrefix(line, "\t")) && last != "" {
				fields[last] += " " + strings.TrimSpace(line)
				continue
			}
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			last = strings.ToLower(strings.TrimSpace(k))
			fields[last] = strings.TrimSpace(v)
		}
		if e := strings.ToLower(fields["enabled"]); e == "no" || e == "false" {
			continue
		}
		if !contains(strings.Fields(fields["types"]), "deb") ||
			!contains(strings.Fields(fields["suites"]), suite) ||
			!contains(strings.Fields(fields["components"]), "main") {
			continue
		}
		for _, u := range strings.Fields(fields["uris"]) {
			if isHTTP(u) {
				return u
			}
		}
	}
	return ""
}

func splitStanzas(data []byte) []string {
	var out []string
	var cur []string
	for _, line := range strings.Split(strings.ReplaceAll(string(data), "\r\n", "\n"), "\n") {
		if strings.TrimSpace(line) == "" {
			if len(cur) > 0 {
				out = append(out, strings.Join(cur, "\n"))
				cur = nil
			}
			continue
		}
		cur = append(cur, line)
	}
	if len(cur) > 0 {
		out = append(out, strings.Join(cur, "\n"))
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// isHTTP keeps mirrors debootstrap can fetch from (not file:, cdrom:).
func isHTTP(u string) bool {
	return strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://")
}

// HostMirror returns the archive the host's apt uses for suite, from
// dir/sources.list and dir/sources.list.d/*.{list,sources} (dir is
// normally /etc/apt), so the chroot is built from the same place.
func HostMirror(dir, suite string) (string, error) {
	type src struct {
		path   string
		deb822 bool
	}
	files := []src{{filepath.Join(dir, "sources.list"), false}}
	for _, pat := range []struct {
		glob   string
		deb822 bool
	}{{"*.sources", true}, {"*.list", false}} {
		m, err := filepath.Glob(filepath.Join(dir, "sources.list.d", pat.glob))
		if err != nil {
			return "", fmt.Errorf("apt sources: %w", err)
		}
		sort.Strings(m)
		for _, p := range m {
			files = append(files, src{p, pat.deb822})
		}
	}
	for _, f := range files {
		data, err := os.ReadFile(f.path)
		if err != nil {
			continue
		}
		if u := ParseSources(data, f.deb822, suite); u != "" {
			return u, nil
		}
	}
	return "", fmt.Errorf("no deb source for %s (main) in %s", suite, dir)
}
