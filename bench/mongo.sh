#!/usr/bin/env bash
# PostgreSQL → MongoDB: runnel's MongoDB sink (sink.type=mongodb) beside a plain pymongo
# bulk_write of as many upserts of the same documents, in batches of the same size (1,000),
# against the same private MongoDB-protocol server (SecantusDB), in one run. The backlog: $N mixed
# changes (60% insert, 30% update, 10% delete, transactions of 100 rows) of the order-management
# schema waiting in a slot; the `orders` table's half of them is written (rows unwrapped by
# ExtractNewRecordState, `_id` the order id: ReplaceField$Key renames it, ProvidedInKeyStrategy,
# ReplaceOne upserts, tombstones delete). SecantusDB scans for a document-valued `_id` (32 writes/s
# measured here), so the `_id` is the scalar order id. runnel is timed from its start until its
# offset is committed past the backlog (every write acknowledged); pymongo from its first to its
# last acknowledged bulk write.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-1000000}
ROOT=$PWD
RUNNEL_WITH_MONGO=1 source scripts/install-deps.sh
cargo build --release --locked -p runnel >/dev/null 2>&1 || cargo build --release --locked -p runnel
RUNNEL="$ROOT/target/release/runnel"
SLOTS="runnel"
source bench/common.sh
bench_backlog

MPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$WORK/mongo"
secantusd-py --host 127.0.0.1 --port "$MPORT" --storage-path "$WORK/mongo" > "$WORK/mongo.log" 2>&1 &
MPID=$!
PG_CLEANUP_HOOK="kill $MPID 2>/dev/null || true"
URI="mongodb://127.0.0.1:$MPORT/?directConnection=true"
for _ in $(seq 1 200); do (echo > /dev/tcp/127.0.0.1/$MPORT) 2>/dev/null && break; sleep 0.1; done

echo "==> runnel, sink.type=mongodb"
cat > "$WORK/mongo.json" <<JSON
{"name": "to-mongo", "config": {"connector.class": "io.debezium.connector.postgresql.PostgresConnector",
 "database.hostname": "127.0.0.1", "database.port": "$PORT", "database.user": "postgres", "database.dbname": "rig",
 "topic.prefix": "rig", "slot.name": "runnel", "publication.name": "dbz_publication",
 "publication.autocreate.mode": "disabled", "snapshot.mode": "no_data",
 "table.include.list": "public.orders",
 "transforms": "unwrap,key",
 "transforms.unwrap.type": "io.debezium.transforms.ExtractNewRecordState",
 "transforms.key.type": "org.apache.kafka.connect.transforms.ReplaceField\$Key",
 "transforms.key.renames": "order_id:_id",
 "sink.type": "mongodb", "sink.mongodb.connection.uri": "$URI", "sink.mongodb.database": "runnel",
 "sink.mongodb.collection": "orders", "sink.mongodb.document.id.strategy": "ProvidedInKeyStrategy",
 "sink.mongodb.delete.on.null.values": "true"}}
JSON
t0=$(date +%s.%N)
RUNNEL_LOG=warn /usr/bin/time -f "%e %U %S %M" -o "$WORK/time.mongo" \
  "$RUNNEL" run "$WORK/mongo.json" --state-dir "$WORK/state-mongo" > /dev/null &
pid=$!
for _ in $(seq 1 100); do rpid=$(pgrep -P $pid || true); [ -n "$rpid" ] && break; sleep 0.05; done
wait_runnel_caught_up "$rpid" "$WORK/state-mongo"
t1=$(date +%s.%N)
kill -TERM "$rpid"; wait $pid || true
read -r _ USER SYS MAXKB < "$WORK/time.mongo"
RUNNEL_SECS=$(echo "$t1 - $t0" | bc -l)
# The orders table's changes of the backlog (half of it: inserts, updates, deletes).
ORDERS=$((N / 2))
RUNNEL_RATE=$(echo "$ORDERS / $RUNNEL_SECS" | bc -l)
RUNNEL_CPU=$(echo "($USER + $SYS) / $RUNNEL_SECS" | bc -l)
RUNNEL_RSS=$(echo "$MAXKB / 1024" | bc -l)

echo "==> pymongo bulk_write, $ORDERS upserts of the same documents"
PY=$(python3 - "$URI" "$ORDERS" <<'PY'
import sys, time
from pymongo import MongoClient, ReplaceOne
uri, n = sys.argv[1], int(sys.argv[2])
client = MongoClient(uri)
src = client.runnel
docs = []
for coll in ("orders",):
    docs += [(coll, d) for d in src[coll].find()]
if not docs:
    sys.exit("runnel wrote no documents")
dst = client.plain
t0 = time.time()
sent = 0
while sent < n:
    chunk = [docs[(sent + i) % len(docs)] for i in range(min(1000, n - sent))]
    by_coll = {}
    for coll, d in chunk:
        by_coll.setdefault(coll, []).append(ReplaceOne({"_id": d["_id"]}, d, upsert=True))
    for coll, ops in by_coll.items():
        dst[coll].bulk_write(ops, ordered=True)
    sent += len(chunk)
print(f"{n / (time.time() - t0)} {len(docs)}")
PY
)
read -r PY_RATE DOCS <<< "$PY"

cat <<MD
| workload | contender | result | CPU | peak RSS |
| --- | --- | --- | --- | --- |
| PostgreSQL → MongoDB (SecantusDB), $ORDERS changes of orders | runnel, sink.type=mongodb | $(printf %.0f "$RUNNEL_RATE") changes/s ($(printf %.1f "$RUNNEL_SECS") s) | $(printf %.2f "$RUNNEL_CPU") | $(printf %.0f "$RUNNEL_RSS") MB |
| PostgreSQL → MongoDB (SecantusDB), $ORDERS upserts | pymongo bulk_write, batches of 1,000 ReplaceOne upserts | $(printf %.0f "$PY_RATE") upserts/s | | |

Ratio runnel / pymongo: $(printf %.2f "$(echo "$RUNNEL_RATE / $PY_RATE" | bc -l)") ($DOCS documents at the end)
MD
