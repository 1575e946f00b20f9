#!/usr/bin/env bash
# Run a command with a throw-away PostgreSQL server on loopback, then stop it and delete its data.
#   bash ci/with-postgres.sh .venv/bin/python -m pytest -q
# Needs Debian's postgresql package (apt-get install -y postgresql). The server runs as a non-root
# user (postgres when we are root, else ourselves) from a temporary data directory; the command
# sees TEST_POSTGRES_URL (a superuser URL: the tests create and drop one database per test).
set -euo pipefail
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
  echo "ci/with-postgres.sh: PostgreSQL is not installed (apt-get install -y postgresql)" >&2
  exit 1
fi
data=$(mktemp -d /tmp/lbp-cds-pg.XXXXXX)
as_owner() { "$@"; }
if [ "$(id -u)" = 0 ]; then
  chown postgres: "$data"
  as_owner() { runuser -u postgres -- "$@"; }
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
password=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
echo "$password" > "$data/.pw" && chmod 600 "$data/.pw"
[ "$(id -u)" = 0 ] && chown postgres: "$data/.pw"
as_owner "$bindir/initdb" -D "$data/db" -U lbp -A scram-sha-256 --pwfile="$data/.pw" -E UTF8 --locale=C.UTF-8 >/dev/null
stop() {
  as_owner "$bindir/pg_ctl" -D "$data/db" -m fast stop >/dev/null 2>&1 || true
  rm -rf "$data"
}
trap stop EXIT
as_owner "$bindir/pg_ctl" -D "$data/db" -l "$data/server.log" -w \
  -o "-c listen_addresses=127.0.0.1 -p $port -k $data -c fsync=off -c max_connections=200" start >/dev/null
export TEST_POSTGRES_URL="postgresql://lbp:$password@127.0.0.1:$port/postgres"
echo "ci/with-postgres.sh: PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') on 127.0.0.1:$port" >&2
"$@"
