#!/bin/sh
# gosgi %pre: the uwsgi account the emperor runs as (F-06).
getent group uwsgi >/dev/null || groupadd -r uwsgi
getent passwd uwsgi >/dev/null || \
	useradd -r -g uwsgi -d /run/uwsgi -s /sbin/nologin -c "uWSGI daemon user" uwsgi
exit 0
