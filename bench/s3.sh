#!/usr/bin/env bash
# PostgreSQL → S3: runnel's object storage sink (sink.type=s3, Confluent's keys, $FLUSH records
# per object) beside boto3 uploading the same bytes, in objects of the same sizes, to the same
# private S3 server (SeaweedFS), in one run. Two runnel runs from two slots holding the same
# backlog ($N mixed changes: 60% insert, 30% update, 10% delete, transactions of 100 rows, the
# order-management schema): the change events as JSON lines (schemas off), and the unwrapped
# rows as Parquet (ExtractNewRecordState, snappy). runnel is timed from its start until its
# offset is committed past the backlog (every object written); boto3 from its first to its last
# upload. Also reported: the CPU the S3 server and the whole machine spent meanwhile (all
# contenders share two cores), and PostgreSQL's own stream of the backlog (pg_recvlogical to
# /dev/null): no sink can write the changes faster than PostgreSQL decodes them.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-1000000}
FLUSH=${FLUSH:-20000}
ROOT=$PWD
RUNNEL_WITH_S3=1 source scripts/install-deps.sh
cargo build --release --locked -p runnel >/dev/null 2>&1 || cargo build --release --locked -p runnel
RUNNEL="$ROOT/target/release/runnel"
SLOTS="raw runnel_json runnel_parquet"
source bench/common.sh
bench_backlog

bench_s3_start json parquet plain

# CPU seconds of a process (and its threads) so far.
proc_cpu() { awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$1/stat"; }
# Busy and total jiffies of the machine so far.
machine_cpu() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $2 + $3 + $4 + $5 + $6 + $7 + $8 }' /proc/stat; }

# run_runnel LABEL SLOT BUCKET EXTRA_JSON: sets SECS CPU RSS OBJECTS BYTES WEED_CPU BUSY.
run_runnel() {
  local label=$1 slot=$2 bucket=$3 extra=$4
  echo "==> runnel, sink.type=s3 ($label, $FLUSH records per object)"
  cat > "$WORK/$label.json" <<JSON
{"name": "to-s3-$label", "config": {"connector.class": "io.debezium.connector.postgresql.PostgresConnector",
 "database.hostname": "127.0.0.1", "database.port": "$PORT", "database.user": "postgres", "database.dbname": "rig",
 "topic.prefix": "rig", "slot.name": "$slot", "publication.name": "dbz_publication",
 "publication.autocreate.mode": "disabled", "snapshot.mode": "no_data",
 "sink.type": "s3", "sink.s3.s3.bucket.name": "$bucket", "sink.s3.s3.region": "us-east-1",
 "sink.s3.store.url": "$ENDPOINT", "sink.s3.aws.access.key.id": "$AWS_ACCESS_KEY_ID",
 "sink.s3.aws.secret.access.key": "$AWS_SECRET_ACCESS_KEY",
 "sink.s3.flush.size": "$FLUSH", "sink.s3.rotate.schedule.interval.ms": "1000", $extra}}
JSON
  local w0 m0 t0 t1 w1 m1 pid rpid user sys maxkb
  w0=$(proc_cpu "$SPID"); m0=$(machine_cpu)
  t0=$(date +%s.%N)
  RUNNEL_LOG=${RUNNEL_LOG:-warn} /usr/bin/time -f "%e %U %S %M" -o "$WORK/time.$label" \
    "$RUNNEL" run "$WORK/$label.json" --state-dir "$WORK/state-$label" > /dev/null 2> "${RUNNEL_LOG_FILE:-/dev/null}" &
  pid=$!
  for _ in $(seq 1 100); do rpid=$(pgrep -P $pid || true); [ -n "$rpid" ] && break; sleep 0.05; done
  wait_runnel_caught_up "$rpid" "$WORK/state-$label"
  t1=$(date +%s.%N)
  w1=$(proc_cpu "$SPID"); m1=$(machine_cpu)
  kill -TERM "$rpid"; wait $pid || true
  read -r _ user sys maxkb < "$WORK/time.$label"
  SECS=$(echo "$t1 - $t0" | bc -l)
  CPU=$(echo "($user + $sys) / $SECS" | bc -l)
  RSS=$(echo "$maxkb / 1024" | bc -l)
  WEED_CPU=$(echo "($w1 - $w0) / $SECS" | bc -l)
  read -r b0 a0 <<< "$m0"; read -r b1 a1 <<< "$m1"
  BUSY=$(echo "100 * ($b1 - $b0) / ($a1 - $a0)" | bc -l)
  read -r BYTES OBJECTS <<< "$(python3 - "$ENDPOINT" "$bucket" <<'PY'
import sys, boto3
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1")
sizes = [o["Size"] for p in s3.get_paginator("list_objects_v2").paginate(Bucket=sys.argv[2]) for o in p.get("Contents", [])]
print(sum(sizes), len(sizes))
PY
)"
}

