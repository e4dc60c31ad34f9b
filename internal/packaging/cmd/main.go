// Command cmd builds gosgi's .deb or .rpm from bin/ and the distribution
// files:
//
//	go run ./internal/packaging/cmd --version 2.0.21+gosgi1 --out dist
//	go run ./internal/packaging/cmd --format rpm --arch amd64
package main

import (
	"fmt"
	"os"
	"time"

	"github.com/alecthomas/kong"

	"github.com/gosgi/gosgi/internal/packaging"
)

type cli struct {
	Format  string `default:"deb" enum:"deb,rpm" help:"Package format (deb or rpm)."`
	Version string `default:"${version}" help:"Package version."`
	Arch    string `default:"amd64" help:"Architecture, Debian's name (amd64)."`
	Src     string `default:"." type:"existingdir" help:"Repository root."`
	Bin     string `default:"bin" help:"Directory holding the uwsgi and uwsgi-service binaries."`
	Out     string `default:"dist" help:"Output directory."`
	Epoch   int64  `env:"SOURCE_DATE_EPOCH" help:"Timestamp for every file (seconds since 1970), for reproducible builds."`
}

func main() {
	var c cli
	kong.Parse(&c,
		kong.Name("gosgi-pkg"),
		kong.Description("Build dist/gosgi_<version>_<arch>.deb or dist/gosgi-<version>-1.<arch>.rpm."),
		kong.Vars{"version": packaging.DefaultVersion(1)},
	)
	spec := packaging.Spec{Version: c.Version, Arch: c.Arch, SrcDir: c.Src, BinDir: c.Bin, OutDir: c.Out}
	if c.Epoch > 0 {
		spec.MTime = time.Unix(c.Epoch, 0).UTC()
	}
	build := packaging.BuildDeb
	if c.Format == "rpm" {
		build = packaging.BuildRPM
	}
	out, err := build(spec)
	if err != nil {
		fmt.Fprintf(os.Stderr, "gosgi-pkg: %v\n", err)
		os.Exit(1)
	}
	fmt.Println(out)
}
