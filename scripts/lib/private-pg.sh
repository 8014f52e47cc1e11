# Sourced by scripts and benchmarks: start a private PostgreSQL (wal_level=logical) in a temp dir
# on a free loopback port, as the postgres user when we are root, stopped and removed on exit.
# After `pg_start`: $WORK, $PORT, $PGBIN and the psql command array $PSQL (add -d DB).
pg_start() {
  PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  WORK=$(mktemp -d /tmp/runnel-XXXXXX); chmod 755 "$WORK"
  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  trap pg_cleanup EXIT
  [ "$(id -u)" -eq 0 ] && chown postgres "$WORK"
  as_pg "$PGBIN/initdb" -D "$WORK/pg" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  as_pg "$PGBIN/pg_ctl" start -w -D "$WORK/pg" -l "$WORK/pg.log" -o "-c listen_addresses=127.0.0.1 -c port=$PORT \
    -c unix_socket_directories=$WORK -c wal_level=logical -c max_wal_size=4GB -c shared_buffers=256MB \
    -c max_replication_slots=20 -c max_wal_senders=20 -c timezone=UTC ${PG_EXTRA_OPTS:-}" >/dev/null
  PSQL=(psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U postgres)
}
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
pg_cleanup() {
  [ -n "${PG_CLEANUP_HOOK:-}" ] && eval "$PG_CLEANUP_HOOK"
  as_pg "$PGBIN/pg_ctl" stop -D "$WORK/pg" -m immediate >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
