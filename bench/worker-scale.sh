#!/usr/bin/env bash
# Many connectors in one worker: $N (default 200) databases on one private PostgreSQL, each with
# its own slot and a PostgreSQL source connector POSTed to one `runnel worker` (file sinks).
# Reports the time from the first POST until every task is RUNNING and every slot is streaming,
# peak RSS, CPU while idle, the web console's overview load time in headless Chromium and the
# worker's metric history memory, and checks that a change in every database reaches its file.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-200}
source scripts/install-deps.sh
source scripts/lib/private-pg.sh
cargo build --release --locked -p runnel >/dev/null 2>&1 || cargo build --release --locked -p runnel
RUNNEL="$PWD/target/release/runnel"
PG_EXTRA_OPTS="-c max_connections=$((N * 2 + 50)) -c max_replication_slots=$((N + 10)) -c max_wal_senders=$((N + 10))"
pg_start
echo "==> creating $N databases"
"${PSQL[@]}" -d postgres -c "CREATE DATABASE tmpl" >/dev/null
"${PSQL[@]}" -d tmpl -c "CREATE TABLE t (id int PRIMARY KEY, v text); CREATE PUBLICATION dbz_publication FOR ALL TABLES" >/dev/null
for i in $(seq 1 "$N"); do echo "CREATE DATABASE tenant$i TEMPLATE tmpl;"; done | "${PSQL[@]}" -d postgres >/dev/null

APORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
RUNNEL_LOG=warn "$RUNNEL" worker --listen "127.0.0.1:$APORT" --state-dir "$WORK/state" > "$WORK/worker.out" 2> "$WORK/worker.log" &
WPID=$!
PG_CLEANUP_HOOK="kill $WPID 2>/dev/null || true"
until curl -sf "127.0.0.1:$APORT/health" >/dev/null; do sleep 0.1; done

echo "==> POSTing $N connectors"
t0=$(date +%s.%N)
for i in $(seq 1 "$N"); do
  curl -sf -XPOST -H 'Content-Type: application/json' "127.0.0.1:$APORT/connectors" -d "{\"name\": \"tenant$i\", \"config\": {
    \"connector.class\": \"io.debezium.connector.postgresql.PostgresConnector\",
    \"database.hostname\": \"127.0.0.1\", \"database.port\": \"$PORT\", \"database.user\": \"postgres\",
    \"database.dbname\": \"tenant$i\", \"topic.prefix\": \"tenant$i\", \"slot.name\": \"runnel_$i\",
    \"publication.autocreate.mode\": \"disabled\", \"snapshot.mode\": \"no_data\",
    \"sink.type\": \"file\", \"sink.file.path\": \"$WORK/out/tenant$i.jsonl\",
    \"key.converter.schemas.enable\": \"false\", \"value.converter.schemas.enable\": \"false\"}}" >/dev/null
done
t_posted=$(date +%s.%N)
while :; do
  running=$(curl -sf "127.0.0.1:$APORT/connectors?expand=status" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(sum(1 for v in d.values() if v["status"]["tasks"] and v["status"]["tasks"][0]["state"]=="RUNNING"))')
  active=$("${PSQL[@]}" -d postgres -Atc "SELECT count(*) FROM pg_replication_slots WHERE active")
  [ "$running" -eq "$N" ] && [ "$active" -eq "$N" ] && break
  sleep 0.2
done
t1=$(date +%s.%N)

echo "==> idle for 30 s"
ticks() { awk '{print $14 + $15}' "/proc/$WPID/stat"; }
c0=$(ticks); sleep 30; c1=$(ticks)
HZ=$(getconf CLK_TCK)
IDLE_CPU=$(echo "($c1 - $c0) / $HZ / 30 * 100" | bc -l)

echo "==> one change in every database"
for i in $(seq 1 "$N"); do "${PSQL[@]}" -d "tenant$i" -c "INSERT INTO t VALUES (1, 'x')" >/dev/null; done
deadline=$((SECONDS + 120))
until [ "$(grep -l '"op":"c"' "$WORK"/out/*.jsonl 2>/dev/null | wc -l)" -eq "$N" ]; do
  [ $SECONDS -lt $deadline ] || { echo "not every change arrived" >&2; exit 1; }
  sleep 0.5
done
RSS=$(awk '/VmHWM/ {print $2}' "/proc/$WPID/status")
CONSOLE="(console not measured: RUNNEL_WITH_BROWSER=1 installs Chromium and Playwright)"
if python3 -c 'import playwright' 2>/dev/null && command -v chromium >/dev/null; then
  echo "==> the console's overview in headless Chromium"
  CONSOLE=$(python3 bench/console_load.py "http://127.0.0.1:$APORT" "$N")
fi
HISTORY=$(curl -sf "127.0.0.1:$APORT/ui/api/overview" | python3 -c 'import json,sys; print(json.load(sys.stdin)["worker"]["history_bytes"])')
curl -sf "127.0.0.1:$APORT/metrics" | grep -c '^runnel_connector_events_written_total' > "$WORK/metric-lines"

printf "\nconnectors: %d (one worker, one PostgreSQL, %d slots)\n" "$N" "$N"
printf "POST of all %d: %.1f s; POST → all RUNNING and streaming: %.1f s\n" "$N" "$(echo "$t_posted - $t0" | bc -l)" "$(echo "$t1 - $t0" | bc -l)"
printf "peak RSS: %d kB (%.0f kB per connector)\n" "$RSS" "$(echo "$RSS / $N" | bc -l)"
printf "idle CPU: %.2f%% of one core\n" "$IDLE_CPU"
printf "%s\n" "$CONSOLE"
printf "metric history held by the worker after the run: %d bytes for %d connectors\n" "$HISTORY" "$N"
printf "a change in each database reached all %d files; /metrics series: %s\n" "$N" "$(cat "$WORK/metric-lines")"
