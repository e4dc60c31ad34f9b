package packaging

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/goreleaser/nfpm/v2"
	"github.com/goreleaser/nfpm/v2/files"
)

// rpmReplaced are the Fedora/EPEL packages gosgi takes the place of
// (F-10): their binary and the Python and common plugins it has built in.
var rpmReplaced = []string{"uwsgi", "uwsgi-plugin-python3", "uwsgi-plugin-common", "uwsgi-plugin-python3-gevent"}

// RPMRelease is the release of gosgi's rpm (the part after the version).
const RPMRelease = "1"

// RPMInfo is the description of the .rpm: the Fedora/RHEL layout of spec
// distro-layout §7 (F-01..F-10).
func RPMInfo(s Spec) *nfpm.Info {
	src := func(p string) string { return filepath.Join(s.SrcDir, p) }
	bin := func(p string) string { return filepath.Join(s.BinDir, p) }
	mode := func(m os.FileMode) *files.ContentFileInfo {
		return &files.ContentFileInfo{Owner: "root", Group: "root", Mode: m}
	}
	var provides, obsoletes []string
	for _, p := range rpmReplaced {
		provides = append(provides, fmt.Sprintf("%s = %s", p, UpstreamVersion))
		// Unversioned: any build of these is replaced. Obsoletes match
		// package names, so gosgi's own Provides are not affected.
		obsoletes = append(obsoletes, p)
	}
	contents := files.Contents{
		// F-01: /usr/sbin/uwsgi, and the flavoured names (P-10).
		{Source: bin("uwsgi"), Destination: "/usr/sbin/uwsgi", FileInfo: mode(0o755)},
		{Source: "uwsgi", Destination: "/usr/sbin/uwsgi_python3", Type: files.TypeSymlink, FileInfo: mode(0o777)},
		// F-02, F-03: the tyrant emperor and its empty vassal directory.
		{Source: src("rpm/uwsgi.ini"), Destination: "/etc/uwsgi.ini", Type: files.TypeConfigNoReplace, FileInfo: mode(0o644)},
		{Destination: "/etc/uwsgi.d", Type: files.TypeDir, FileInfo: mode(0o755)},
		// F-04, F-05.
		{Source: src("rpm/uwsgi.service"), Destination: "/usr/lib/systemd/system/uwsgi.service", FileInfo: mode(0o644)},
		{Source: src("rpm/uwsgi.tmpfiles"), Destination: "/usr/lib/tmpfiles.d/uwsgi.conf", FileInfo: mode(0o644)},
		{Source: src("rpm/README.Fedora"), Destination: "/usr/share/doc/gosgi/README.Fedora", FileInfo: mode(0o644)},
		// Arch's per-app template, as an example.
		{Source: src("examples/arch/uwsgi@.service"), Destination: "/usr/share/doc/gosgi/examples/uwsgi@.service", FileInfo: mode(0o644)},
	}
	return &nfpm.Info{
		Name:          "gosgi",
		Arch:          s.Arch,
		Platform:      "linux",
		Version:       s.Version,
		Release:       RPMRelease,
		VersionSchema: "none",
		Section:       "System Environment/Daemons",
		Maintainer:    "gosgi developers <gosgi@localhost>",
		Homepage:      "https://github.com/gosgi/gosgi",
		License:       "MIT",
		Description: "drop-in replacement for the uWSGI 2.0 application server\n" +
			"gosgi runs Python WSGI apps with uWSGI's command lines, config files,\n" +
			"signals, logs, stats and uwsgi module, from one binary that serves every\n" +
			"installed Python 3. It replaces the uwsgi and uwsgi-plugin-python3\n" +
			"packages and keeps their layout: /etc/uwsgi.ini (the Emperor in Tyrant\n" +
			"mode), /etc/uwsgi.d and uwsgi.service.",
		MTime: s.MTime,
		Overridables: nfpm.Overridables{
			Provides: provides,
			// nfpm writes Replaces as the rpm Obsoletes tag.
			Replaces: obsoletes,
			Contents: contents,
			Scripts: nfpm.Scripts{
				PreInstall:  src("rpm/scripts/preinstall.sh"),
				PostInstall: src("rpm/scripts/postinstall.sh"),
				PreRemove:   src("rpm/scripts/preremove.sh"),
				PostRemove:  src("rpm/scripts/postremove.sh"),
			},
			RPM: nfpm.RPM{
				Summary:     "Drop-in replacement for the uWSGI 2.0 application server",
				Group:       "System Environment/Daemons",
				Compression: "gzip",
				Packager:    "gosgi developers <gosgi@localhost>",
			},
		},
	}
}

// RPMVersion is the rpm form of a package version: rpm has no place for
// Debian's "+" suffix convention problems, but "-" is reserved for the
// release, so a Debian revision is refused.
func RPMVersion(v string) (string, error) {
	if strings.Contains(v, "-") {
		return "", fmt.Errorf("rpm version %q: '-' separates the release and cannot appear in a version", v)
	}
	return v, nil
}

// BuildRPM writes the .rpm into s.OutDir and returns its path
// (gosgi-<version>-1.x86_64.rpm for amd64).
func BuildRPM(s Spec) (string, error) {
	if s.MTime.IsZero() {
		s.MTime = time.Now()
	}
	if _, err := RPMVersion(s.Version); err != nil {
		return "", err
	}
	if _, err := os.Stat(filepath.Join(s.BinDir, "uwsgi")); err != nil {
		return "", fmt.Errorf("binary uwsgi: %w (build it first)", err)
	}
	return build("rpm", RPMInfo(s), s.OutDir, "")
}
