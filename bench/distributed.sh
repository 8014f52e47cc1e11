#!/usr/bin/env bash
# Distributed mode at scale, on one private PostgreSQL and one private nisshi broker:
# 1. one connector draining a backlog of $CHANGES mixed changes (file sink), timed from its task
#    RUNNING: a standalone worker, then a distributed worker (group of one: offsets published to
#    the offset topic), same run;
# 2. $N (default 500) PostgreSQL connectors (one database and slot each, file sinks) POSTed to
#    a group of three workers: POST → every task RUNNING and every slot streaming, RSS per worker;
# 3. `kill -9` of the worker running the most: time until every connector runs on the other two
#    (session.timeout.ms=$SESSION_MS), and a change in every database reaching its file after.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-500}
CHANGES=${CHANGES:-1000000}
SESSION_MS=${SESSION_MS:-10000}
export RUNNEL_WITH_KAFKA=1
source scripts/install-deps.sh
SLOTS="standalone distributed"
N_SAVED=$N; N=$CHANGES
source bench/common.sh
PG_EXTRA_OPTS="-c max_connections=$((N_SAVED * 2 + 60)) -c max_replication_slots=$((N_SAVED + 20)) -c max_wal_senders=$((N_SAVED + 20))"
cargo build --release --locked -p runnel >/dev/null 2>&1 || cargo build --release --locked -p runnel
RUNNEL="$PWD/target/release/runnel"
bench_backlog
N=$N_SAVED
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

BROKER_BIN=${RUNNEL_KAFKA_BROKER:-$HOME/.cache/runnel/nisshi-0.8.1/bin/nisshi}
[ -x "$BROKER_BIN" ] || BROKER_BIN=$HOME/.cache/runnel/tansu-0.6.0-fetchfix/bin/tansu
KPORT=$(free_port)
"$BROKER_BIN" broker --listener-url "tcp://127.0.0.1:$KPORT" --advertised-listener-url "tcp://127.0.0.1:$KPORT" \
  --storage-engine memory://broker/ --cluster-id bench > "$WORK/broker.log" 2>&1 &
BPID=$!
PIDS=""
PG_CLEANUP_HOOK='kill -9 $BPID $PIDS 2>/dev/null || true'
until python3 -c "import socket; socket.create_connection(('127.0.0.1', $KPORT), 1)" 2>/dev/null; do sleep 0.1; done

# A distributed worker's properties, as a Kafka Connect user writes them.
props() { # $1 dir, $2 port, $3 group
  mkdir -p "$1"
  cat > "$1/connect-distributed.properties" <<EOF
bootstrap.servers=127.0.0.1:$KPORT
group.id=$3
config.storage.topic=$3-configs
offset.storage.topic=$3-offsets
status.storage.topic=$3-status
config.storage.replication.factor=1
offset.storage.replication.factor=1
status.storage.replication.factor=1
listeners=http://127.0.0.1:$2
session.timeout.ms=$SESSION_MS
heartbeat.interval.ms=1000
EOF
}
start_worker() { # $1 dir, $2 port, [$3 "group"] → sets WPID
  mkdir -p "$1"
  local args=(worker --listen "127.0.0.1:$2" --state-dir "$1/state")
  [ "${3:-}" = group ] && args+=(--config "$1/connect-distributed.properties")
  RUNNEL_LOG=warn "$RUNNEL" "${args[@]}" > "$1/worker.out" 2> "$1/worker.log" &
  WPID=$!
  PIDS="$PIDS $WPID"
  until curl -sf "127.0.0.1:$2/health" >/dev/null; do sleep 0.1; done
}
drain_connector() { # $1 port, $2 slot
  curl -sf -XPOST -H 'Content-Type: application/json' "127.0.0.1:$1/connectors" -d "{\"name\": \"drain-$2\", \"config\": {
    \"connector.class\": \"io.debezium.connector.postgresql.PostgresConnector\",
    \"database.hostname\": \"127.0.0.1\", \"database.port\": \"$PORT\", \"database.user\": \"postgres\",
    \"database.dbname\": \"rig\", \"topic.prefix\": \"rig\", \"slot.name\": \"$2\",
    \"publication.autocreate.mode\": \"disabled\", \"snapshot.mode\": \"no_data\",
    \"sink.type\": \"file\", \"sink.file.path\": \"$WORK/drain-$2.jsonl\",
    \"key.converter.schemas.enable\": \"false\", \"value.converter.schemas.enable\": \"false\"}}" >/dev/null
}
drain() { # $1 label, $2 slot, [$3 group]
  local dir="$WORK/drain-$2" port
  port=$(free_port)
  [ "${3:-}" = group ] && props "$dir" "$port" drain
  start_worker "$dir" "$port" "${3:-}"
  drain_connector "$port" "$2"
  time_drain "$port" "drain-$2" "$WPID" "$dir/state"
}

echo "==> one connector, $CHANGES changes: standalone worker"
T_STANDALONE=$(drain standalone standalone)
echo "==> the same, distributed worker (group of one)"
T_DISTRIBUTED=$(drain distributed distributed group)

echo "==> creating $N databases"
"${PSQL[@]}" -d postgres -c "CREATE DATABASE tmpl" >/dev/null
"${PSQL[@]}" -d tmpl -c "CREATE TABLE t (id int PRIMARY KEY, v text); CREATE PUBLICATION dbz_publication FOR ALL TABLES" >/dev/null
for i in $(seq 1 "$N"); do echo "CREATE DATABASE tenant$i TEMPLATE tmpl;"; done | "${PSQL[@]}" -d postgres >/dev/null