# plain_upload BUCKET: boto3 puts objects of the sizes in BUCKET into "plain"; sets PY_SECS PY_BUSY.
plain_upload() {
  echo "==> boto3, the same object sizes as $1"
  local m0 m1
  m0=$(machine_cpu)
  PY_SECS=$(python3 - "$ENDPOINT" "$1" <<'PY'
import sys, time
import boto3
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1")
sizes = [o["Size"] for p in s3.get_paginator("list_objects_v2").paginate(Bucket=sys.argv[2]) for o in p.get("Contents", [])]
# One body, filled with JSON-like bytes (the server does not compress), cut to each size.
body = (b'{"before":null,"after":{"order_id":1,"status":"placed"},"op":"c"}\n' * (max(sizes) // 64 + 1))
t0 = time.time()
for i, size in enumerate(sizes):
    s3.put_object(Bucket="plain", Key=f"{sys.argv[2]}/obj-{i:06}", Body=body[:size])
print(time.time() - t0)
PY
)
  m1=$(machine_cpu)
  read -r b0 a0 <<< "$m0"; read -r b1 a1 <<< "$m1"
  PY_BUSY=$(echo "100 * ($b1 - $b0) / ($a1 - $a0)" | bc -l)
}

row() { # LABEL
  local mb rate mbs pymbs
  mb=$(echo "$BYTES / 1048576" | bc -l)
  rate=$(echo "$N / $SECS" | bc -l)
  mbs=$(echo "$mb / $SECS" | bc -l)
  pymbs=$(echo "$mb / $PY_SECS" | bc -l)
  printf '| PostgreSQL → S3 (SeaweedFS), %s changes, %s | runnel, sink.type=s3, %s records per object | %.0f changes/s, %.1f MB/s (%.1f s, %s objects, %.0f MB); runnel / pg_recvlogical: %.2f | %.2f | %.0f MB | %.2f | %.0f %% |\n' \
    "$N" "$1" "$FLUSH" "$rate" "$mbs" "$SECS" "$OBJECTS" "$mb" "$(echo "$RAW_SECS / $SECS" | bc -l)" "$CPU" "$RSS" "$WEED_CPU" "$BUSY"
  printf '| the same bytes to S3 | boto3 put_object, the same %s object sizes | %.1f MB/s (%.1f s); runnel / boto3: **%.2f** (at most %.2f: the bytes as fast as PostgreSQL streams the changes) | | | | %.0f %% |\n' \
    "$OBJECTS" "$pymbs" "$PY_SECS" "$(echo "$mbs / $pymbs" | bc -l)" "$(echo "$PY_SECS / $RAW_SECS" | bc -l)" "$PY_BUSY"
}

echo "==> PostgreSQL's own stream: pg_recvlogical to /dev/null"
t0=$(date +%s.%N)
pg_recvlogical -h 127.0.0.1 -p "$PORT" -U postgres -d rig --slot raw --start \
  -o proto_version=1 -o publication_names=dbz_publication --endpos="$END" -f /dev/null
RAW_SECS=$(echo "$(date +%s.%N) - $t0" | bc -l)

run_runnel json runnel_json json '"value.converter.schemas.enable": "false"'
plain_upload json
ROWS=$(row "JSON")
run_runnel parquet runnel_parquet parquet '"sink.s3.format.class": "io.confluent.connect.s3.format.parquet.ParquetFormat", "transforms": "unwrap", "transforms.unwrap.type": "io.debezium.transforms.ExtractNewRecordState"'
plain_upload parquet
ROWS="$ROWS
$(row "Parquet (unwrapped rows, snappy)")"

cat <<MD
| workload | contender | result | CPU | peak RSS | S3 server CPU | machine busy |
| --- | --- | --- | --- | --- | --- | --- |
| PostgreSQL's own stream, $N changes | pg_recvlogical (pgoutput v1) to /dev/null | $(printf %.0f "$(echo "$N / $RAW_SECS" | bc -l)") changes/s ($(printf %.1f "$RAW_SECS") s) | | | | |
$ROWS

runnel / boto3 is the ratio of MB/s (the goal: 0.90 or more). "S3 server CPU" is the cores
SeaweedFS used during runnel's run; "machine busy" the share of both cores in use.
MD
