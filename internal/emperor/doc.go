// Package emperor is gosgi's Emperor: a supervisor that watches one or
// more directories or glob patterns of vassal configs (ini, xml, yaml,
// json, and any emperor-extra-extension) and runs one child uwsgi
// instance per file, as uWSGI 2.0's emperor does (spec distro-layout §9,
// T-01..T-20; uwsgi-core §3.7, DP-4, DP-5).
//
// A new file starts a vassal, a newer mtime reloads it (byte 1 on the
// emperor pipe), a removed file stops it (byte 0); a vassal that dies is
// respawned with the emperor-throttle backoff. Vassals talk back over the
// same socketpair (UWSGI_EMPEROR_FD): 1 spawned, 5 accepting, 17 loyal,
// 22 voluntary shutdown, 26 heartbeat. Directories are watched with
// inotify (fsnotify) for prompt reaction, and rescanned every
// emperor-freq seconds as uWSGI does, so nothing is missed if a watch
// fails or a directory appears later.
//
// Tyrant mode runs each vassal as its file's owner and group, refusing
// root-owned files; unlike uWSGI 2.0 (which calls setgroups(0, NULL):
// uWSGI issues #2099, #752) the vassal gets the owner's supplementary
// groups, as a uid=/gid= drop would give it (T-16). no-initgroups
// restores uWSGI 2.0's empty list.
//
// The package does not parse vassal configs (the vassal does), does not
// implement the scheme monitors of uWSGI plugins (pg://, mongodb://,
// amqp://, zmq://), broodlord/zerg mode, emperor-use-clone namespaces,
// or vassal hooks.
//
// On-demand vassals (emperor-on-demand-*) are started on the first
// connection to a socket the emperor holds, passed as their stdin.
//
// emperor-cap limits the capability bounding set of vassals (T-19): the
// drop is made once on the thread that forks every vassal.
package emperor
