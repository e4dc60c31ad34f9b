// Package packaging builds gosgi's packages with nfpm's library: one
// description per distribution (the files of its layout, the relations
// that let gosgi replace its uwsgi packages, the maintainer scripts),
// written as dist/gosgi_<version>_<arch>.deb (Debian layout, with the
// uwsgi-emperor files) and dist/gosgi-<version>-<release>.<arch>.rpm
// (Fedora/RHEL layout).
//
// It packages binaries built elsewhere (bin/uwsgi, bin/uwsgi-service); it
// does not build them or sign packages.
package packaging

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/goreleaser/nfpm/v2"
	_ "github.com/goreleaser/nfpm/v2/deb" // registers "deb"
	"github.com/goreleaser/nfpm/v2/files"
)

// UpstreamVersion is the uWSGI release whose behaviour gosgi reproduces;
// package versions sort just above Debian's build of it.
const UpstreamVersion = "2.0.21"

// replaced are Debian's uwsgi packages gosgi takes the place of (P-20).
var replaced = []string{"uwsgi", "uwsgi-core", "uwsgi-emperor", "uwsgi-plugin-python3", "uwsgi-plugin-gevent-python3"}

// Spec says what to package and where.
type Spec struct {
	// Version is the Debian version, e.g. "2.0.21+gosgi1".
	Version string
	// Arch is the Debian architecture (amd64).
	Arch string
	// SrcDir is the repository root (debian/, init.d/, etc/, README.Debian).
	SrcDir string
	// BinDir holds the built uwsgi and uwsgi-service binaries.
	BinDir string
	// OutDir receives the package.
	OutDir string
	// MTime stamps every file, for reproducible packages (zero: now).
	MTime time.Time
}

// DefaultVersion is the package version for gosgi release n.
func DefaultVersion(n int) string {
	return fmt.Sprintf("%s+gosgi%d", UpstreamVersion, n)
}

