#!/bin/bash
# SPDX-License-Identifier: ISC
# pg.sh - a throwaway PostgreSQL server for the tests, no mocks.
#
#   tests/pg.sh run CMD [ARG...]   start a server, run CMD with
#                                  ECA_TEST_PG_URI set to its database, stop
#                                  it and remove its directory; exits with
#                                  CMD's status
#   . tests/pg.sh                  (sourced) defines pg_start DIR, which
#                                  starts a server in the new directory DIR
#                                  and sets PG_URI, and pg_stop DIR
#
# The server is Debian's PostgreSQL 15 (/usr/lib/postgresql/15/bin, or
# ECA_PG_BIN): initdb and pg_ctl in a temporary directory, listening only
# on a UNIX socket in that directory (listen_addresses = ''), trust
# authentication for that socket, one database "eca".  Root cannot run
# postgres, so as root the server runs as the `postgres` system user (or
# ECA_PG_USER) with the directory chowned to it.  No network, no service.
# fsync is off: the tests kill ecad, never the database's machine.
# ECA_PG_OPTS adds server options after these (bench/pg.sh: fsync on).
#
# When the server cannot be started, `run` prints one line "skipped:
# PostgreSQL not available (WHY)" and runs CMD without ECA_TEST_PG_URI, so
# that CMD decides (the unit suite fails under CI=true); pg_start returns 1.

PG_BIN=${ECA_PG_BIN:-/usr/lib/postgresql/15/bin}
PG_USER=${ECA_PG_USER:-postgres}
PG_TIMEOUT=${ECA_PG_TIMEOUT:-30}

# Run a PostgreSQL program as the server's user (itself unless root).
_pg_as() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u "$PG_USER" -- "$@"
	else
		"$@"
	fi
}

# Why the server cannot be started here, or nothing.
pg_unavailable() {
	local p
	for p in initdb pg_ctl postgres; do
		if [ ! -x "$PG_BIN/$p" ]; then
			echo "$PG_BIN/$p is missing (apt-get install postgresql-15)"
			return 0
		fi
	done
	if [ "$(id -u)" = 0 ] && ! id "$PG_USER" >/dev/null 2>&1; then
		echo "no user '$PG_USER' to run postgres as (set ECA_PG_USER)"
		return 0
	fi
	return 1
}

# pg_start DIR: a server in DIR (created), PG_URI set to its database.
pg_start() {
	local dir=$1 why
	PG_URI=""
	if why=$(pg_unavailable); then
		echo "pg.sh: $why" >&2
		return 1
	fi
	mkdir -p "$dir" || return 1
	chmod 700 "$dir"
	[ "$(id -u)" = 0 ] && chown "$PG_USER" "$dir"
	if ! _pg_as "$PG_BIN/initdb" -D "$dir/data" -U postgres -A trust \
	    -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1; then
		echo "pg.sh: initdb failed:" >&2
		tail -5 "$dir/initdb.log" >&2
		return 1
	fi
	if ! _pg_as "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" \
	    -w -t "$PG_TIMEOUT" -o "-c listen_addresses='' \
	    -c unix_socket_directories='$dir' -c fsync=off \
	    -c max_connections=100 -c shared_buffers=16MB ${ECA_PG_OPTS:-}" \
	    start >/dev/null 2>&1; then
		echo "pg.sh: the server did not start:" >&2
		tail -5 "$dir/server.log" >&2
		return 1
	fi
	if ! _pg_as "$PG_BIN/createdb" -h "$dir" -U postgres eca \
	    >"$dir/createdb.log" 2>&1; then
		echo "pg.sh: cannot create the database:" >&2
		cat "$dir/createdb.log" >&2
		pg_stop "$dir"
		return 1
	fi
	PG_URI="postgresql:///eca?host=$dir&user=postgres"
	return 0
}

# pg_stop DIR: stop DIR's server (fast: open sessions are ended) and remove DIR.
pg_stop() {
	local dir=$1
	[ -n "$dir" ] && [ -d "$dir" ] || return 0
	if [ -f "$dir/data/postmaster.pid" ]; then
		_pg_as "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w \
		    -t "$PG_TIMEOUT" stop >/dev/null 2>&1
	fi
	rm -rf "$dir"
}

_pg_run() {
	local rc why
	if why=$(pg_unavailable); then
		echo "skipped: PostgreSQL not available ($why)"
		unset ECA_TEST_PG_URI
		"$@"
		return $?
	fi
	# Global: the EXIT trap runs after this function has returned.
	_PG_RUN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/eca-pg.XXXXXX") || return 1
	local dir=$_PG_RUN_DIR
	trap 'pg_stop "$_PG_RUN_DIR"' EXIT
	trap 'exit 130' INT TERM
	if ! pg_start "$dir"; then
		echo "skipped: PostgreSQL not available (the server did not start)"
		pg_stop "$dir"
		unset ECA_TEST_PG_URI
		"$@"
		return $?
	fi
	ECA_TEST_PG_URI=$PG_URI "$@"
	rc=$?
	return $rc
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	case "${1:-}" in
	run)
		shift
		[ $# -gt 0 ] || { echo "usage: $0 run CMD [ARG...]" >&2; exit 2; }
		_pg_run "$@"
		exit $?
		;;
	*)
		echo "usage: $0 run CMD [ARG...]  (or source it: pg_start DIR, pg_stop DIR)" >&2
		exit 2
		;;
	esac
fi
