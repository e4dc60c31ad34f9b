// Package pyworker holds the Python source that gosgi runs inside its
// Python processes: the loader that prepares the interpreter and imports the
// apps, and the `uwsgi` module apps import. The master ships these files to
// the zygote in its boot bundle; nothing here runs in the Go master.
package pyworker

import "embed"

//go:embed *.py
var files embed.FS

// Files returns the embedded Python sources by file name.
func Files() map[string]string {
	entries, err := files.ReadDir(".")
	if err != nil {
		panic(err) // embedded at build time: cannot fail
	}
	out := make(map[string]string, len(entries))
	for _, e := range entries {
		b, err := files.ReadFile(e.Name())
		if err != nil {
			panic(err)
		}
		out[e.Name()] = string(b)
	}
	return out
}
