#!/usr/bin/env bash
# PostgreSQL → Delta Lake: runnel's Delta sink (sink.type=delta, a current-state table per source
# table, MERGE by key every $FLUSH changes) beside runnel's object storage sink writing the same
# changes as JSON lines, on a local directory and on a private S3 server (SeaweedFS), in one run.
# Four runnel runs from four slots holding the same backlog ($N mixed changes: 60% insert, 30%
# update, 10% delete, transactions of 100 rows, the order-management schema, on 200,000 seeded
# orders), each timed from its start until its offset is committed past the backlog. Also:
#   - PostgreSQL's own stream of the backlog (pg_recvlogical to /dev/null), the ceiling;
#   - reading the current state of `orders` (the rows the backlog touched: the slots start after
#     the seed) afterwards with DuckDB: from the Delta table (delta_scan) and from the JSON lines
#     (read_json, the newest change per key, deletes out) — what DeltaStreamer's job would
#     otherwise compute — both giving the same count and sum;
#   - end-to-end delay at $LAT_RATE single-row commits/s for $LAT_SECS s (pgbench): commit
#     timestamp → row visible to a delta-rs reader polling the table, p50/p99/max, with
#     flush.interval.ms=$LAT_FLUSH_MS.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-1000000}
FLUSH=${FLUSH:-100000}
LAT_RATE=${LAT_RATE:-1000}
LAT_SECS=${LAT_SECS:-20}
LAT_FLUSH_MS=${LAT_FLUSH_MS:-1000}
ROOT=$PWD
RUNNEL_WITH_S3=1 RUNNEL_WITH_DELTA=1 source scripts/install-deps.sh
# RUNNEL_BIN: a runnel built with the delta feature already (a smoke run of this script).
if [ -z "${RUNNEL_BIN:-}" ]; then
  cargo build --release --locked -p runnel --features delta >/dev/null 2>&1 || cargo build --release --locked -p runnel --features delta
fi
RUNNEL=${RUNNEL_BIN:-$ROOT/target/release/runnel}
SLOTS="raw delta_local json_local delta_s3 json_s3 lat"
source bench/common.sh
bench_backlog

bench_s3_start lake json
# BENCH_KEEP_LOGS=DIR keeps runnel's logs of each run there.
PG_CLEANUP_HOOK="$PG_CLEANUP_HOOK; [ -n \"${BENCH_KEEP_LOGS:-}\" ] && cp $WORK/log.* \"${BENCH_KEEP_LOGS:-}\" 2>/dev/null; true"

S3_KEYS="\"store.url\": \"$ENDPOINT\", \"aws.access.key.id\": \"$AWS_ACCESS_KEY_ID\", \"aws.secret.access.key\": \"$AWS_SECRET_ACCESS_KEY\""

# run_runnel LABEL SLOT SINK_JSON: sets SECS CPU RSS.
run_runnel() {
  local label=$1 slot=$2 sink=$3
  echo "==> runnel, $label"
  cat > "$WORK/$label.json" <<JSON
{"name": "$label", "config": {"connector.class": "io.debezium.connector.postgresql.PostgresConnector",
 "database.hostname": "127.0.0.1", "database.port": "$PORT", "database.user": "postgres", "database.dbname": "rig",
 "topic.prefix": "rig", "slot.name": "$slot", "publication.name": "dbz_publication",
 "publication.autocreate.mode": "disabled", "snapshot.mode": "no_data",
 "value.converter.schemas.enable": "false", $sink}}
JSON
  local t0 t1 pid rpid user sys maxkb
  t0=$(date +%s.%N)
  RUNNEL_LOG=${RUNNEL_LOG:-warn} /usr/bin/time -f "%e %U %S %M" -o "$WORK/time.$label" \
    "$RUNNEL" run "$WORK/$label.json" --state-dir "$WORK/state-$label" > /dev/null 2> "$WORK/log.$label" &
  pid=$!
  for _ in $(seq 1 100); do rpid=$(pgrep -P $pid || true); [ -n "$rpid" ] && break; sleep 0.05; done
  wait_runnel_caught_up "$rpid" "$WORK/state-$label"
  t1=$(date +%s.%N)
  kill -TERM "$rpid"; wait $pid || true
  read -r _ user sys maxkb < "$WORK/time.$label"
  SECS=$(echo "$t1 - $t0" | bc -l)
  CPU=$(echo "($user + $sys) / $SECS" | bc -l)
  RSS=$(echo "$maxkb / 1024" | bc -l)
}

