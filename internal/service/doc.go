// Package service is the Debian instance controller behind /etc/init.d/uwsgi
// and uwsgi-service: it finds the app configurations under
// /etc/uwsgi/<ns>s-enabled, starts one daemonized uwsgi per configuration
// with the inherited default config and the UWSGI_DEB_* environment, and
// stops, reloads and reports on those instances through their pidfiles
// under /run/uwsgi/<ns>/<name>/, printing Debian's progress markers and
// returning its exit codes.
//
// It reproduces the behaviour of Debian's uwsgi 2.0.21 scripts (spec
// distro-layout §2, items C-*), except where those scripts are broken; each
// such difference is listed in README.Debian. It does not parse or merge
// uWSGI configurations (the server does that), does not supervise the
// instances once started (the uwsgi master does), and does not talk to
// systemd (the shipped units call it).
package service
