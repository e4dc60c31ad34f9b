// Command gendoc writes docs/compat.md from the option table and the
// hand-written header (compat-header.md). Run it with
// `go generate ./internal/options`.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"

	"github.com/gosgi/gosgi/internal/options"
)

func main() {
	header := flag.String("header", "gendoc/compat-header.md", "hand-written header")
	out := flag.String("o", "../../docs/compat.md", "output file")
	flag.Parse()
	h, err := os.ReadFile(*header)
	if err != nil {
		fmt.Fprintf(os.Stderr, "gendoc: read header: %v\n", err)
		os.Exit(1)
	}
	var b bytes.Buffer
	if err := options.WriteCompat(&b, string(h)); err != nil {
		fmt.Fprintf(os.Stderr, "gendoc: %v\n", err)
		os.Exit(1)
	}
	if err := os.WriteFile(*out, b.Bytes(), 0o644); err != nil {
		fmt.Fprintf(os.Stderr, "gendoc: write %s: %v\n", *out, err)
		os.Exit(1)
	}
}