result_row() { # WHAT CONTENDER
  printf '| %s | %s | %.0f changes/s (%.1f s); / pg_recvlogical: %.2f | %.2f | %.0f MB |\n' \
    "$1" "$2" "$(echo "$N / $SECS" | bc -l)" "$SECS" "$(echo "$RAW_SECS / $SECS" | bc -l)" "$CPU" "$RSS"
}

echo "==> PostgreSQL's own stream: pg_recvlogical to /dev/null"
t0=$(date +%s.%N)
pg_recvlogical -h 127.0.0.1 -p "$PORT" -U postgres -d rig --slot raw --start \
  -o proto_version=1 -o publication_names=dbz_publication --endpos="$END" -f /dev/null
RAW_SECS=$(echo "$(date +%s.%N) - $t0" | bc -l)

run_runnel delta_local delta_local "\"sink.type\": \"delta\", \"sink.delta.uri\": \"$WORK/lake\", \"sink.delta.flush.size\": \"$FLUSH\", \"sink.delta.flush.interval.ms\": \"1000\""
ROWS=$(result_row "PostgreSQL → Delta, local directory" "runnel, sink.type=delta, MERGE every $FLUSH changes")
run_runnel json_local json_local "\"sink.type\": \"files\", \"sink.files.path\": \"$WORK/json\", \"sink.files.flush.size\": \"$FLUSH\", \"sink.files.rotate.schedule.interval.ms\": \"1000\""
ROWS="$ROWS
$(result_row "PostgreSQL → JSON lines, local directory" "runnel, sink.type=files, $FLUSH records per object")"
run_runnel delta_s3 delta_s3 "\"sink.type\": \"delta\", \"sink.delta.uri\": \"s3://lake/current\", \"sink.delta.flush.size\": \"$FLUSH\", \"sink.delta.flush.interval.ms\": \"1000\", $(sed 's/"\([a-z.]*\)": /"sink.delta.\1": /g' <<< "$S3_KEYS")"
ROWS="$ROWS
$(result_row "PostgreSQL → Delta on S3 (SeaweedFS)" "runnel, sink.type=delta, MERGE every $FLUSH changes")"
run_runnel json_s3 json_s3 "\"sink.type\": \"s3\", \"sink.s3.s3.bucket.name\": \"json\", \"sink.s3.s3.region\": \"us-east-1\", \"sink.s3.flush.size\": \"$FLUSH\", \"sink.s3.rotate.schedule.interval.ms\": \"1000\", $(sed 's/"\([a-z.]*\)": /"sink.s3.\1": /g' <<< "$S3_KEYS")"
ROWS="$ROWS
$(result_row "PostgreSQL → JSON lines on S3 (SeaweedFS)" "runnel, sink.type=s3, $FLUSH records per object")"

echo "==> reading the current state of orders with DuckDB"
READS=$(python3 - "$WORK" "$PORT" <<'PY'
import os, sys, time
import duckdb, duckdb_extension_delta
work, port = sys.argv[1], sys.argv[2]
ext = next(os.path.join(r, f) for r, _, fs in os.walk(os.path.dirname(duckdb_extension_delta.__file__)) for f in fs if f.endswith(".duckdb_extension"))
con = duckdb.connect(config={"allow_unsigned_extensions": "true", "autoinstall_known_extensions": "false", "autoload_known_extensions": "false"})
con.execute(f"LOAD '{ext}'")
def timed(sql):
    best = None
    for _ in range(3):
        t0 = time.time(); r = con.execute(sql).fetchall(); t = time.time() - t0
        best = t if best is None else min(best, t)
    return r[0], best
delta_q = f"SELECT count(*), sum(customer_id) FROM delta_scan('{work}/lake/rig.public.orders')"
json_q = f"""SELECT count(*), sum(customer_id) FROM (
  SELECT op, after.customer_id AS customer_id, row_number() OVER (PARTITION BY coalesce(after.order_id, before.order_id)
         ORDER BY source.lsn DESC) AS rn
  FROM read_json('{work}/json/**/rig.public.orders+*.json', format='newline_delimited', union_by_name=true, maximum_object_size=1048576)
  WHERE source."table" = 'orders') WHERE rn = 1 AND op <> 'd'"""
(dc, ds), dt = timed(delta_q)
(jc, js), jt = timed(json_q)
same = (dc, ds) == (jc, js)
print(f"| current state of orders: the {dc} rows the backlog changed | DuckDB delta_scan of the Delta table | {dt*1000:.0f} ms | |")
print(f"| the same from the JSON lines | DuckDB read_json, newest change per key, deletes out | {jt*1000:.0f} ms; JSON / Delta: **{jt/dt:.1f}** | the same count and sum(customer_id): {same} |")
PY
)

