#!/usr/bin/env bash
# PostgreSQL for the store's conformance suite and the deployment tests: a
# server on 127.0.0.1:5432 where the postgres user may CREATE DATABASE.
# Installs postgresql from apt when missing and starts its cluster when
# nothing accepts on 127.0.0.1:5432. When the server refuses the password-less
# login the tests try first (pkg/testkit.DefaultPostgresURL), it gives the
# postgres role a random password and writes the URL to
# ${XDG_CACHE_HOME:-~/.cache}/mnemo/test-pg-url, which pkg/testkit reads.
# With MNEMO_TEST_PG_URL set nothing is installed: that server is used.
# MNEMO_DEPS_PG_PORT (default 5432) points the script at another cluster, to
# try it without touching the one the tests use.
# Prints the URL the tests will use, password redacted.
set -euo pipefail
. "$(dirname "$0")/apt.sh"
step=20-postgresql

if [ -n "${MNEMO_TEST_PG_URL:-}" ]; then
	echo "MNEMO_TEST_PG_URL (set by the caller)"
	exit 0
fi

url_file="${XDG_CACHE_HOME:-$HOME/.cache}/mnemo/test-pg-url"
port="${MNEMO_DEPS_PG_PORT:-5432}"
trust_url="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"

up() { pg_isready -q -h 127.0.0.1 -p "$port" >/dev/null 2>&1; }
# works URL: a query succeeds with that URL and no prompt.
works() { PGCONNECT_TIMEOUT=5 psql -w -X -q -d "$1" -c 'select 1' >/dev/null 2>&1 </dev/null; }

if ! command -v pg_ctlcluster >/dev/null 2>&1 || ! command -v psql >/dev/null 2>&1; then
	deps_apt_install "$step" PostgreSQL postgresql
fi

if ! up; then
	ver=$(ls /usr/lib/postgresql 2>/dev/null | sort -V | tail -n 1)
	if [ -z "$ver" ]; then
		echo "$step: no PostgreSQL server under /usr/lib/postgresql: run  sudo apt-get install -y postgresql" >&2
		exit 1
	fi
	if ! deps_can_be_root; then
		echo "$step: PostgreSQL is not accepting on 127.0.0.1:$port and this user cannot start it: run  sudo pg_ctlcluster $ver main start" >&2
		exit 1
	fi
	if [ ! -d "/etc/postgresql/$ver/main" ]; then
		echo "$step: creating PostgreSQL $ver cluster main" >&2
		deps_privileged pg_createcluster "$ver" main >/dev/null
	fi
	echo "$step: starting PostgreSQL $ver (cluster main)" >&2
	deps_privileged pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
	for _ in $(seq 1 60); do up && break; sleep 0.5; done
	if ! up; then
		echo "$step: PostgreSQL $ver did not start accepting on 127.0.0.1:$port (its port is set in /etc/postgresql/$ver/main/postgresql.conf): see pg_lsclusters" >&2
		exit 1
	fi
fi

# The tests use trust authentication when the server allows it, as on the
# dev machines; a URL written earlier is dropped then, so it cannot go stale.
if works "$trust_url"; then
	rm -f "$url_file"
	echo "$trust_url"
	exit 0
fi
if [ -s "$url_file" ] && works "$(cat "$url_file")"; then
	sed 's#://postgres:[^@]*@#://postgres:***@#' "$url_file"
	exit 0
fi
if ! deps_can_be_root; then
	echo "$step: PostgreSQL refuses a password-less login for postgres on 127.0.0.1:$port and this user cannot set one: run  sudo -u postgres psql -c \"ALTER USER postgres PASSWORD 'secret'\"  and set MNEMO_TEST_PG_URL=postgres://postgres:secret@127.0.0.1:$port/postgres?sslmode=disable" >&2
	exit 1
fi
echo "$step: PostgreSQL refuses a password-less login: giving the postgres role a password, its URL in $url_file" >&2
pw=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
if [ "$(id -u)" -eq 0 ]; then
	su postgres -s /bin/sh -c "psql -X -q -p $port -c \"ALTER USER postgres PASSWORD '$pw'\"" </dev/null
else
	sudo -n -u postgres psql -X -q -p "$port" -c "ALTER USER postgres PASSWORD '$pw'" </dev/null
fi
url="postgres://postgres:$pw@127.0.0.1:$port/postgres?sslmode=disable"
if ! works "$url"; then
	echo "$step: the new password does not work over TCP either: check host lines for 127.0.0.1 in pg_hba.conf" >&2
	exit 1
fi
mkdir -p "$(dirname "$url_file")"
(umask 077 && printf '%s\n' "$url" >"$url_file")
echo "postgres://postgres:***@127.0.0.1:$port/postgres?sslmode=disable"
