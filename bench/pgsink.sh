#!/usr/bin/env bash
# PostgreSQL → PostgreSQL: runnel's PostgreSQL sink (sink.type=postgres, the source's
# transactions applied whole, the position stored in the target) beside PostgreSQL's own logical
# replication (CREATE SUBSCRIPTION, the native apply worker) on the same pair of private instances,
# in one run. Both start from the same seeded copy of the order-management schema and drain the
# same backlog of $N mixed changes (60% insert, 30% update, 10% delete, transactions of 100 rows)
# waiting in a slot each; each is timed from its start until the target holds every change
# (runnel: its offset committed past the backlog; native: the slot confirmed past it), and both
# targets are compared with the source table by table. Prints a markdown table; bench/run.sh
# appends it to its results (WORKLOADS=pgsink).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-1000000}
ROOT=$PWD
source scripts/install-deps.sh
cargo build --release --locked -p runnel >/dev/null 2>&1 || cargo build --release --locked -p runnel
RUNNEL="$ROOT/target/release/runnel"
source scripts/lib/private-pg.sh

# The target instance, then the source (the last one's cleanup also stops the first).
pg_start
T_WORK=$WORK; T_PORT=$PORT; T_PSQL=("${PSQL[@]}")
PG_CLEANUP_HOOK="as_pg \"\$PGBIN/pg_ctl\" stop -D \"$T_WORK/pg\" -m immediate >/dev/null 2>&1; rm -rf \"$T_WORK\""
pg_start
S_PSQL=("${PSQL[@]}")

echo "==> seeding the source and copying it to both targets"
"${S_PSQL[@]}" -d postgres -c "CREATE DATABASE rig" >/dev/null
"${S_PSQL[@]}" -d rig -f crates/runnel/tests/fixtures/postgres/schema.sql >/dev/null
"${S_PSQL[@]}" -d rig -c "CALL rig_seed(200000, 100)" >/dev/null
for db in dst_native dst_runnel; do
  "${T_PSQL[@]}" -d postgres -c "CREATE DATABASE $db" >/dev/null
  "$PGBIN/pg_dump" -h 127.0.0.1 -p "$PORT" -U postgres rig | "${T_PSQL[@]}" -d $db >/dev/null
done
"${S_PSQL[@]}" -d rig -c "CREATE PUBLICATION dbz_publication FOR ALL TABLES" >/dev/null
for slot in native runnel; do
  "${S_PSQL[@]}" -d rig -c "SELECT pg_create_logical_replication_slot('$slot', 'pgoutput')" >/dev/null
done
echo "==> generating $N changes"
"${S_PSQL[@]}" -d rig -c "CALL rig_mixed($N, 100)" >/dev/null
END=$("${S_PSQL[@]}" -d rig -Atc "SELECT pg_current_wal_lsn()")
END_NUM=$("${S_PSQL[@]}" -d rig -Atc "SELECT (pg_current_wal_lsn() - '0/0')::int8")
source bench/common.sh

checksums() {  # psql-array-name db → one line per table
  local -n psql_cmd=$1
  for t in customers products orders order_details documents; do
    "${psql_cmd[@]}" -d "$2" -Atc "SELECT '$t ' || count(*) || ' ' || coalesce(md5(string_agg(x::text, '|' ORDER BY x::text)), '') FROM $t x"
  done
}

echo "==> native logical replication (CREATE SUBSCRIPTION)"
t0=$(date +%s.%N)
"${T_PSQL[@]}" -d dst_native -c "CREATE SUBSCRIPTION native CONNECTION 'host=127.0.0.1 port=$PORT user=postgres dbname=rig' \
  PUBLICATION dbz_publication WITH (create_slot = false, slot_name = 'native', copy_data = false)" >/dev/null
until [ "$("${S_PSQL[@]}" -d rig -Atc "SELECT confirmed_flush_lsn >= '$END' FROM pg_replication_slots WHERE slot_name = 'native'")" = t ]; do
  sleep 0.05
done
t1=$(date +%s.%N)
NATIVE_SECS=$(echo "$t1 - $t0" | bc -l)
NATIVE_RATE=$(echo "$N / $NATIVE_SECS" | bc -l)
"${T_PSQL[@]}" -d dst_native -c "ALTER SUBSCRIPTION native DISABLE" -c "ALTER SUBSCRIPTION native SET (slot_name = NONE)" \
  -c "DROP SUBSCRIPTION native" >/dev/null

