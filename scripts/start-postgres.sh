#!/usr/bin/env bash
# Starts a PostgreSQL server for s3dfs (benchmarks of metadata/sql, tests
# against an existing server) in a directory of its own, on a free loopback
# port, and prints its DSN on stdout. Idempotent: run again with the same
# directory, it prints the DSN of the server running there, or starts that
# server again (on the port it had, if still free).
#
#   scripts/start-postgres.sh [DIR]          # default ${TMPDIR:-/tmp}/s3dfs-postgres
#   scripts/start-postgres.sh --stop [DIR]   # fast shutdown; the data stays
#
#   export S3DFS_PG_DSN="$(scripts/start-postgres.sh)"
#
# Put DIR on the filesystem you measure: the database's files live there.
# The server keeps PostgreSQL's durable defaults (fsync=on), so that a
# client's synchronous_commit=on means a flushed commit; trust
# authentication, loopback only, UTF-8 with the C locale. initdb and
# postgres refuse root: as root the server runs as the user postgres, and
# DIR is handed to that user. A missing PostgreSQL is installed with
# apt-get (Debian) when running as root. S3DFS_PG_BIN names the directory
# of initdb and pg_ctl, if not the newest /usr/lib/postgresql/*/bin.
set -euo pipefail

stop=""
if [[ "${1:-}" == "--stop" ]]; then
	stop=1
	shift
fi
dir="$(realpath -m "${1:-${TMPDIR:-/tmp}/s3dfs-postgres}")"
data="$dir/data"

say() { echo "start-postgres: $*" >&2; }

find_bin() {
	if [[ -n "${S3DFS_PG_BIN:-}" ]]; then
		echo "$S3DFS_PG_BIN"
		return
	fi
	local d
	d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -n | tail -1 || true)"
	if [[ -n "$d" && -x "$d/initdb" ]]; then
		echo "$d"
	elif command -v initdb >/dev/null 2>&1; then
		dirname "$(realpath "$(command -v initdb)")"
	fi
}

bin="$(find_bin)"
if [[ -z "$bin" || ! -x "$bin/initdb" || ! -x "$bin/pg_ctl" ]]; then
	if [[ -n "$stop" ]]; then
		say "PostgreSQL is not installed: nothing to stop"
		exit 0
	fi
	if [[ "$(id -u)" -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
		say "PostgreSQL not found; install it (Debian: apt-get install postgresql) or set S3DFS_PG_BIN"
		exit 1
	fi
	say "installing PostgreSQL (apt-get install postgresql)"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -q postgresql >&2 || { apt-get update -q >&2 && apt-get install -y -q postgresql >&2; }
	bin="$(find_bin)"
	[[ -x "$bin/initdb" ]] || { say "no initdb after installing PostgreSQL"; exit 1; }
fi

# as runs a command as the server's user: postgres when we are root.
as() {
	if [[ "$(id -u)" -eq 0 ]]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

running() { [[ -f "$data/PG_VERSION" ]] && as "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; }

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

dsn() { echo "postgres://postgres@127.0.0.1:$(cat "$dir/port")/postgres?sslmode=disable"; }

if [[ -n "$stop" ]]; then
	if running; then
		as "$bin/pg_ctl" -D "$data" -m fast -w stop >&2
	else
		say "no server running in $dir"
	fi
	exit 0
fi

if running && [[ -f "$dir/port" ]]; then
	dsn
	exit 0
fi

mkdir -p "$dir"
if [[ "$(id -u)" -eq 0 ]]; then
	chown postgres: "$dir" # initdb creates data/ as postgres
fi
if [[ ! -f "$data/PG_VERSION" ]]; then
	say "creating a cluster in $data"
	as "$bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C >&2
fi

port=""
if [[ -f "$dir/port" ]] && port_free "$(cat "$dir/port")"; then
	port="$(cat "$dir/port")"
fi
for _ in $(seq 1 100); do
	[[ -n "$port" ]] && break
	p=$((20000 + RANDOM % 40000))
	if port_free "$p"; then
		port="$p"
	fi
done
[[ -n "$port" ]] || { say "no free port found"; exit 1; }
echo "$port" | as tee "$dir/port" >/dev/null

say "starting PostgreSQL on 127.0.0.1:$port (log: $dir/postgres.log)"
as "$bin/pg_ctl" -D "$data" -l "$dir/postgres.log" -w -t 60 \
	-o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200" start >&2
dsn
