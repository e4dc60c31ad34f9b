// Command uwsgi is gosgi's server: a drop-in replacement for the uWSGI 2.0
// binary. The same executable is the master, the Python zygote (entered in a
// C constructor before Go starts) and every worker.
package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/gosgi/gosgi/internal/config"
	"github.com/gosgi/gosgi/internal/embed"
	"github.com/gosgi/gosgi/internal/emperor"
	"github.com/gosgi/gosgi/internal/master"
	"github.com/gosgi/gosgi/internal/worker"
)

func main() {
	// os.Args strings share memory with the process title (embed.SetTitle):
	// keep a copy of our own.
	args := make([]string, len(os.Args))
	for i, a := range os.Args {
		args[i] = strings.Clone(a)
	}
	os.Exit(run(args))
}

func run(args []string) int {
	if embed.IsWorker() {
		return worker.Run()
	}
	cfg, err := config.Load(args, os.Environ(), os.Stderr)
	if err != nil {
		var exit *config.Exit
		if errors.As(err, &exit) {
			fmt.Fprint(os.Stdout, exit.Stdout)
			fmt.Fprint(os.Stderr, exit.Stderr)
			return exit.Code
		}
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if cfg.Has("emperor") { // the same binary supervising vassals (DESIGN §7)
		return emperor.Run(cfg, args)
	}
	return master.Run(cfg, args)
}
