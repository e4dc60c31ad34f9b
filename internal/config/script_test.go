package config

import (
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// uwsgiMain is the small main the scripts run as "uwsgi": it loads the
// configuration like cmd/uwsgi does, handles *Exit, and prints what a
// master would need to show (--show-config, warnings).
func uwsgiMain() {
	c, err := Load(os.Args, os.Environ(), os.Stderr)
	var ex *Exit
	if errors.As(err, &ex) {
		os.Stdout.WriteString(ex.Stdout)
		os.Stderr.WriteString(ex.Stderr)
		os.Exit(ex.Code)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Stdout.WriteString(c.Stdout)
	for _, w := range c.Warnings() {
		fmt.Fprintln(os.Stderr, w)
	}
	if c.Bool("show-config") {
		c.WriteShowConfig(os.Stderr)
	}
}

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){"uwsgi": uwsgiMain})
}

// TestScripts runs the command-line behaviours in testdata/script.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{Dir: "testdata/script"})
}
