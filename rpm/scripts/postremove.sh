#!/bin/sh
# gosgi %postun ($1 >= 1 on upgrade): what %systemd_postun_with_restart does.
if [ "$1" -ge 1 ] && [ -x /usr/bin/systemctl ]; then
	systemctl try-restart uwsgi.service >/dev/null 2>&1 || :
fi
exit 0