// DebInfo is the description of the .deb.
func DebInfo(s Spec) *nfpm.Info {
	src := func(p string) string { return filepath.Join(s.SrcDir, p) }
	bin := func(p string) string { return filepath.Join(s.BinDir, p) }
	mode := func(m os.FileMode) *files.ContentFileInfo {
		return &files.ContentFileInfo{Owner: "root", Group: "root", Mode: m}
	}
	var provides []string
	for _, p := range replaced {
		provides = append(provides, fmt.Sprintf("%s (= %s)", p, s.Version))
	}
	provides = append(provides, "httpd-wsgi3")

	contents := files.Contents{
		// The server; /usr/bin/uwsgi points here through alternatives
		// (postinst), the flavoured names directly (P-10).
		{Source: bin("uwsgi"), Destination: "/usr/bin/gosgi", FileInfo: mode(0o755)},
		{Source: "gosgi", Destination: "/usr/bin/uwsgi_python3", Type: files.TypeSymlink, FileInfo: mode(0o777)},
		{Source: "gosgi", Destination: "/usr/bin/uwsgi_python311", Type: files.TypeSymlink, FileInfo: mode(0o777)},
		{Source: bin("uwsgi-service"), Destination: "/usr/sbin/uwsgi-service", FileInfo: mode(0o755)},

		// Conffiles (D-08..D-11).
		{Source: src("init.d/uwsgi"), Destination: "/etc/init.d/uwsgi", Type: files.TypeConfig, FileInfo: mode(0o755)},
		{Source: src("debian/uwsgi.default"), Destination: "/etc/default/uwsgi", Type: files.TypeConfig, FileInfo: mode(0o644)},
		{Source: src("debian/uwsgi.logrotate"), Destination: "/etc/logrotate.d/uwsgi", Type: files.TypeConfig, FileInfo: mode(0o644)},
		{Source: src("etc/uwsgi/apps-available/README"), Destination: "/etc/uwsgi/apps-available/README", Type: files.TypeConfig, FileInfo: mode(0o644)},
		{Source: src("etc/uwsgi/apps-enabled/README"), Destination: "/etc/uwsgi/apps-enabled/README", Type: files.TypeConfig, FileInfo: mode(0o644)},

		// The uwsgi-emperor package's files (D-18, D-19, E-01..E-04).
		{Source: src("init.d/uwsgi-emperor"), Destination: "/etc/init.d/uwsgi-emperor", Type: files.TypeConfig, FileInfo: mode(0o755)},
		{Source: src("debian/uwsgi-emperor.default"), Destination: "/etc/default/uwsgi-emperor", Type: files.TypeConfig, FileInfo: mode(0o644)},
		{Source: src("debian/uwsgi-emperor.logrotate"), Destination: "/etc/logrotate.d/uwsgi-emperor", Type: files.TypeConfig, FileInfo: mode(0o644)},
		{Source: src("debian/emperor.ini"), Destination: "/etc/uwsgi-emperor/emperor.ini", Type: files.TypeConfig, FileInfo: mode(0o644)},
		{Source: src("etc/uwsgi-emperor/vassals/README"), Destination: "/etc/uwsgi-emperor/vassals/README", Type: files.TypeConfig, FileInfo: mode(0o644)},
		{Source: src("debian/uwsgi-emperor.service"), Destination: "/lib/systemd/system/uwsgi-emperor.service", FileInfo: mode(0o644)},
		{Source: src("examples/arch/uwsgi@.service"), Destination: "/usr/share/doc/gosgi/examples/uwsgi@.service", FileInfo: mode(0o644)},

		// Not a conffile: replaced on upgrade by design (D-12).
		{Source: src("debian/default.ini"), Destination: "/usr/share/uwsgi/conf/default.ini", FileInfo: mode(0o644)},

		// Units (D-15, S-*).
		{Source: src("debian/uwsgi.service"), Destination: "/lib/systemd/system/uwsgi.service", FileInfo: mode(0o644)},
		{Source: src("debian/uwsgi-app@.service"), Destination: "/lib/systemd/system/uwsgi-app@.service", FileInfo: mode(0o644)},
		{Source: src("debian/uwsgi-app@.socket"), Destination: "/lib/systemd/system/uwsgi-app@.socket", FileInfo: mode(0o644)},

		{Source: src("README.Debian"), Destination: "/usr/share/doc/gosgi/README.Debian", FileInfo: mode(0o644)},

		// Log directories (D-14).
		{Destination: "/var/log/uwsgi", Type: files.TypeDir, FileInfo: mode(0o755)},
		{Destination: "/var/log/uwsgi/app", Type: files.TypeDir, FileInfo: mode(0o755)},
	}

	info := &nfpm.Info{
		Name:          "gosgi",
		Arch:          s.Arch,
		Platform:      "linux",
		Version:       s.Version,
		VersionSchema: "none",
		Section:       "httpd",
		Priority:      "optional",
		Maintainer:    "gosgi developers <gosgi@localhost>",
		Homepage:      "https://github.com/gosgi/gosgi",
		Description: "drop-in replacement for the uWSGI 2.0 application server\n" +
			"gosgi runs Python WSGI apps with uWSGI's command lines, config files,\n" +
			"signals, logs, stats and uwsgi module, from one binary that serves every\n" +
			"installed Python 3. It replaces the uwsgi, uwsgi-core, uwsgi-emperor and\n" +
			"uwsgi-plugin-python3 packages and keeps their layout: /etc/uwsgi/apps-*,\n" +
			"/etc/init.d/uwsgi and the uwsgi-app@ systemd units.",
		MTime: s.MTime,
		Overridables: nfpm.Overridables{
			Provides:  provides,
			Conflicts: replaced,
			Replaces:  replaced,
			// gosgi dlopens the libpython a config asks for; Debian 12's
			// default Python is what plugins = python3 selects (P-03).
			Depends:  []string{"libc6", "python3", "libpython3.11"},
			Suggests: []string{"nginx | apache2"},
			Contents: contents,
			Scripts: nfpm.Scripts{
				PreInstall:  src("debian/maintscripts/preinst"),
				PostInstall: src("debian/maintscripts/postinst"),
				PreRemove:   src("debian/maintscripts/prerm"),
				PostRemove:  src("debian/maintscripts/postrm"),
			},
		},
	}
	return info
}

// BuildDeb writes the .deb into s.OutDir and returns its path.
func BuildDeb(s Spec) (string, error) {
	if s.MTime.IsZero() {
		s.MTime = time.Now()
	}
	for _, b := range []string{"uwsgi", "uwsgi-service"} {
		if _, err := os.Stat(filepath.Join(s.BinDir, b)); err != nil {
			return "", fmt.Errorf("binary %s: %w (build it first)", b, err)
		}
	}
	name := fmt.Sprintf("gosgi_%s_%s.deb", strings.ReplaceAll(s.Version, ":", "%3a"), s.Arch)
	return build("deb", DebInfo(s), s.OutDir, name)
}

// build writes the package of the given format into dir; name "" means
// nfpm's conventional file name. A failed build leaves no partial file.
func build(format string, spec *nfpm.Info, dir, name string) (string, error) {
	info := nfpm.WithDefaults(spec)
	if err := nfpm.PrepareForPackager(info, format); err != nil {
		return "", fmt.Errorf("prepare %s: %w", format, err)
	}
	pkg, err := nfpm.Get(format)
	if err != nil {
		return "", fmt.Errorf("%s packager: %w", format, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create %s: %w", dir, err)
	}
	if name == "" {
		name = pkg.ConventionalFileName(info)
	}
	out := filepath.Join(dir, name)
	f, err := os.Create(out)
	if err != nil {
		return "", fmt.Errorf("create %s: %w", out, err)
	}
	if err := pkg.Package(info, f); err != nil {
		f.Close()
		os.Remove(out)
		return "", fmt.Errorf("build %s: %w", out, err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("write %s: %w", out, err)
	}
	return out, nil
}
