#!/bin/sh
# gosgi %post ($1 = 1 on install, 2 on upgrade): what %systemd_post does.
if [ "$1" -eq 1 ] && [ -x /usr/bin/systemctl ]; then
	systemctl --no-reload preset uwsgi.service >/dev/null 2>&1 || :
fi
if [ -x /usr/bin/systemd-tmpfiles ]; then
	systemd-tmpfiles --create /usr/lib/tmpfiles.d/uwsgi.conf >/dev/null 2>&1 || :
fi
exit 0
