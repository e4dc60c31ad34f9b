package service

import "path/filepath"

// Layout is where the controller finds configs, run files, logs and the
// server. Production values are Debian's (DebianLayout); every field can
// be pointed elsewhere so the controller runs in a scratch tree.
type Layout struct {
	// ConfDir holds the <ns>s-enabled directories (/etc/uwsgi).
	ConfDir string
	// RunDir holds <ns>/<name>/{pid,socket} (/run/uwsgi). It must agree
	// with the pidfile option of the inherited config.
	RunDir string
	// LogDir holds <ns>/<name>.log (/var/log/uwsgi).
	LogDir string
	// Daemon is the server executable (/usr/bin/uwsgi).
	Daemon string
	// DefaultsFile is the settings file (/etc/default/uwsgi).
	DefaultsFile string
	// SystemdDir is where enabled units are linked (/etc/systemd/system);
	// apps enabled there as uwsgi-app@NAME units are left out of "all".
	// Empty: never.
	SystemdDir string
}

// DebianLayout returns the paths of Debian's uwsgi package (C-03).
func DebianLayout() Layout {
	return Layout{
		ConfDir:      "/etc/uwsgi",
		RunDir:       "/run/uwsgi",
		LogDir:       "/var/log/uwsgi",
		Daemon:       "/usr/bin/uwsgi",
		DefaultsFile: "/etc/default/uwsgi",
		SystemdDir:   DefaultSystemdDir,
	}
}

// ProcessName is the kernel comm the server's master must carry (C-31):
// the daemon's base name, cut to the kernel's 15 characters.
func (l Layout) ProcessName() string {
	n := filepath.Base(l.Daemon)
	if len(n) > 15 {
		n = n[:15]
	}
	return n
}