echo "==> delay at $LAT_RATE commits/s"
"${PSQL[@]}" -d rig -c "CREATE TABLE lat (id bigserial PRIMARY KEY, ts timestamptz NOT NULL DEFAULT clock_timestamp())" >/dev/null
cat > "$WORK/lat.json" <<JSON
{"name": "lat", "config": {"connector.class": "io.debezium.connector.postgresql.PostgresConnector",
 "database.hostname": "127.0.0.1", "database.port": "$PORT", "database.user": "postgres", "database.dbname": "rig",
 "topic.prefix": "lat", "slot.name": "lat", "publication.name": "dbz_publication", "table.include.list": "public.lat",
 "publication.autocreate.mode": "disabled", "snapshot.mode": "no_data",
 "sink.type": "delta", "sink.delta.uri": "$WORK/latlake", "sink.delta.flush.interval.ms": "$LAT_FLUSH_MS"}}
JSON
# The slot was created before the backlog: skip it first (a fresh slot position for this table).
"${PSQL[@]}" -d rig -c "SELECT pg_replication_slot_advance('lat', pg_current_wal_lsn())" >/dev/null
RUNNEL_LOG=warn "$RUNNEL" run "$WORK/lat.json" --state-dir "$WORK/state-lat" > /dev/null 2> "$WORK/log.lat" &
LPID=$!
sleep 2
echo "INSERT INTO lat DEFAULT VALUES;" > "$WORK/lat.sql"
python3 - "$WORK/latlake/lat.public.lat" "$((LAT_SECS + 15))" "$((LAT_RATE * LAT_SECS))" > "$WORK/lat.out" <<'PY' &
import sys, time, datetime
from deltalake import DeltaTable
uri, secs, total = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
until, seen, delays, version = time.time() + secs, 0, [], None
while time.time() < until and len(delays) < total:
    try:
        dt = DeltaTable(uri)
    except Exception:
        time.sleep(0.05); continue
    if dt.version() != version:
        version = dt.version()
        now = datetime.datetime.now(datetime.timezone.utc)
        t = dt.to_pyarrow_table(columns=["id", "ts"]).to_pylist()
        for r in t:
            if r["id"] > seen:
                delays.append((now - r["ts"]).total_seconds() * 1000)
        seen = max([seen] + [r["id"] for r in t])
    time.sleep(0.02)
delays.sort()
q = lambda p: delays[min(len(delays) - 1, int(p * len(delays)))]
print(f"{len(delays)} {q(0.5):.0f} {q(0.99):.0f} {delays[-1]:.0f}")
PY
RPID=$!
pgbench -n -h 127.0.0.1 -p "$PORT" -U postgres -R "$LAT_RATE" -T "$LAT_SECS" -f "$WORK/lat.sql" rig > "$WORK/pgbench.out" 2>&1
wait $RPID || true
kill -TERM "$LPID" 2>/dev/null; wait "$LPID" || true
read -r LAT_N LAT_P50 LAT_P99 LAT_MAX < "$WORK/lat.out"

cat <<MD
| workload | contender | result | CPU | peak RSS |
| --- | --- | --- | --- | --- |
| PostgreSQL's own stream, $N changes | pg_recvlogical (pgoutput v1) to /dev/null | $(printf %.0f "$(echo "$N / $RAW_SECS" | bc -l)") changes/s ($(printf %.1f "$RAW_SECS") s) | | |
$ROWS

| read after the run | reader | time | check |
| --- | --- | --- | --- |
$READS

| delay, $LAT_RATE single-row commits/s for $LAT_SECS s | flush.interval.ms=$LAT_FLUSH_MS | $LAT_N rows: commit → visible to a delta-rs reader p50 $LAT_P50 ms, p99 $LAT_P99 ms, max $LAT_MAX ms |
| --- | --- | --- |
MD
