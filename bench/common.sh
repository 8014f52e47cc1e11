# Sourced by the benchmarks: a private PostgreSQL holding the order-management schema with a
# backlog of $N mixed changes (60% insert, 30% update, 10% delete, transactions of 100 rows)
# waiting in the slots named in $SLOTS; and a wait for runnel to acknowledge all of it.
# After `bench_backlog`: everything of scripts/lib/private-pg.sh, plus $END (the LSN after the
# backlog) and $END_NUM (the same as a number).
source scripts/lib/private-pg.sh

bench_backlog() {
  pg_start
  "${PSQL[@]}" -d postgres -c "CREATE DATABASE rig" >/dev/null
  "${PSQL[@]}" -d rig -f crates/runnel/tests/fixtures/postgres/schema.sql >/dev/null
  "${PSQL[@]}" -d rig -c "CALL rig_seed(200000, 100)" >/dev/null
  "${PSQL[@]}" -d rig -c "CREATE PUBLICATION dbz_publication FOR ALL TABLES" >/dev/null
  for slot in $SLOTS; do
    "${PSQL[@]}" -d rig -c "SELECT pg_create_logical_replication_slot('$slot', 'pgoutput')" >/dev/null
  done
  if [ "$N" -gt 0 ]; then
    echo "==> generating $N changes"
    "${PSQL[@]}" -d rig -c "CALL rig_mixed($N, 100)" >/dev/null
  fi
  END=$("${PSQL[@]}" -d rig -Atc "SELECT pg_current_wal_lsn()")
  END_NUM=$("${PSQL[@]}" -d rig -Atc "SELECT (pg_current_wal_lsn() - '0/0')::int8")
}

# Waits until the runnel process $1 (state dir $2) has committed an offset at or past $END_NUM.
# One Python process polls the state store every 20 ms: a new process per poll would take CPU
# from the contenders on a 2-core machine.
wait_runnel_caught_up() {
  python3 - "$1" "$2/runnel.db" "$END_NUM" <<'PY'
import json, os, sqlite3, sys, time
pid, db, end = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
while True:
    try:
        c = sqlite3.connect(db, timeout=1)
        r = c.execute("select offset from offsets").fetchone()
        c.close()
        if r and json.loads(r[0]).get("lsn", 0) >= end:
            sys.exit(0)
    except sqlite3.Error:
        pass
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit("runnel exited before catching up")
    time.sleep(0.02)
PY
}

# Starts a private SeaweedFS S3 server (every inner port free, on loopback) in $WORK/s3 with the
# bench credentials and creates the buckets named; sets $SPID and $ENDPOINT and stops the server
# with PostgreSQL (PG_CLEANUP_HOOK).
bench_s3_start() {
  export AWS_ACCESS_KEY_ID=bench-key AWS_SECRET_ACCESS_KEY=bench-secret
  local port ports="" flag b
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  mkdir -p "$WORK/s3"
  for flag in master.port master.port.grpc volume.port volume.port.grpc filer.port filer.port.grpc \
              s3.port.grpc admin.port admin.port.grpc webdav.port debug.port s3.debug.port; do
    ports="$ports -$flag=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  done
  # shellcheck disable=SC2086
  weed mini -dir="$WORK/s3" -ip=127.0.0.1 -ip.bind=127.0.0.1 -s3.port="$port" $ports \
    -s3.port.iceberg=0 -s3.port.lance=0 -master.telemetry=false > "$WORK/s3.log" 2>&1 &
  SPID=$!
  PG_CLEANUP_HOOK="kill $SPID 2>/dev/null || true"
  ENDPOINT="http://127.0.0.1:$port"
  for b in "$@"; do python3 crates/runnel/tests/s3_client.py "$ENDPOINT" mkbucket "$b"; done
}

# Prints how long the worker on port $1 (pid $3, state dir $4) takes to drain the backlog with
# connector $2, timed from its task RUNNING (a distributed worker first waits for the group's
# assignment), then stops the worker.
time_drain() {
  local t0 t1
  until curl -sf "127.0.0.1:$1/connectors/$2/status" | grep -q '"tasks":\[{[^]]*"RUNNING"'; do sleep 0.05; done
  t0=$(date +%s.%N)
  wait_runnel_caught_up "$3" "$4"
  t1=$(date +%s.%N)
  kill "$3"; wait "$3" 2>/dev/null || true
  echo "$t1 - $t0" | bc -l
}
