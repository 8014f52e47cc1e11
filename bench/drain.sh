#!/usr/bin/env bash
# Streaming-drain benchmark: a backlog of N mixed changes (60% insert, 30% update, 10% delete,
# transactions of 100 rows) on the order-management schema, drained by pg_recvlogical (pgoutput,
# the physical limit) and by runnel (file sink, schemas off), on the same private PostgreSQL in
# the same run. Prints rows/s for each and the ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-1000000}
source scripts/install-deps.sh
cargo build --release --locked -p runnel >/dev/null 2>&1 || cargo build --release --locked -p runnel
RUNNEL="$PWD/target/release/runnel"
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
WORK=$(mktemp -d /tmp/runnel-bench-XXXXXX); chmod 755 "$WORK"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() { as_pg "$PGBIN/pg_ctl" stop -D "$WORK/pg" -m immediate >/dev/null 2>&1 || true; rm -rf "$WORK"; }
trap cleanup EXIT
[ "$(id -u)" -eq 0 ] && chown postgres "$WORK"
as_pg "$PGBIN/initdb" -D "$WORK/pg" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
as_pg "$PGBIN/pg_ctl" start -w -D "$WORK/pg" -l "$WORK/pg.log" -o "-c listen_addresses=127.0.0.1 -c port=$PORT \
  -c unix_socket_directories=$WORK -c wal_level=logical -c max_wal_size=4GB -c shared_buffers=256MB" >/dev/null
PSQL=(psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U postgres)
"${PSQL[@]}" -d postgres -c "CREATE DATABASE rig" >/dev/null
"${PSQL[@]}" -d rig -f crates/runnel/tests/fixtures/postgres/schema.sql >/dev/null
"${PSQL[@]}" -d rig -c "CALL rig_seed(200000, 100)" >/dev/null
"${PSQL[@]}" -d rig -c "CREATE PUBLICATION dbz_publication FOR ALL TABLES" >/dev/null
"${PSQL[@]}" -d rig -c "SELECT pg_create_logical_replication_slot('raw', 'pgoutput'), pg_create_logical_replication_slot('runnel', 'pgoutput')" >/dev/null
echo "==> generating $N changes"
"${PSQL[@]}" -d rig -c "CALL rig_mixed($N, 100)" >/dev/null
END=$("${PSQL[@]}" -d rig -Atc "SELECT pg_current_wal_lsn()")
END_NUM=$("${PSQL[@]}" -d rig -Atc "SELECT (pg_current_wal_lsn() - '0/0')::int8")

echo "==> pg_recvlogical (pgoutput v1) to /dev/null"
t0=$(date +%s.%N)
pg_recvlogical -h 127.0.0.1 -p "$PORT" -U postgres -d rig --slot raw --start -o proto_version=1 \
  -o publication_names=dbz_publication --endpos="$END" -f /dev/null
t1=$(date +%s.%N)
RAW=$(echo "$N / ($t1 - $t0)" | bc -l)

echo "==> runnel (file sink, schemas off)"
cat > "$WORK/c.json" <<JSON
{"name": "bench", "config": {"connector.class": "io.debezium.connector.postgresql.PostgresConnector",
 "database.hostname": "127.0.0.1", "database.port": "$PORT", "database.user": "postgres", "database.dbname": "rig",
 "topic.prefix": "rig", "slot.name": "runnel", "snapshot.mode": "no_data", "publication.autocreate.mode": "disabled",
 "key.converter.schemas.enable": "false", "value.converter.schemas.enable": "false",
 "sink.type": "file", "sink.file.path": "$WORK/out.jsonl"}}
JSON
t0=$(date +%s.%N)
RUNNEL_LOG=warn "$RUNNEL" run "$WORK/c.json" --state-dir "$WORK/state" &
PID=$!
while :; do
  LSN=$(python3 -c "import sqlite3,json,sys; c=sqlite3.connect('$WORK/state/runnel.db'); r=c.execute('select offset from offsets').fetchone(); print(json.loads(r[0])['lsn'] if r else 0)" 2>/dev/null || echo 0)
  [ "$LSN" -ge "$END_NUM" ] && break
  sleep 0.2
done
t1=$(date +%s.%N)
RSS=$(awk '/VmHWM/ {print $2}' /proc/$PID/status)
kill -TERM $PID; wait $PID || true
RUN=$(echo "$N / ($t1 - $t0)" | bc -l)
LINES=$(wc -l < "$WORK/out.jsonl")
printf "\nchanges: %d (records written by runnel incl. tombstones: %d)\n" "$N" "$LINES"
printf "pg_recvlogical: %.0f rows/s\nrunnel:         %.0f rows/s (peak RSS %d kB)\nratio runnel/pg_recvlogical: %.2f\n" "$RAW" "$RUN" "$RSS" "$(echo "$RUN / $RAW" | bc -l)"
