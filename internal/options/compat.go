package options

import (
	"fmt"
	"io"
	"strings"
)

// WriteCompat writes docs/compat.md: header (hand-written Markdown) followed
// by one table per plugin with a row per option.
func WriteCompat(w io.Writer, header string) error {
	var b strings.Builder
	b.WriteString(strings.TrimRight(header, "\n") + "\n")
	titles := []struct{ plugin, title string }{
		{PluginCore, "Core options"},
		{PluginPython, "Python plugin options (`--plugin python3`)"},
		{PluginHTTP, "HTTP plugin options (`--plugin http`)"},
		{PluginGevent, "gevent plugin options (`--plugin gevent_python3`)"},
	}
	for _, t := range titles {
		counts := map[Status]int{}
		for _, o := range table {
			if o.Plugin == t.plugin {
				counts[o.Status]++
			}
		}
		fmt.Fprintf(&b, "\n## %s\n\n%d implemented, %d warn, %d refused.\n\n", t.title,
			counts[Implemented], counts[Warn], counts[Refused])
		b.WriteString("| option | aliases | short | argument | repeat | status | what it does / why |\n")
		b.WriteString("|---|---|---|---|---|---|---|\n")
		for _, o := range table {
			if o.Plugin != t.plugin {
				continue
			}
			short := ""
			if o.Short != 0 {
				short = "`-" + string(o.Short) + "`"
			}
			var al []string
			for _, a := range o.Aliases {
				al = append(al, "`"+a+"`")
			}
			repeat := "last"
			if o.List {
				repeat = "list"
			}
			what := o.Help
			if o.Reason != "" {
				what += "; " + o.Reason
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s | %s | %s |\n", o.Name, strings.Join(al, " "), short,
				o.Kind, repeat, o.Status, escapeCell(what))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func escapeCell(s string) string { return strings.ReplaceAll(s, "|", "\\|") }
