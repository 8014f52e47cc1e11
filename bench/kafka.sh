#!/usr/bin/env bash
# PostgreSQL → Kafka throughput: a backlog of N mixed changes (60% insert, 30% update, 10% delete,
# transactions of 100 rows) drained by runnel into a private nisshi (or tansu) broker (3 partitions per
# topic, acks=all, idempotent, lz4, schemas off), next to the broker's own limit measured in the
# same run with a plain producer (confluent-kafka, the same librdkafka settings, records of the
# same average size).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-1000000}
RUNNEL_WITH_KAFKA=1 source scripts/install-deps.sh
SLOTS=runnel
source bench/common.sh
cargo build --release --locked -p runnel >/dev/null 2>&1 || cargo build --release --locked -p runnel
RUNNEL="$PWD/target/release/runnel"
# The test command's broker: nisshi, or tansu where Rust 1.96 could not be installed.
BROKER_BIN=${RUNNEL_KAFKA_BROKER:-$HOME/.cache/runnel/nisshi-0.8.1/bin/nisshi}
[ -x "$BROKER_BIN" ] || BROKER_BIN=$HOME/.cache/runnel/tansu-0.6.0-fetchfix/bin/tansu
bench_backlog
KPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$BROKER_BIN" broker --listener-url "tcp://127.0.0.1:$KPORT" --advertised-listener-url "tcp://127.0.0.1:$KPORT" \
  --storage-engine memory://broker/ > "$WORK/broker.log" 2>&1 &
BROKER=$!
PG_CLEANUP_HOOK="kill $BROKER 2>/dev/null || true"

echo "==> runnel → Kafka (schemas off)"
cat > "$WORK/c.json" <<JSON
{"name": "bench", "config": {"connector.class": "io.debezium.connector.postgresql.PostgresConnector",
 "database.hostname": "127.0.0.1", "database.port": "$PORT", "database.user": "postgres", "database.dbname": "rig",
 "topic.prefix": "rig", "slot.name": "runnel", "snapshot.mode": "no_data", "publication.autocreate.mode": "disabled",
 "key.converter.schemas.enable": "false", "value.converter.schemas.enable": "false",
 "topic.creation.default.partitions": "3", "topic.creation.default.replication.factor": "1"}}
JSON
t0=$(date +%s.%N)
RUNNEL_LOG=warn "$RUNNEL" run "$WORK/c.json" --state-dir "$WORK/state" --bootstrap-servers "127.0.0.1:$KPORT" &
PID=$!
wait_runnel_caught_up $PID "$WORK/state"
t1=$(date +%s.%N)
RSS=$(awk '/VmHWM/ {print $2}' /proc/$PID/status)
kill -TERM $PID; wait $PID || true
RUN=$(echo "$N / ($t1 - $t0)" | bc -l)

echo "==> the broker's limit: a plain producer, $N records"
RAW=$(python3 - "$KPORT" "$N" <<'PY'
import sys, time
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic
port, n = sys.argv[1], int(sys.argv[2])
b = f"127.0.0.1:{port}"
admin = AdminClient({"bootstrap.servers": b})  # kept alive until the topic exists
admin.create_topics([NewTopic("limit", 3, 1)])["limit"].result(30)
p = Producer({"bootstrap.servers": b, "acks": "all", "enable.idempotence": True,
              "compression.type": "lz4", "linger.ms": 5, "partitioner": "murmur2_random"})
value = b'{"before":null,"after":{"order_id":123456,"customer_id":4242,"status":"NEW","total":"1234.56","created_at":"2024-01-01T00:00:00.123456Z"},"source":{"version":"0.1.0","connector":"postgresql","name":"rig","ts_ms":1700000000000,"snapshot":"false","db":"rig","schema":"public","table":"orders","txId":1234,"lsn":12345678},"op":"c","ts_ms":1700000000001}'
t0 = time.time()
for i in range(n):
    while True:
        try:
            p.produce("limit", key=b'{"order_id":%d}' % i, value=value)
            break
        except BufferError:
            p.poll(0.01)
    if i % 10000 == 0:
        p.poll(0)
p.flush(300)
print(n / (time.time() - t0))
PY
)
printf "\nchanges: %d\nrunnel → Kafka:         %.0f rows/s (peak RSS %d kB)\nplain producer (limit): %.0f records/s\nratio runnel/limit: %.2f\n" \
  "$N" "$RUN" "$RSS" "$RAW" "$(echo "$RUN / $RAW" | bc -l)"
