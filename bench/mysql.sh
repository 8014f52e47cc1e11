#!/usr/bin/env bash
# MariaDB → JSON lines: runnel's MySQL/MariaDB source beside MariaDB's own binlog reader and
# Debezium 3.6.3's MySQL connector (the real jars, embedded engine), on one private MariaDB,
# in one run:
#   drain     a backlog of $N mixed changes (60% insert, 30% update, 10% delete, transactions of
#             100 rows, the order-management schema of the conformance fixture) read from the
#             binlog: `mariadb-binlog --read-from-remote-server` raw (to /dev/null) and decoded
#             (`-v`, to /dev/null); runnel and Debezium (schemas off) to a JSON-lines file;
#   snapshot  the $SNAP_N-row `orders` table: `mariadb -e 'SELECT * …'` to /dev/null, runnel
#             (`snapshot.mode=initial_only`, one reader, then two reading ranges of the key)
#             and Debezium (`snapshot.mode=initial`) to a file.
# Peak RSS and CPU of every contender (GNU time). Writes bench/results/<date>-mysql-<N>.md.
# N=100000 SNAP_N=100000 make a quick run.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-1000000}
SNAP_N=${SNAP_N:-1000000}
ROOT=$PWD
RUNNEL_WITH_MARIADB=1 source scripts/install-deps.sh
source tools/debezium/libs.sh
cargo build --release --locked -p runnel >/dev/null 2>&1 || cargo build --release --locked -p runnel
RUNNEL="$ROOT/target/release/runnel"
WORK=$(mktemp -d /tmp/runnel-bench-mysql.XXXXXX)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT=$(free_port)
MPID=""
cleanup() {
  local rc=$?
  [ "$rc" -ne 0 ] && for f in "$WORK"/*.log; do echo "--- $f"; tail -20 "$f"; done
  [ -n "$MPID" ] && kill -9 "$MPID" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"
}
trap cleanup EXIT

echo "==> starting a private MariaDB on port $PORT"
mariadb-install-db --no-defaults --user=root --auth-root-authentication-method=normal \
  --skip-test-db --datadir="$WORK/data" >/dev/null 2>&1
# The version string keeps Debezium's MySQL connector on SHOW MASTER STATUS (see the
# conformance fixture's README): MariaDB itself puts the same 5.5.5- prefix in its handshake.
mariadbd --no-defaults --user=root --bind-address=127.0.0.1 --skip-name-resolve --port="$PORT" \
  --datadir="$WORK/data" --socket="$WORK/mysqld.sock" --pid-file="$WORK/mysqld.pid" \
  --tmpdir="$WORK" --log-bin=rig-bin --binlog-format=ROW --binlog-row-image=FULL --server-id=1 \
  --gtid-strict-mode=1 --character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci \
  --default-time-zone=+00:00 --innodb-buffer-pool-size=1G --innodb-log-file-size=512M \
  --innodb-flush-log-at-trx-commit=2 --sync-binlog=0 --max-binlog-size=1G \
  --version=5.5.5-10.11.19-MariaDB-0+deb12u1 > "$WORK/mariadb.log" 2>&1 &
MPID=$!
M=(mariadb --no-defaults --protocol=TCP -h 127.0.0.1 --port="$PORT" -u root)
for _ in $(seq 1 120); do "${M[@]}" -e 'SELECT 1' >/dev/null 2>&1 && break; sleep 0.5; done
"${M[@]}" -e "CREATE DATABASE rig; CREATE USER 'dbz'@'%' IDENTIFIED BY 'dbz';
  GRANT SELECT, RELOAD, SHOW DATABASES, LOCK TABLES, REPLICATION SLAVE, BINLOG MONITOR, SLAVE MONITOR ON *.* TO 'dbz'@'%'"
"${M[@]}" rig < crates/runnel/tests/fixtures/mariadb/schema.sql
echo "==> seeding $SNAP_N orders"
"${M[@]}" rig -e "CALL rig_seed($SNAP_N, 10000, 77, 100)"

measure() {  # NAME CMD...: sets ELAPSED CPU RSS_MB
  local name=$1; shift
  /usr/bin/time -f "%e %U %S %M" -o "$WORK/time.$name" "$@"
  read -r ELAPSED USER SYS MAXKB < "$WORK/time.$name"
  CPU=$(echo "($USER + $SYS) / $ELAPSED" | bc -l)
  RSS_MB=$(echo "$MAXKB / 1024" | bc -l)
}
ROWS=()
row() {  # WORKLOAD CONTENDER ROWS SECONDS
  local rate
  rate=$(echo "$3 / $4" | bc -l)
  ROWS+=("| $1 | $2 | $3 | $(printf %.2f "$4") | $(printf %.0f "$rate") | $(printf %.2f "$CPU") | $(printf %.0f "$RSS_MB") |")
  eval "RATE_${1}_${2//[^a-zA-Z0-9]/_}=$rate"
}

runnel_config() {  # name out mode
  cat > "$WORK/$1.json" <<JSON
{"name": "$1", "config": {"connector.class": "io.debezium.connector.mysql.MySqlConnector",
 "database.hostname": "127.0.0.1", "database.port": "$PORT", "database.user": "dbz", "database.password": "dbz",
 "database.server.id": "$((RANDOM + 1000))", "database.include.list": "rig", "topic.prefix": "rig",
 "table.include.list": "rig.orders,rig.order_details", "snapshot.mode": "$3",
 "key.converter.schemas.enable": "false", "value.converter.schemas.enable": "false",
 "sink.type": "file", "sink.file.path": "$2"}}
JSON
}
dbz_props() {  # name out mode
  cat > "$WORK/$1.properties" <<PROPS
name=$1
connector.class=io.debezium.connector.mysql.MySqlConnector
database.hostname=127.0.0.1
database.port=$PORT
database.user=dbz
database.password=dbz
database.server.id=$((RANDOM + 40000))
database.include.list=rig
table.include.list=rig.orders,rig.order_details
topic.prefix=rig
snapshot.mode=$3
schema.history.internal=io.debezium.storage.file.history.FileSchemaHistory
schema.history.internal.file.filename=$WORK/$1.history
offset.storage=org.apache.kafka.connect.storage.FileOffsetBackingStore
offset.storage.file.filename=$WORK/$1.offsets
offset.flush.interval.ms=1000
key.converter.schemas.enable=false
value.converter.schemas.enable=false
max.batch.size=2048
max.queue.size=8192
PROPS
}
# Waits for runnel ($1 pid, $2 state dir) to commit an offset at or past ($3 file, $4 pos).
wait_offset() {
  python3 - "$1" "$2/runnel.db" "$3" "$4" <<'PY'
import json, os, sqlite3, sys, time
pid, db, file, pos = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
key = lambda f, p: (int(f.rsplit('.', 1)[1]), p)
while True:
    try:
        c = sqlite3.connect(db, timeout=1)
        r = c.execute("select offset from offsets").fetchone()
        c.close()
        if r:
            o = json.loads(r[0])
            if o.get("file") and key(o["file"], o.get("pos", 0)) >= key(file, pos):
                sys.exit(0)
    except (sqlite3.Error, ValueError, IndexError):
        pass
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit("runnel exited before catching up")
    time.sleep(0.02)
PY
}

# --- snapshot -------------------------------------------------------------------------------
echo "==> snapshot: SELECT * FROM orders"
measure select bash -c "\"\${@}\" rig -e 'SELECT * FROM orders' > /dev/null" _ "${M[@]}"
row snapshot "mariadb SELECT" "$SNAP_N" "$ELAPSED"
echo "==> snapshot: runnel"
runnel_config snap "$WORK/snap.jsonl" initial_only
sed -i 's/"rig.orders,rig.order_details"/"rig.orders"/' "$WORK/snap.json"
measure runnel_snap "$RUNNEL" run "$WORK/snap.json" --state-dir "$WORK/state-snap"
row snapshot runnel "$SNAP_N" "$ELAPSED"
rm -f "$WORK/snap.jsonl"
echo "==> snapshot: runnel, two readers in key ranges (snapshot.max.threads=2)"
runnel_config snap2 "$WORK/snap2.jsonl" initial_only
sed -i 's/"rig.orders,rig.order_details"/"rig.orders", "snapshot.max.threads": "2"/' "$WORK/snap2.json"
"${M[@]}" rig -e 'ANALYZE TABLE orders' > /dev/null
measure runnel_snap2 "$RUNNEL" run "$WORK/snap2.json" --state-dir "$WORK/state-snap2"
row snapshot "runnel, 2 readers" "$SNAP_N" "$ELAPSED"
rm -f "$WORK/snap2.jsonl"
echo "==> snapshot: Debezium"
dbz_props dbz_snap "$WORK/dbz_snap.jsonl" initial
sed -i 's/^table.include.list=.*/table.include.list=rig.orders/' "$WORK/dbz_snap.properties"
measure dbz_snap java -Xmx2g -cp "$DBZ_CP" DbzCapture "$WORK/dbz_snap.properties" "$WORK/dbz_snap.jsonl" "$SNAP_N" 5000 > "$WORK/dbz_snap.out"
secs=$(sed -n 's/.*seconds=//p' "$WORK/dbz_snap.out")
row snapshot Debezium "$SNAP_N" "$secs"
rm -f "$WORK/dbz_snap.jsonl"

# --- drain ----------------------------------------------------------------------------------
# Every contender starts at the same binlog position (runnel and Debezium from offsets taken
# by a first run that stopped there), then the backlog is written while none of them runs.
START=$("${M[@]}" -N -e "SHOW MASTER STATUS")
START_FILE=$(echo "$START" | cut -f1); START_POS=$(echo "$START" | cut -f2)
runnel_config drain "$WORK/drain.jsonl" no_data
"$RUNNEL" run "$WORK/drain.json" --state-dir "$WORK/state-drain" > "$WORK/drain-prime.log" 2>&1 &
RPID=$!
wait_offset "$RPID" "$WORK/state-drain" "$START_FILE" "$START_POS" || true
"${M[@]}" rig -e "INSERT INTO orders (customer_id, order_date) VALUES (1, CURRENT_DATE)"
sleep 2; kill "$RPID"; wait "$RPID" 2>/dev/null || true
dbz_props dbz_drain "$WORK/dbz_drain.jsonl" no_data
java -cp "$DBZ_CP" DbzCapture "$WORK/dbz_drain.properties" "$WORK/dbz_prime.jsonl" 1 3000 > /dev/null 2>&1 &
DPID=$!
sleep 15; "${M[@]}" rig -e "INSERT INTO orders (customer_id, order_date) VALUES (1, CURRENT_DATE)"
wait "$DPID" || true
START=$("${M[@]}" -N -e "SHOW MASTER STATUS")
START_FILE=$(echo "$START" | cut -f1); START_POS=$(echo "$START" | cut -f2)
echo "==> generating $N changes"
"${M[@]}" rig -e "CALL rig_mixed($N, 100, 60, 30, 10)"
END=$("${M[@]}" -N -e "SHOW MASTER STATUS")
END_FILE=$(echo "$END" | cut -f1); END_POS=$(echo "$END" | cut -f2)
CHANGES=$N

echo "==> drain: mariadb-binlog (raw)"
measure binlog_raw mariadb-binlog --no-defaults --read-from-remote-server --host=127.0.0.1 --port="$PORT" \
  --user=root --start-position="$START_POS" --stop-never-slave-server-id=9 "$START_FILE" --to-last-log -r /dev/null
row drain "mariadb-binlog raw" "$CHANGES" "$ELAPSED"
echo "==> drain: mariadb-binlog -v (decoded)"
measure binlog_v bash -c "mariadb-binlog --no-defaults --read-from-remote-server --host=127.0.0.1 --port=$PORT \
  --user=root --start-position=$START_POS -v --base64-output=DECODE-ROWS $START_FILE --to-last-log > /dev/null"
row drain "mariadb-binlog -v" "$CHANGES" "$ELAPSED"
echo "==> drain: runnel"
/usr/bin/time -f "%e %U %S %M" -o "$WORK/time.runnel_drain" "$RUNNEL" run "$WORK/drain.json" --state-dir "$WORK/state-drain" > "$WORK/drain.log" 2>&1 &
TPID=$!
sleep 0.2
RPID=$(pgrep -P "$TPID" runnel || echo "$TPID")
T0=$(date +%s.%N)
wait_offset "$RPID" "$WORK/state-drain" "$END_FILE" "$END_POS"
T1=$(date +%s.%N)
kill "$RPID"; wait "$TPID" 2>/dev/null || true
read -r _ USER SYS MAXKB < "$WORK/time.runnel_drain"
ELAPSED=$(echo "$T1 - $T0" | bc -l)
CPU=$(echo "($USER + $SYS) / $ELAPSED" | bc -l); RSS_MB=$(echo "$MAXKB / 1024" | bc -l)
row drain runnel "$CHANGES" "$ELAPSED"
echo "==> drain: Debezium"
measure dbz_drain java -Xmx2g -cp "$DBZ_CP" DbzCapture "$WORK/dbz_drain.properties" "$WORK/dbz_drain.jsonl" "$CHANGES" 5000 > "$WORK/dbz_drain.out"
secs=$(sed -n 's/.*seconds=//p' "$WORK/dbz_drain.out")
row drain Debezium "$CHANGES" "$secs"

OUT="$ROOT/bench/results/$(date +%F)-mysql-$N.md"
{
  echo "# MariaDB source: runnel, mariadb-binlog, Debezium 3.6.3 ($(date +%F))"
  echo
  echo "N=$N changes (drain), SNAP_N=$SNAP_N rows (snapshot), MariaDB $("${M[@]}" -N -e 'SELECT VERSION()'), $(nproc) cores. \`bash bench/mysql.sh\`."
  echo "Drain times runnel from its start until its offset passes the backlog's end, Debezium from its"
  echo "first to its last record (the JVM's start-up not counted), mariadb-binlog whole."
  echo
  echo "| workload | contender | rows | seconds | rows/s | CPU (cores) | peak RSS (MB) |"
  echo "| --- | --- | --- | --- | --- | --- | --- |"
  printf '%s\n' "${ROWS[@]}"
  echo
  echo "runnel / Debezium: drain $(printf %.1f "$(echo "$RATE_drain_runnel / $RATE_drain_Debezium" | bc -l)")×, snapshot $(printf %.1f "$(echo "$RATE_snapshot_runnel / $RATE_snapshot_Debezium" | bc -l)")×."
} > "$OUT"
cat "$OUT"
