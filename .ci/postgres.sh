#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for tests and benchmarks: its own data directory, a free TCP
# port on 127.0.0.1, a socket directory beside the data, and a random password for TCP logins.
# Needs root and Debian's postgresql package (apt-get install -y postgresql); never touches the
# packaged cluster (/var/lib/postgresql/*/main).
#
#   .ci/postgres.sh start [DIR]    initdb + start; prints the URL (also in DIR/url)
#   .ci/postgres.sh stop [DIR]     stop and delete DIR
#   .ci/postgres.sh restart [DIR]  immediate restart (what a crash looks like to clients)
#   .ci/postgres.sh down [DIR]     immediate stop, keeping the data (an outage)
#   .ci/postgres.sh up [DIR]       start again after down
#   .ci/postgres.sh url [DIR]      prints the URL of a running cluster
#
# DIR defaults to $SENTINEL_PG_DIR or /tmp/sentinel-postgres. SENTINEL_PG_DURABLE=1 keeps fsync
# on (benchmarks); without it fsync is off, which loses nothing unless the machine itself
# crashes, and a test cluster does not outlive the machine.
set -euo pipefail

cmd=${1:-}
dir=${2:-${SENTINEL_PG_DIR:-/tmp/sentinel-postgres}}

bindir() {
  local d
  d=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  [ -x "$d/initdb" ] || {
    echo "postgres.sh: no PostgreSQL server binaries; apt-get install -y postgresql" >&2
    return 1
  }
  echo "$d"
}

as_postgres() { runuser -u postgres -- "$@"; }

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

pg_ctl_() { as_postgres "$(bindir)/pg_ctl" -D "$dir/data" -l "$dir/log" "$@"; }

start() {
  if [ -f "$dir/url" ] && pg_ctl_ status >/dev/null 2>&1; then
    cat "$dir/url"
    return 0
  fi
  local bin port password fsync
  bin=$(bindir)
  port=$(free_port)
  password=$(head -c 18 /dev/urandom | base64 | tr '+/' 'AB')
  mkdir -p "$dir/socket"
  chown -R postgres:postgres "$dir"
  chmod 700 "$dir"
  as_postgres test -x "$dir" || {
    echo "postgres.sh: the postgres user cannot reach $dir (every parent directory must let it pass)" >&2
    return 1
  }
  printf '%s\n' "$password" >"$dir/pwfile"
  chown postgres "$dir/pwfile"
  as_postgres "$bin/initdb" -D "$dir/data" -U postgres --pwfile="$dir/pwfile" \
    --auth-local=peer --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log"
  rm -f "$dir/pwfile"
  fsync=off
  [ "${SENTINEL_PG_DURABLE:-}" = 1 ] && fsync=on
  cat >>"$dir/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir/socket'
max_connections = 400
shared_buffers = 256MB
fsync = $fsync
full_page_writes = $fsync
logging_collector = off
log_min_messages = warning
EOF
  pg_ctl_ -w -t 60 start >/dev/null
  printf 'postgres://postgres:%s@127.0.0.1:%s/postgres\n' "$password" "$port" >"$dir/url"
  chmod 600 "$dir/url"
  cat "$dir/url"
}

stop() {
  if [ -d "$dir/data" ]; then pg_ctl_ -m fast -w stop >/dev/null 2>&1 || true; fi
  rm -rf "$dir"
}

case "$cmd" in
start) start ;;
stop) stop ;;
restart) pg_ctl_ -m immediate -w restart >/dev/null ;;
down) pg_ctl_ -m immediate -w stop >/dev/null ;;
up) pg_ctl_ -w -t 60 start >/dev/null ;;
url) cat "$dir/url" ;;
*)
  echo "usage: $0 start|stop|restart|down|up|url [DIR]" >&2
  exit 2
  ;;
esac