echo "==> runnel, sink.type=postgres"
cat > "$WORK/pgsink.json" <<JSON
{"name": "pgsink", "config": {"connector.class": "io.debezium.connector.postgresql.PostgresConnector",
 "database.hostname": "127.0.0.1", "database.port": "$PORT", "database.user": "postgres", "database.dbname": "rig",
 "topic.prefix": "rig", "slot.name": "runnel", "publication.name": "dbz_publication",
 "publication.autocreate.mode": "disabled", "snapshot.mode": "no_data",
 "sink.type": "postgres", "sink.postgres.connection.url": "jdbc:postgresql://127.0.0.1:$T_PORT/dst_runnel",
 "sink.postgres.connection.username": "postgres", "sink.postgres.schema.evolution": "none"${PGSINK_EXTRA:-}}}
JSON
t0=$(date +%s.%N)
RUNNEL_LOG=${RUNNEL_LOG:-warn} /usr/bin/time -f "%e %U %S %M" -o "$WORK/time.pgsink" \
  "$RUNNEL" run "$WORK/pgsink.json" --state-dir "$WORK/state-pgsink" > /dev/null 2> "${PGSINK_LOG:-/dev/null}" &
pid=$!
for _ in $(seq 1 100); do rpid=$(pgrep -P $pid || true); [ -n "$rpid" ] && break; sleep 0.05; done
# CPU of the target's backend serving runnel and of the source's walsender (clock ticks).
proc_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
for _ in $(seq 1 100); do
  TPID=$("${T_PSQL[@]}" -d postgres -Atc "SELECT pid FROM pg_stat_activity WHERE application_name = 'runnel-sink-pgsink'")
  [ -n "$TPID" ] && break; sleep 0.05
done
SPID=$("${S_PSQL[@]}" -d rig -Atc "SELECT active_pid FROM pg_replication_slots WHERE slot_name = 'runnel'")
T_TICKS0=$(proc_ticks "$TPID"); S_TICKS0=$(proc_ticks "$SPID")
wait_runnel_caught_up "$rpid" "$WORK/state-pgsink"
t1=$(date +%s.%N)
T_TICKS1=$(proc_ticks "$TPID"); S_TICKS1=$(proc_ticks "$SPID")
kill -TERM "$rpid"; wait $pid || true
read -r _ USER SYS MAXKB < "$WORK/time.pgsink"
RUNNEL_SECS=$(echo "$t1 - $t0" | bc -l)
RUNNEL_RATE=$(echo "$N / $RUNNEL_SECS" | bc -l)
RUNNEL_CPU=$(echo "($USER + $SYS) / $RUNNEL_SECS" | bc -l)
RUNNEL_RSS=$(echo "$MAXKB / 1024" | bc -l)
HZ=$(getconf CLK_TCK)
TARGET_CPU=$(echo "($T_TICKS1 - $T_TICKS0) / $HZ / $RUNNEL_SECS" | bc -l)
SOURCE_CPU=$(echo "($S_TICKS1 - $S_TICKS0) / $HZ / $RUNNEL_SECS" | bc -l)

echo "==> comparing both targets with the source"
want=$(checksums S_PSQL rig)
native=$(checksums T_PSQL dst_native)
runnel=$(checksums T_PSQL dst_runnel)
[ "$native" = "$want" ] && NATIVE_EQ=equal || NATIVE_EQ="DIFFERENT"
[ "$runnel" = "$want" ] && RUNNEL_EQ=equal || RUNNEL_EQ="DIFFERENT"

cat <<MD
| workload | contender | result | CPU | peak RSS | target = source |
| --- | --- | --- | --- | --- | --- |
| PostgreSQL → PostgreSQL, $N changes | PostgreSQL's logical replication (CREATE SUBSCRIPTION) | $(printf %.0f "$NATIVE_RATE") rows/s ($(printf %.1f "$NATIVE_SECS") s until equal) | (in the server) | | $NATIVE_EQ |
| PostgreSQL → PostgreSQL, $N changes | runnel, sink.type=postgres | $(printf %.0f "$RUNNEL_RATE") rows/s ($(printf %.1f "$RUNNEL_SECS") s until equal) | $(printf %.2f "$RUNNEL_CPU") | $(printf %.0f "$RUNNEL_RSS") MB | $RUNNEL_EQ |

runnel's run: the target's backend used $(printf %.2f "$TARGET_CPU") cores, the source's walsender $(printf %.2f "$SOURCE_CPU").

Ratio runnel / native subscriber: $(printf %.2f "$(echo "$RUNNEL_RATE / $NATIVE_RATE" | bc -l)")
MD
[ "$NATIVE_EQ" = equal ] && [ "$RUNNEL_EQ" = equal ]
