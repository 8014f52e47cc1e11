#!/usr/bin/env bash
# PostgreSQL → S3: runnel's object storage sink (sink.type=s3, Confluent's keys, JSON lines of
# the change events, flush.size records per object) beside boto3 uploading the same bytes, in
# objects of the same sizes, to the same private S3 server (SeaweedFS), in one run. The backlog:
# $N mixed changes (60% insert, 30% update, 10% delete, transactions of 100 rows) of the
# order-management schema waiting in a slot. runnel is timed from its start until its offset is
# committed past the backlog (every object written); boto3 from its first to its last upload.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-1000000}
FLUSH=${FLUSH:-20000}
ROOT=$PWD
RUNNEL_WITH_S3=1 source scripts/install-deps.sh
cargo build --release --locked -p runnel >/dev/null 2>&1 || cargo build --release --locked -p runnel
RUNNEL="$ROOT/target/release/runnel"
SLOTS="runnel"
source bench/common.sh
bench_backlog

export AWS_ACCESS_KEY_ID=bench-key AWS_SECRET_ACCESS_KEY=bench-secret
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
SPORT=$(free_port)
mkdir -p "$WORK/s3"
ports=""
for flag in master.port master.port.grpc volume.port volume.port.grpc filer.port filer.port.grpc \
            s3.port.grpc admin.port admin.port.grpc webdav.port debug.port s3.debug.port; do
  ports="$ports -$flag=$(free_port)"
done
# shellcheck disable=SC2086
weed mini -dir="$WORK/s3" -ip=127.0.0.1 -ip.bind=127.0.0.1 -s3.port="$SPORT" $ports \
  -s3.port.iceberg=0 -s3.port.lance=0 -master.telemetry=false > "$WORK/s3.log" 2>&1 &
SPID=$!
PG_CLEANUP_HOOK="kill $SPID 2>/dev/null || true"
ENDPOINT="http://127.0.0.1:$SPORT"
python3 crates/runnel/tests/s3_client.py "$ENDPOINT" mkbucket bench
python3 crates/runnel/tests/s3_client.py "$ENDPOINT" mkbucket plain

echo "==> runnel, sink.type=s3 (JSON, $FLUSH records per object)"
cat > "$WORK/s3.json" <<JSON
{"name": "to-s3", "config": {"connector.class": "io.debezium.connector.postgresql.PostgresConnector",
 "database.hostname": "127.0.0.1", "database.port": "$PORT", "database.user": "postgres", "database.dbname": "rig",
 "topic.prefix": "rig", "slot.name": "runnel", "publication.name": "dbz_publication",
 "publication.autocreate.mode": "disabled", "snapshot.mode": "no_data",
 "value.converter.schemas.enable": "false",
 "sink.type": "s3", "sink.s3.s3.bucket.name": "bench", "sink.s3.s3.region": "us-east-1",
 "sink.s3.store.url": "$ENDPOINT", "sink.s3.aws.access.key.id": "$AWS_ACCESS_KEY_ID",
 "sink.s3.aws.secret.access.key": "$AWS_SECRET_ACCESS_KEY",
 "sink.s3.flush.size": "$FLUSH", "sink.s3.rotate.schedule.interval.ms": "1000"}}
JSON
t0=$(date +%s.%N)
RUNNEL_LOG=${RUNNEL_LOG:-warn} /usr/bin/time -f "%e %U %S %M" -o "$WORK/time.s3" \
  "$RUNNEL" run "$WORK/s3.json" --state-dir "$WORK/state-s3" > /dev/null 2> "${RUNNEL_LOG_FILE:-/dev/null}" &
pid=$!
for _ in $(seq 1 100); do rpid=$(pgrep -P $pid || true); [ -n "$rpid" ] && break; sleep 0.05; done
wait_runnel_caught_up "$rpid" "$WORK/state-s3"
t1=$(date +%s.%N)
kill -TERM "$rpid"; wait $pid || true
read -r _ USER SYS MAXKB < "$WORK/time.s3"
RUNNEL_SECS=$(echo "$t1 - $t0" | bc -l)

echo "==> boto3, the same object sizes"
PY=$(python3 - "$ENDPOINT" <<'PY'
import os, sys, time
import boto3
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1")
sizes, records = [], 0
for page in s3.get_paginator("list_objects_v2").paginate(Bucket="bench"):
    for o in page.get("Contents", []):
        sizes.append(o["Size"])
# One body per size, filled with JSON-like bytes (the server does not compress).
body = (b'{"before":null,"after":{"order_id":1,"status":"placed"},"op":"c"}\n' * (max(sizes) // 64 + 1))
t0 = time.time()
for i, size in enumerate(sizes):
    s3.put_object(Bucket="plain", Key=f"obj-{i:06}.json", Body=body[:size])
secs = time.time() - t0
print(f"{sum(sizes)} {len(sizes)} {secs}")
PY
)
read -r BYTES OBJECTS PY_SECS <<< "$PY"
MB=$(echo "$BYTES / 1048576" | bc -l)
RUNNEL_RATE=$(echo "$N / $RUNNEL_SECS" | bc -l)
RUNNEL_MBS=$(echo "$MB / $RUNNEL_SECS" | bc -l)
PY_MBS=$(echo "$MB / $PY_SECS" | bc -l)
RUNNEL_CPU=$(echo "($USER + $SYS) / $RUNNEL_SECS" | bc -l)
RUNNEL_RSS=$(echo "$MAXKB / 1024" | bc -l)

cat <<MD
| workload | contender | result | CPU | peak RSS |
| --- | --- | --- | --- | --- |
| PostgreSQL → S3 (SeaweedFS), $N changes, JSON | runnel, sink.type=s3, $FLUSH records per object | $(printf %.0f "$RUNNEL_RATE") changes/s, $(printf %.1f "$RUNNEL_MBS") MB/s ($(printf %.1f "$RUNNEL_SECS") s, $OBJECTS objects, $(printf %.0f "$MB") MB) | $(printf %.2f "$RUNNEL_CPU") | $(printf %.0f "$RUNNEL_RSS") MB |
| the same bytes to S3 | boto3 put_object, the same $OBJECTS object sizes | $(printf %.1f "$PY_MBS") MB/s ($(printf %.1f "$PY_SECS") s) | | |

Ratio runnel / boto3 (MB/s): $(printf %.2f "$(echo "$RUNNEL_MBS / $PY_MBS" | bc -l)")
MD
