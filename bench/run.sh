#!/usr/bin/env bash
# runnel side by side with Debezium 3.6.3 (embedded engine, the real jars) and with PostgreSQL's
# own stream, on one private PostgreSQL, in one run:
#   drain     a backlog of $N mixed changes (60% insert, 30% update, 10% delete, transactions of
#             100 rows, order-management schema): pg_recvlogical (pgoutput v1) to /dev/null,
#             runnel and Debezium to a JSON-lines file, schemas off and on, and schemas off
#             through ExtractNewRecordState + RegexRouter + InsertField (the same chain in both);
#   snapshot  the $SNAP_N-row `orders` table: COPY to /dev/null, runnel and Debezium
#             (snapshot.mode=initial_only);
#   latency   $LAT_RATE single-row commits/s for $LAT_SECS s (pgbench): commit timestamp → line
#             readable in the output file, p50/p99/p99.9, for runnel and Debezium (defaults, and
#             poll.interval.ms=10);
#   memory    peak RSS of every contender (GNU time);
#   pgsink    PostgreSQL → PostgreSQL: runnel's PostgreSQL sink beside PostgreSQL's own logical
#             replication (CREATE SUBSCRIPTION), $N changes, on a second private instance
#             (bench/pgsink.sh, appended to the results);
#   s3        PostgreSQL → S3 (SeaweedFS): runnel's object storage sink, JSON and Parquet, beside
#             boto3 uploading the same bytes in objects of the same sizes (bench/s3.sh, appended);
#   delta     PostgreSQL → Delta Lake: runnel's Delta sink (MERGE by key) beside its JSON-lines
#             object sink, local and on S3 (SeaweedFS); DuckDB reading the current state from
#             each; delay at 1,000 commits/s (bench/delta.sh, appended);
#   mysql     MariaDB → JSON lines: runnel's MySQL/MariaDB source beside mariadb-binlog (raw and
#             decoded) and Debezium's MySQL connector, binlog drain and snapshot of $MYSQL_N rows
#             (bench/mysql.sh, appended).
# Writes bench/results/<date>.md. Defaults are the issue's; N=100000 SNAP_N=100000 LAT_SECS=10
# make a quick run; WORKLOADS picks some of "drain snapshot latency" (the 10,000,000-row snapshot,
# outside CI: WORKLOADS=snapshot SNAP_N=10000000, written to <date>-snapshot-10000000.md).
# RUNNEL_BASE=/path/to/an/earlier/runnel runs that build too, beside this one, in the same run
# (drain schemas off and on, snapshot with one reader), and reports new/before ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-1000000}
SNAP_N=${SNAP_N:-1000000}
LAT_RATE=${LAT_RATE:-1000}
LAT_SECS=${LAT_SECS:-60}
WORKLOADS=${WORKLOADS:-drain snapshot latency pgsink s3 delta mysql}
want() { [[ " $WORKLOADS " == *" $1 "* ]]; }
PGSINK_N=${PGSINK_N:-$N}
want drain || N=0
ROOT=$PWD
source scripts/install-deps.sh
source tools/debezium/libs.sh
cargo build --release --locked -p runnel >/dev/null 2>&1 || cargo build --release --locked -p runnel
RUNNEL="$ROOT/target/release/runnel"
RUNNEL_BASE=${RUNNEL_BASE:-}
SLOTS="raw runnel runnel_n runnel_s runnel_t dbz dbz_s dbz_t"
[ -n "$RUNNEL_BASE" ] && SLOTS="$SLOTS base base_s"
source bench/common.sh
bench_backlog
RESULTS="$ROOT/bench/results/$(date +%F).md"
[ "$WORKLOADS" = "drain snapshot latency pgsink s3 mysql" ] || RESULTS="$ROOT/bench/results/$(date +%F)-${WORKLOADS// /-}-$SNAP_N.md"
mkdir -p "$ROOT/bench/results"
ROWS=()   # one markdown table row per measurement

