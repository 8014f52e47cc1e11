#!/usr/bin/env bash
# Exactly once (exactly.once.source.support=enabled) against at least once, on one private
# PostgreSQL and one private nisshi 0.7.0 broker (the release that serves transactions): one
# distributed worker (a group of one) drains a backlog of $N mixed changes to Kafka, timed from
# its task RUNNING until its offset is past the backlog — first with exactly once disabled
# (idempotent producer, offsets published separately), then enabled (a transaction per group
# of batches, the offset inside it), each from its own slot, same run. Reports both rates and
# their ratio, and the records and transactions' share of the offset topic.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-1000000}
export RUNNEL_WITH_KAFKA=1
source scripts/install-deps.sh
SLOTS="idempotent transactional"
source bench/common.sh
cargo build --release --locked -p runnel >/dev/null 2>&1 || cargo build --release --locked -p runnel
RUNNEL="$PWD/target/release/runnel"
bench_backlog
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

BROKER_BIN=${RUNNEL_KAFKA_TXN_BROKER:-$HOME/.cache/runnel/nisshi-0.7.0/bin/nisshi}
KPORT=$(free_port)
"$BROKER_BIN" broker --listener-url "tcp://127.0.0.1:$KPORT" --advertised-listener-url "tcp://127.0.0.1:$KPORT" \
  --storage-engine memory://broker/ --cluster-id bench > "$WORK/broker.log" 2>&1 &
BPID=$!
PIDS=""
PG_CLEANUP_HOOK='kill -9 $BPID $PIDS 2>/dev/null || true'
until python3 -c "import socket; socket.create_connection(('127.0.0.1', $KPORT), 1)" 2>/dev/null; do sleep 0.1; done

drain() { # $1 slot, $2 exactly.once.source.support
  local dir="$WORK/$1" port
  port=$(free_port)
  mkdir -p "$dir"
  cat > "$dir/connect-distributed.properties" <<EOF
bootstrap.servers=127.0.0.1:$KPORT
group.id=$1
config.storage.topic=$1-configs
offset.storage.topic=$1-offsets
status.storage.topic=$1-status
config.storage.replication.factor=1
offset.storage.replication.factor=1
status.storage.replication.factor=1
listeners=http://127.0.0.1:$port
exactly.once.source.support=$2
EOF
  RUNNEL_LOG=warn "$RUNNEL" worker --listen "127.0.0.1:$port" --state-dir "$dir/state" \
    --config "$dir/connect-distributed.properties" > "$dir/worker.out" 2> "$dir/worker.log" &
  WPID=$!
  PIDS="$PIDS $WPID"
  until curl -sf "127.0.0.1:$port/health" >/dev/null; do sleep 0.1; done
  curl -sf -XPOST -H 'Content-Type: application/json' "127.0.0.1:$port/connectors" -d "{\"name\": \"drain\", \"config\": {
    \"connector.class\": \"io.debezium.connector.postgresql.PostgresConnector\",
    \"database.hostname\": \"127.0.0.1\", \"database.port\": \"$PORT\", \"database.user\": \"postgres\",
    \"database.dbname\": \"rig\", \"topic.prefix\": \"$1\", \"slot.name\": \"$1\",
    \"publication.autocreate.mode\": \"disabled\", \"snapshot.mode\": \"no_data\",
    \"key.converter.schemas.enable\": \"false\", \"value.converter.schemas.enable\": \"false\"}}" >/dev/null
  time_drain "$port" drain "$WPID" "$dir/state"
}

echo "==> one connector, $N changes to Kafka: exactly.once.source.support=disabled"
T_AT_LEAST=$(drain idempotent disabled)
echo "==> the same, exactly.once.source.support=enabled"
T_EXACTLY=$(drain transactional enabled)
OFFSETS=$(python3 - "127.0.0.1:$KPORT" <<'PY'
import sys
from confluent_kafka import Consumer, TopicPartition
c = Consumer({"bootstrap.servers": sys.argv[1], "group.id": "bench-count"})
md = c.list_topics(timeout=10)
n = 0
for p in md.topics["transactional-offsets"].partitions:
    lo, hi = c.get_watermark_offsets(TopicPartition("transactional-offsets", p), timeout=10)
    n += hi - lo
print(n)
PY
)
printf "\none connector, %d changes to Kafka (nisshi 0.7.0): at least once %.1f s (%.0f changes/s), exactly once %.1f s (%.0f changes/s); exactly / at least once: %.2f\n" \
  "$N" "$T_AT_LEAST" "$(echo "$N / $T_AT_LEAST" | bc -l)" "$T_EXACTLY" "$(echo "$N / $T_EXACTLY" | bc -l)" \
  "$(echo "$T_AT_LEAST / $T_EXACTLY" | bc -l)"
printf "the exactly-once run's offset topic: %s log entries (offset records, one per committed transaction, plus whatever transaction markers the broker writes)\n" "$OFFSETS"
