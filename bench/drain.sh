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
SLOTS="raw runnel"
source bench/common.sh
bench_backlog

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
wait_runnel_caught_up $PID "$WORK/state"
t1=$(date +%s.%N)
RSS=$(awk '/VmHWM/ {print $2}' /proc/$PID/status)
kill -TERM $PID; wait $PID || true
RUN=$(echo "$N / ($t1 - $t0)" | bc -l)
LINES=$(wc -l < "$WORK/out.jsonl")
printf "\nchanges: %d (records written by runnel incl. tombstones: %d)\n" "$N" "$LINES"
printf "pg_recvlogical: %.0f rows/s\nrunnel:         %.0f rows/s (peak RSS %d kB)\nratio runnel/pg_recvlogical: %.2f\n" "$RAW" "$RUN" "$RSS" "$(echo "$RUN / $RAW" | bc -l)"
