#!/bin/sh
# gosgi %preun ($1 = 0 on erase): what %systemd_preun does.
if [ "$1" -eq 0 ] && [ -x /usr/bin/systemctl ]; then
	systemctl --no-reload disable --now uwsgi.service >/dev/null 2>&1 || :
fi
exit 0
