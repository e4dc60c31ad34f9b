// Command cmd builds gosgi's .deb from bin/ and the distribution files:
//
//	go run ./internal/packaging/cmd --version 2.0.21+gosgi1 --out dist
package main

import (
	"fmt"
	"os"
	"time"

	"github.com/alecthomas/kong"

	"github.com/gosgi/gosgi/internal/packaging"
)

type cli struct {
	Version string `default:"${version}" help:"Debian package version."`
	Arch    string `default:"amd64" help:"Debian architecture."`
	Src     string `default:"." type:"existingdir" help:"Repository root."`
	Bin     string `default:"bin" help:"Directory holding the uwsgi and uwsgi-service binaries."`
	Out     string `default:"dist" help:"Output directory."`
	Epoch   int64  `env:"SOURCE_DATE_EPOCH" help:"Timestamp for every file (seconds since 1970), for reproducible builds."`
}

func main() {
	var c cli
	kong.Parse(&c,
		kong.Name("gosgi-pkg"),
		kong.Description("Build dist/gosgi_<version>_<arch>.deb."),
		kong.Vars{"version": packaging.DefaultVersion(1)},
	)
	spec := packaging.Spec{Version: c.Version, Arch: c.Arch, SrcDir: c.Src, BinDir: c.Bin, OutDir: c.Out}
	if c.Epoch > 0 {
		spec.MTime = time.Unix(c.Epoch, 0).UTC()
	}
	out, err := packaging.BuildDeb(spec)
	if err != nil {
		fmt.Fprintf(os.Stderr, "gosgi-pkg: %v\n", err)
		os.Exit(1)
	}
	fmt.Println(out)
}
