#!/bin/bash
# pg.sh: a throwaway PostgreSQL for the tests, started and stopped by them.
#
#   pg.sh start DIR     the first time: initdb into DIR/data (as nobody when
#                       root: PostgreSQL refuses to run as root), create the
#                       database cimd with the schema (sql/cimd-proxy.sql)
#                       and the roles below; every time: start it on a unix
#                       socket in DIR and on a free loopback port (kept in
#                       DIR/port).  Prints "host=DIR port=PORT dbname=cimd".
#                       Exits 77 with the reason on stderr when PostgreSQL's
#                       programs are not installed.
#   pg.sh stop DIR      fast shutdown (the data stays for a later start)
#   pg.sh destroy DIR   stop and remove DIR
#   pg.sh psql DIR ARGS psql as the superuser postgres on database cimd
#
# Roles: postgres (superuser); cimd_proxy, the proxy's role with exactly
# the rights README asks for; cimd_nodelete, the same without DELETE.
# Over the unix socket no password is asked; over TCP (127.0.0.1) a
# password is, and cimd_proxy's is "cimd-test-password".
set -u

PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
HERE=$(cd "$(dirname "$0")" && pwd)
SCHEMA=$HERE/../sql/cimd-proxy.sql
. "$HERE/lib.sh"              # free_port
START_SECONDS=30

die() { echo "pg.sh: $*" >&2; exit 1; }

# Runs a PostgreSQL program as the cluster's owner.
as_owner() {
	if [ "$(id -u)" = 0 ]; then
		setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"
	else
		"$@"
	fi
}

pg_psql() {
	local dir=$1
	shift
	(cd "$dir" && as_owner "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir" \
		-p "$(cat "$dir/port")" -U postgres -d cimd "$@")
}

pg_init() {
	local dir=$1
	if [ "$(id -u)" = 0 ]; then
		chown nobody:nogroup "$dir" || return 1
	fi
	chmod 0755 "$dir"
	(cd "$dir" && as_owner "$PG_BIN/initdb" -D "$dir/data" -U postgres -A trust \
		-E UTF8 --no-locale >"$dir/initdb.log" 2>&1) || { cat "$dir/initdb.log" >&2; return 1; }
	cat >"$dir/data/pg_hba.conf" <<-EOF
	local all all trust
	host all all 127.0.0.1/32 scram-sha-256
	EOF
}

pg_start() {
	local dir=$1 port try first=no
	[ -x "$PG_BIN/initdb" ] && [ -x "$PG_BIN/pg_ctl" ] ||
		{ echo "PostgreSQL's programs (initdb, pg_ctl) are not installed (Debian: postgresql)" >&2; exit 77; }
	[ -d "$dir" ] || die "no directory $dir"
	if ! [ -d "$dir/data" ]; then
		pg_init "$dir" || die "initdb failed"
		first=yes
	fi
	for try in 1 2 3; do
		port=$(cat "$dir/port" 2>/dev/null) || port=
		[ -n "$port" ] || { port=$(free_port) || die "no free port"; echo "$port" >"$dir/port"; }
		# fsync off: a test cluster need not survive a power cut.
		if (cd "$dir" && as_owner "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" \
		    -w -t "$START_SECONDS" -s -o "-c port=$port -c listen_addresses=127.0.0.1 \
		    -c unix_socket_directories='$dir' -c fsync=off -c max_connections=400 \
		    -c shared_buffers=16MB" start >/dev/null); then
			break
		fi
		# The port was taken meanwhile: a new one, once the data is ours.
		[ "$first" = yes ] && rm -f "$dir/port"
		[ "$try" = 3 ] && { tail -n 20 "$dir/server.log" >&2; die "postgres did not start"; }
	done
	if [ "$first" = yes ]; then
		(cd "$dir" && as_owner "$PG_BIN/createdb" -h "$dir" -p "$port" -U postgres cimd) ||
			die "createdb failed"
		pg_psql "$dir" <"$SCHEMA" || die "the schema did not apply"
		pg_psql "$dir" <<-EOF || die "the roles were not created"
		CREATE ROLE cimd_proxy LOGIN PASSWORD 'cimd-test-password';
		GRANT SELECT, INSERT, UPDATE, DELETE ON cimd_records TO cimd_proxy;
		CREATE ROLE cimd_nodelete LOGIN;
		GRANT SELECT, INSERT, UPDATE ON cimd_records TO cimd_nodelete;
		EOF
	fi
	echo "host=$dir port=$port dbname=cimd"
}

pg_stop() {
	local dir=$1
	[ -f "$dir/data/postmaster.pid" ] || return 0
	(cd "$dir" && as_owner "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w -t "$START_SECONDS" -s stop)
}

case ${1:-}:${2:-} in
start:?*) pg_start "$2" ;;
stop:?*) pg_stop "$2" ;;
destroy:?*) pg_stop "$2"; rm -rf "$2" ;;
psql:?*) d=$2; shift 2; pg_psql "$d" "$@" ;;
*) echo "usage: pg.sh start|stop|destroy|psql DIR [ARGS]" >&2; exit 2 ;;
esac