# `measure NAME CMD...`: runs CMD under GNU time; sets ELAPSED, CPU (cores), RSS_MB.
measure() {
  local name=$1; shift
  /usr/bin/time -f "%e %U %S %M" -o "$WORK/time.$name" "$@"
  read -r ELAPSED USER SYS MAXKB < "$WORK/time.$name"
  CPU=$(echo "($USER + $SYS) / $ELAPSED" | bc -l)
  RSS_MB=$(echo "$MAXKB / 1024" | bc -l)
}

runnel_config() {  # name slot schemas(true|false) out(file, or - for stdout) [extra json]
  local sink="\"sink.type\": \"file\", \"sink.file.path\": \"$4\""
  [ "$4" = - ] && sink='"sink.type": "stdout"'
  cat <<JSON
{"name": "$1", "config": {"connector.class": "io.debezium.connector.postgresql.PostgresConnector",
 "database.hostname": "127.0.0.1", "database.port": "$PORT", "database.user": "postgres", "database.dbname": "${DB:-rig}",
 "topic.prefix": "rig", "slot.name": "$2", "publication.autocreate.mode": "disabled",
 "key.converter.schemas.enable": "$3", "value.converter.schemas.enable": "$3",
 $sink ${CHAIN:+$CHAIN_JSON} ${5:-, \"snapshot.mode\": \"no_data\"}}}
JSON
}

# The transform chain of the transformed drain (bench/chain.sh): unwrap, route, add a field.
CHAIN_JSON=$(bash bench/chain.sh json)
CHAIN_PROPS=$(bash bench/chain.sh properties)
CHAIN=

dbz_props() {  # slot schemas out-props-file
  cat > "$3" <<PROPS
name=bench
connector.class=io.debezium.connector.postgresql.PostgresConnector
offset.storage=org.apache.kafka.connect.storage.FileOffsetBackingStore
offset.storage.file.filename=$3.offsets
offset.flush.interval.ms=1000
database.hostname=127.0.0.1
database.port=$PORT
database.user=postgres
database.password=
database.dbname=${DB:-rig}
topic.prefix=rig
plugin.name=pgoutput
slot.name=$1
publication.name=dbz_publication
publication.autocreate.mode=disabled
snapshot.mode=no_data
key.converter.schemas.enable=$2
value.converter.schemas.enable=$2
converter.schemas.enable=$2
PROPS
  [ -z "$CHAIN" ] || echo "$CHAIN_PROPS" >> "$3"
}

# ---------------------------------------------------------------- drain
if want drain; then
echo "==> drain: pg_recvlogical"
measure raw pg_recvlogical -h 127.0.0.1 -p "$PORT" -U postgres -d rig --slot raw --start \
  -o proto_version=1 -o publication_names=dbz_publication --endpos="$END" -f /dev/null
RAW_RATE=$(echo "$N / $ELAPSED" | bc -l)
ROWS+=("| drain | pg_recvlogical (pgoutput v1, /dev/null) | $(printf %.0f "$RAW_RATE") rows/s | $(printf %.2f "$CPU") | $(printf %.0f "$RSS_MB") MB |")

drain_runnel() {  # slot schemas label [- : stdout sink to /dev/null] [binary]
  local out="$WORK/$1.jsonl" bin=${5:-$RUNNEL}
  [ "${4:-}" = - ] && out=-
  runnel_config "drain-$1" "$1" "$2" "$out" > "$WORK/$1.json"
  local t0 t1
  t0=$(date +%s.%N)
  RUNNEL_LOG=warn /usr/bin/time -f "%e %U %S %M" -o "$WORK/time.$1" \
    "$bin" run "$WORK/$1.json" --state-dir "$WORK/state-$1" > /dev/null &
  local pid=$!
  local rpid
  for _ in $(seq 1 100); do rpid=$(pgrep -P $pid || true); [ -n "$rpid" ] && break; sleep 0.05; done
  wait_runnel_caught_up "$rpid" "$WORK/state-$1"
  t1=$(date +%s.%N)
  kill -TERM "$rpid"; wait $pid || true
  read -r _ USER SYS MAXKB < "$WORK/time.$1"
  local secs; secs=$(echo "$t1 - $t0" | bc -l)
  CPU=$(echo "($USER + $SYS) / $secs" | bc -l); RSS_MB=$(echo "$MAXKB / 1024" | bc -l)
  RATE=$(echo "$N / $secs" | bc -l)
  [ "$out" = - ] || RECORDS=$(wc -l < "$out")
  rm -f "$WORK/$1.jsonl"
  ROWS+=("| drain | runnel, $3 | $(printf %.0f "$RATE") rows/s | $(printf %.2f "$CPU") | $(printf %.0f "$RSS_MB") MB |")
}

drain_dbz() {  # slot schemas label
  dbz_props "$1" "$2" "$WORK/$1.props"
  measure "$1" java -cp "$DBZ_CP" DbzCapture "$WORK/$1.props" "$WORK/$1.jsonl" "$RECORDS" 5000 > "$WORK/$1.log" 2>&1
  local secs; secs=$(sed -n 's/.*seconds=\([0-9.]*\).*/\1/p' "$WORK/$1.log" | tail -1)
  local got; got=$(wc -l < "$WORK/$1.jsonl")
  [ "$got" -ge "$RECORDS" ] || echo "warning: Debezium wrote $got of $RECORDS records" >&2
  rm -f "$WORK/$1.jsonl"
  RATE=$(echo "$N / $secs" | bc -l)
  ROWS+=("| drain | Debezium 3.6.3, $3 | $(printf %.0f "$RATE") rows/s | $(printf %.2f "$CPU") | $(printf %.0f "$RSS_MB") MB |")
}

echo "==> drain: runnel, schemas off"
drain_runnel runnel false "schemas off"; RUNNEL_RATE=$RATE; RUNNEL_RSS=$RSS_MB
RECORDS_OFF=$RECORDS
if [ -n "$RUNNEL_BASE" ]; then
  echo "==> drain: runnel before ($RUNNEL_BASE), schemas off"
  drain_runnel base false "before, schemas off" "" "$RUNNEL_BASE"; BASE_RATE=$RATE; BASE_RSS=$RSS_MB
fi
echo "==> drain: runnel, schemas off, stdout sink to /dev/null"
drain_runnel runnel_n false "schemas off, stdout → /dev/null" -; RUNNEL_N_RATE=$RATE
echo "==> drain: runnel, schemas on"
drain_runnel runnel_s true "schemas on"; RUNNEL_S_RATE=$RATE
if [ -n "$RUNNEL_BASE" ]; then
  echo "==> drain: runnel before, schemas on"
  drain_runnel base_s true "before, schemas on" "" "$RUNNEL_BASE"; BASE_S_RATE=$RATE
fi
echo "==> drain: runnel, schemas off, ExtractNewRecordState + RegexRouter + InsertField"
CHAIN=1 drain_runnel runnel_t false "schemas off, unwrap + route + insert field"; RUNNEL_T_RATE=$RATE; RECORDS_T=$RECORDS
RECORDS=$RECORDS_OFF
echo "==> drain: Debezium, schemas off"
drain_dbz dbz false "schemas off"; DBZ_RATE=$RATE; DBZ_RSS=$RSS_MB
echo "==> drain: Debezium, schemas on"
drain_dbz dbz_s true "schemas on"; DBZ_S_RATE=$RATE
RECORDS=$RECORDS_T
echo "==> drain: Debezium, schemas off, ExtractNewRecordState + RegexRouter + InsertField"
CHAIN=1 drain_dbz dbz_t false "schemas off, unwrap + route + insert field"; DBZ_T_RATE=$RATE
fi

# ---------------------------------------------------------------- snapshot
if want snapshot; then
echo "==> snapshot: loading $SNAP_N orders"
"${PSQL[@]}" -d postgres -c "CREATE DATABASE snap" >/dev/null
"${PSQL[@]}" -d snap -f crates/runnel/tests/fixtures/postgres/schema.sql >/dev/null
"${PSQL[@]}" -d snap -c "CALL rig_seed($SNAP_N, 0)" -c "CREATE PUBLICATION dbz_publication FOR TABLE orders" >/dev/null
export DB=snap
echo "==> snapshot: COPY orders TO STDOUT"
measure copy "${PSQL[@]}" -d snap -c "COPY orders TO STDOUT" -o /dev/null
COPY_RATE=$(echo "$SNAP_N / $ELAPSED" | bc -l)
ROWS+=("| snapshot | COPY orders TO STDOUT (psql, /dev/null) | $(printf %.0f "$COPY_RATE") rows/s | $(printf %.2f "$CPU") | $(printf %.0f "$RSS_MB") MB |")
snap_runnel() {  # label threads out(file, or - for /dev/null) [binary]
  local name="snap$2" bin=${4:-$RUNNEL}
  [ "$3" = - ] && name="snapnull$2"
  [ -n "${4:-}" ] && name="b$name"
  runnel_config "$name" "$name" false "$3" \
    ", \"snapshot.mode\": \"initial_only\", \"table.include.list\": \"public.orders\", \"snapshot.max.threads\": \"$2\"" \
    > "$WORK/$name.json"
  echo "==> snapshot: runnel, $1"
  RUNNEL_LOG=warn measure "$name" "$bin" run "$WORK/$name.json" --state-dir "$WORK/state-$name" > /dev/null
  RATE=$(echo "$SNAP_N / $ELAPSED" | bc -l)
  ROWS+=("| snapshot | runnel, $1 | $(printf %.0f "$RATE") rows/s | $(printf %.2f "$CPU") | $(printf %.0f "$RSS_MB") MB |")
  rm -f "$3"
}
snap_runnel "snapshot.max.threads=1" 1 "$WORK/snap1.jsonl"; SNAP_RUNNEL_RATE=$RATE; SNAP_RUNNEL_RSS=$RSS_MB
if [ -n "$RUNNEL_BASE" ]; then
  snap_runnel "before, snapshot.max.threads=1" 1 "$WORK/bsnap1.jsonl" "$RUNNEL_BASE"; SNAP_BASE_RATE=$RATE; SNAP_BASE_RSS=$RSS_MB
fi
snap_runnel "snapshot.max.threads=2" 2 "$WORK/snap2.jsonl"; SNAP_RUNNEL2_RATE=$RATE
snap_runnel "snapshot.max.threads=1, stdout → /dev/null" 1 -; SNAP_RUNNEL_N_RATE=$RATE
echo "==> snapshot: Debezium"
dbz_props snapdbz false "$WORK/snapdbz.props"
sed -i 's/^snapshot.mode=.*/snapshot.mode=initial_only/' "$WORK/snapdbz.props"
echo "table.include.list=public.orders" >> "$WORK/snapdbz.props"
measure snapdbz java -cp "$DBZ_CP" DbzCapture "$WORK/snapdbz.props" "$WORK/snapdbz.jsonl" "$SNAP_N" 5000 > "$WORK/snapdbz.log" 2>&1
secs=$(sed -n 's/.*seconds=\([0-9.]*\).*/\1/p' "$WORK/snapdbz.log" | tail -1)
SNAP_DBZ_RATE=$(echo "$SNAP_N / $secs" | bc -l); SNAP_DBZ_RSS=$RSS_MB
ROWS+=("| snapshot | Debezium 3.6.3 (first to last record) | $(printf %.0f "$SNAP_DBZ_RATE") rows/s | $(printf %.2f "$CPU") | $(printf %.0f "$RSS_MB") MB |")
rm -f "$WORK/snapdbz.jsonl"
unset DB
fi

# ---------------------------------------------------------------- latency
if want latency; then
echo "==> latency: $LAT_RATE commits/s for $LAT_SECS s per contender"
"${PSQL[@]}" -d rig -c "CREATE TABLE lat (id bigserial PRIMARY KEY, v text NOT NULL)" >/dev/null
echo "INSERT INTO lat (v) VALUES ('x');" > "$WORK/lat.sql"
latency_run() {  # label slot command...
  local label=$1 slot=$2; shift 2
  # A fresh slot per contender: nothing from the previous run to drain first.
  "${PSQL[@]}" -d rig -c "SELECT pg_create_logical_replication_slot('$slot', 'pgoutput')" >/dev/null
  "$@" &
  local pid=$!
  for _ in $(seq 1 600); do
    [ "$("${PSQL[@]}" -d rig -Atc "SELECT count(*) FROM pg_replication_slots WHERE slot_name='$slot' AND active")" = 1 ] && break
    sleep 0.1
  done
  sleep 2
  python3 bench/latency_tail.py "$WORK/$slot.jsonl" '"table":"lat"' $((LAT_SECS + 5)) > "$WORK/$slot.lat" &
  local tail=$!
  sleep 0.5
  "$PGBIN/pgbench" -h 127.0.0.1 -p "$PORT" -U postgres -n -c 2 -j 2 -R "$LAT_RATE" -T "$LAT_SECS" -f "$WORK/lat.sql" rig >/dev/null 2>&1
  wait $tail
  kill -TERM $pid 2>/dev/null || true; wait $pid 2>/dev/null || true
  local stats; stats=$(cat "$WORK/$slot.lat")
  local p50 p99 p999 events
  read -r events p50 p99 p999 < <(python3 -c "import json,sys; d=json.loads(sys.argv[1]); print(d['events'], d['p50'], d['p99'], d['p999'])" "$stats")
  ROWS+=("| latency | $label | p50 $p50 ms · p99 $p99 ms · p99.9 $p999 ms ($events events) | | |")
  echo "$label: $stats"
  eval "LAT_${slot}=$p99"
}
runnel_config lat latr false "$WORK/latr.jsonl" > "$WORK/latr.json"
latency_run "runnel (file sink, fsync per group)" latr env RUNNEL_LOG=warn "$RUNNEL" run "$WORK/latr.json" --state-dir "$WORK/state-lat"
dbz_props latd false "$WORK/latd.props"
latency_run "Debezium 3.6.3, defaults" latd java -cp "$DBZ_CP" DbzCapture "$WORK/latd.props" "$WORK/latd.jsonl" 1000000000 600000
dbz_props latd10 false "$WORK/latd10.props"
echo "poll.interval.ms=10" >> "$WORK/latd10.props"
latency_run "Debezium 3.6.3, poll.interval.ms=10" latd10 java -cp "$DBZ_CP" DbzCapture "$WORK/latd10.props" "$WORK/latd10.jsonl" 1000000000 600000
fi

# ---------------------------------------------------------------- report
ratio() { printf %.2f "$(echo "$1 / $2" | bc -l)"; }
{
  echo "# runnel benchmark, $(date -u '+%F %H:%M UTC')"
  echo
  echo "Machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(free -g | awk '/Mem:/ {print $2}') GiB;"
  echo "PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') (private instance, wal_level=logical, synchronous_commit=on,"
  echo "shared_buffers=256MB); runnel $(git rev-parse --short HEAD) (release); Debezium 3.6.3 embedded engine"
  echo "(JsonConverter, defaults unless stated) on $(java -version 2>&1 | head -1)."
  echo
  echo "Workloads: drain = $N changes (60% insert, 30% update, 10% delete, 100 rows per transaction,"
  echo "order-management schema: orders ~15 columns, order_details, customers), already in the slot;"
  echo "snapshot = the orders table with $SNAP_N rows; latency = $LAT_RATE single-row inserts/s for $LAT_SECS s."
  echo "runnel and Debezium write JSON lines {topic, key, value} to a file (runnel fsyncs before committing"
  echo "offsets; Debezium's driver flushes per batch). Drain rates count source changes; Debezium's time is"
  echo "its first to last record (JVM start excluded), runnel's from process start to the last offset"
  echo "committed. CPU is in cores (user + system over the elapsed time)."
  echo
  echo "| workload | contender | result | CPU | peak RSS |"
  echo "| --- | --- | --- | --- | --- |"
  printf '%s\n' "${ROWS[@]}"
  echo
  echo "Ratios:"
  if want drain; then
    echo "- drain, schemas off: runnel/pg_recvlogical $(ratio "$RUNNEL_RATE" "$RAW_RATE"), runnel/Debezium $(ratio "$RUNNEL_RATE" "$DBZ_RATE") (to /dev/null: $(ratio "$RUNNEL_N_RATE" "$RAW_RATE") and $(ratio "$RUNNEL_N_RATE" "$DBZ_RATE"))"
    echo "- drain, schemas on: runnel/Debezium $(ratio "$RUNNEL_S_RATE" "$DBZ_S_RATE")"
    echo "- drain, schemas off, unwrap + route + insert field: runnel/Debezium $(ratio "$RUNNEL_T_RATE" "$DBZ_T_RATE"); transformed/untransformed runnel $(ratio "$RUNNEL_T_RATE" "$RUNNEL_RATE"), Debezium $(ratio "$DBZ_T_RATE" "$DBZ_RATE")"
  fi
  want snapshot && echo "- snapshot: runnel/Debezium $(ratio "$SNAP_RUNNEL_RATE" "$SNAP_DBZ_RATE") (2 threads: $(ratio "$SNAP_RUNNEL2_RATE" "$SNAP_DBZ_RATE")), runnel/COPY $(ratio "$SNAP_RUNNEL_RATE" "$COPY_RATE") (to /dev/null: $(ratio "$SNAP_RUNNEL_N_RATE" "$SNAP_DBZ_RATE") and $(ratio "$SNAP_RUNNEL_N_RATE" "$COPY_RATE"))"
  want latency && echo "- latency p99: runnel ${LAT_latr} ms, Debezium ${LAT_latd} ms (defaults), ${LAT_latd10} ms (poll.interval.ms=10)"
  want drain && echo "- memory (drain): runnel $(printf %.0f "$RUNNEL_RSS") MB, Debezium $(printf %.0f "$DBZ_RSS") MB"
  want snapshot && echo "- memory (snapshot): runnel $(printf %.0f "$SNAP_RUNNEL_RSS") MB, Debezium $(printf %.0f "$SNAP_DBZ_RSS") MB"
  if [ -n "$RUNNEL_BASE" ]; then
    echo "- this build / the build before ($RUNNEL_BASE), same run:"
    want drain && echo "  drain schemas off $(ratio "$RUNNEL_RATE" "$BASE_RATE"), schemas on $(ratio "$RUNNEL_S_RATE" "$BASE_S_RATE"); drain peak RSS $(printf %.0f "$RUNNEL_RSS") vs $(printf %.0f "$BASE_RSS") MB"
    want snapshot && echo "  snapshot $(ratio "$SNAP_RUNNEL_RATE" "$SNAP_BASE_RATE"); snapshot peak RSS $(printf %.0f "$SNAP_RUNNEL_RSS") vs $(printf %.0f "$SNAP_BASE_RSS") MB"
  fi
  true
} > "$RESULTS"
if want pgsink; then
  echo "==> PostgreSQL → PostgreSQL (bench/pgsink.sh)"
  { echo; echo "## PostgreSQL → PostgreSQL"; echo; N=$PGSINK_N bash bench/pgsink.sh | sed -n '/^| workload/,$p'; } >> "$RESULTS"
fi
if want s3; then
  echo "==> PostgreSQL → S3 (bench/s3.sh)"
  { echo; echo "## PostgreSQL → S3"; echo; N=${S3_N:-1000000} bash bench/s3.sh | sed -n '/^| workload/,$p'; } >> "$RESULTS"
fi
if want delta; then
  echo "==> PostgreSQL → Delta Lake (bench/delta.sh)"
  { echo; echo "## PostgreSQL → Delta Lake"; echo; N=${DELTA_N:-1000000} bash bench/delta.sh | sed -n '/^| workload/,$p'; } >> "$RESULTS"
fi
if want mysql; then
  echo "==> MariaDB source (bench/mysql.sh)"
  { echo; echo "## MariaDB source"; echo; N=${MYSQL_N:-1000000} SNAP_N=${MYSQL_N:-1000000} bash bench/mysql.sh | sed -n '/^| workload/,$p'; } >> "$RESULTS"
fi
cat "$RESULTS"