echo "==> three workers in one group"
declare -a WPORTS WPIDS
for w in 0 1 2; do
  WPORTS[$w]=$(free_port)
  props "$WORK/w$w" "${WPORTS[$w]}" tenants
  start_worker "$WORK/w$w" "${WPORTS[$w]}" group
  WPIDS[$w]=$WPID
done
status_counts() { # $1 port → "running-connectors worker:count ..."
  curl -sf "127.0.0.1:$1/connectors?expand=status" | python3 -c '
import collections, json, sys
d = json.load(sys.stdin)
run = [v["status"]["tasks"][0]["worker_id"] for k, v in d.items()
       if k.startswith("tenant") and v["status"]["tasks"] and v["status"]["tasks"][0]["state"] == "RUNNING"]
print(len(run), " ".join(f"{w}={n}" for w, n in sorted(collections.Counter(run).items())))'
}
echo "==> POSTing $N connectors (round robin over the workers)"
t0=$(date +%s.%N)
for i in $(seq 1 "$N"); do
  curl -sf -XPOST -H 'Content-Type: application/json' "127.0.0.1:${WPORTS[$((i % 3))]}/connectors" -d "{\"name\": \"tenant$i\", \"config\": {
    \"connector.class\": \"io.debezium.connector.postgresql.PostgresConnector\",
    \"database.hostname\": \"127.0.0.1\", \"database.port\": \"$PORT\", \"database.user\": \"postgres\",
    \"database.dbname\": \"tenant$i\", \"topic.prefix\": \"tenant$i\", \"slot.name\": \"runnel_$i\",
    \"publication.autocreate.mode\": \"disabled\", \"snapshot.mode\": \"no_data\",
    \"sink.type\": \"file\", \"sink.file.path\": \"$WORK/out/tenant$i.jsonl\",
    \"key.converter.schemas.enable\": \"false\", \"value.converter.schemas.enable\": \"false\"}}" >/dev/null
done
t_posted=$(date +%s.%N)
while :; do
  read -r running SPREAD < <(status_counts "${WPORTS[0]}")
  active=$("${PSQL[@]}" -d postgres -Atc "SELECT count(*) FROM pg_replication_slots WHERE active AND slot_name LIKE 'runnel\_%'")
  [ "$running" -eq "$N" ] && [ "$active" -eq "$N" ] && break
  sleep 0.5
done
t1=$(date +%s.%N)
RSS=""
for w in 0 1 2; do RSS="$RSS w$w=$(awk '/VmRSS/ {print $2}' "/proc/${WPIDS[$w]}/status") kB"; done

VICTIM=$(echo "$SPREAD" | tr ' ' '\n' | sort -t= -k2 -n | tail -n 1)
VPORT=${VICTIM%=*}; VPORT=${VPORT##*:}; VCOUNT=${VICTIM##*=}
for w in 0 1 2; do [ "${WPORTS[$w]}" = "$VPORT" ] && V=$w; done
ALIVE=$(( (V + 1) % 3 ))
echo "==> kill -9 of the worker running $VCOUNT connectors (127.0.0.1:$VPORT)"
tk=$(date +%s.%N)
kill -9 "${WPIDS[$V]}"
while :; do
  read -r running SPREAD2 < <(status_counts "${WPORTS[$ALIVE]}")
  if [ "$running" -eq "$N" ] && ! grep -q ":$VPORT=" <<<"$SPREAD2"; then
    active=$("${PSQL[@]}" -d postgres -Atc "SELECT count(*) FROM pg_replication_slots WHERE active AND slot_name LIKE 'runnel\_%'")
    [ "$active" -eq "$N" ] && break
  fi
  sleep 0.2
done
tf=$(date +%s.%N)

echo "==> one change in every database"
for i in $(seq 1 "$N"); do echo "INSERT INTO t VALUES (1, 'x');" | "${PSQL[@]}" -d "tenant$i" >/dev/null; done
deadline=$((SECONDS + 180))
until [ "$(grep -l '"op":"c"' "$WORK"/out/*.jsonl 2>/dev/null | wc -l)" -eq "$N" ]; do
  [ $SECONDS -lt $deadline ] || { echo "not every change arrived" >&2; exit 1; }
  sleep 0.5
done

printf "\none connector, %d changes to a file: standalone %.1f s (%.0f changes/s), distributed %.1f s (%.0f changes/s); distributed / standalone: %.2f\n" \
  "$CHANGES" "$T_STANDALONE" "$(echo "$CHANGES / $T_STANDALONE" | bc -l)" "$T_DISTRIBUTED" "$(echo "$CHANGES / $T_DISTRIBUTED" | bc -l)" \
  "$(echo "$T_STANDALONE / $T_DISTRIBUTED" | bc -l)"
printf "%d connectors over three workers: POST of all %.1f s; POST → all RUNNING and streaming %.1f s; spread %s\n" \
  "$N" "$(echo "$t_posted - $t0" | bc -l)" "$(echo "$t1 - $t0" | bc -l)" "$SPREAD"
printf "RSS per worker after start:%s\n" "$RSS"
printf "kill -9 of the worker running %d: all %d RUNNING on the other two and every slot streaming %.1f s later (session.timeout.ms=%d); spread %s\n" \
  "$VCOUNT" "$N" "$(echo "$tf - $tk" | bc -l)" "$SESSION_MS" "$SPREAD2"
printf "a change in each database reached all %d files after the failover\n" "$N"
