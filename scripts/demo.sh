#!/usr/bin/env bash
# runnel's main job end to end, on the embedded defaults: a private PostgreSQL with a small shop
# schema, a runnel worker streaming its changes to stdout (Debezium JSON) with its web console
# open at the address printed, and a workload of inserts, updates and deletes while you watch.
# Everything lives in a temp dir and is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/install-deps.sh
[ -d "$HOME/.cargo/bin" ] && export PATH="$HOME/.cargo/bin:$PATH"
SECONDS_TO_RUN=${DEMO_SECONDS:-15}

echo "==> building runnel (release)"
cargo build --release --locked -p runnel >/dev/null 2>&1 || cargo build --release --locked -p runnel
RUNNEL="$PWD/target/release/runnel"

PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
WORK=$(mktemp -d /tmp/runnel-demo-XXXXXX)
chmod 755 "$WORK"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 55439)
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
RUNNEL_PID=""
cleanup() {
  [ -n "$RUNNEL_PID" ] && kill "$RUNNEL_PID" 2>/dev/null && wait "$RUNNEL_PID" 2>/dev/null || true
  as_pg "$PGBIN/pg_ctl" stop -D "$WORK/pg" -m immediate >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM
[ "$(id -u)" -eq 0 ] && chown postgres "$WORK"

echo "==> starting a private PostgreSQL on 127.0.0.1:$PORT (wal_level=logical)"
as_pg "$PGBIN/initdb" -D "$WORK/pg" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
as_pg "$PGBIN/pg_ctl" start -w -D "$WORK/pg" -l "$WORK/pg.log" \
  -o "-c listen_addresses=127.0.0.1 -c port=$PORT -c unix_socket_directories=$WORK -c wal_level=logical" >/dev/null
PSQL=(psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U postgres)
"${PSQL[@]}" -d postgres -c "CREATE DATABASE shop" >/dev/null
"${PSQL[@]}" -d shop >/dev/null <<'SQL'
CREATE TABLE customers (id bigint PRIMARY KEY, name text NOT NULL, city text);
CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id bigint NOT NULL, total numeric(10,2), status text DEFAULT 'new', created_at timestamptz DEFAULT now());
INSERT INTO customers VALUES (1, 'Ada', 'London'), (2, 'Grace', 'Arlington');
SQL

cat > "$WORK/shop.json" <<JSON
{
  "name": "shop",
  "config": {
    "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
    "database.hostname": "127.0.0.1",
    "database.port": "$PORT",
    "database.user": "postgres",
    "database.password": "",
    "database.dbname": "shop",
    "topic.prefix": "shop",
    "plugin.name": "pgoutput",
    "slot.name": "runnel_demo",
    "key.converter.schemas.enable": "false",
    "value.converter.schemas.enable": "false",
    "sink.type": "stdout"
  }
}
JSON

echo "==> runnel check"
"$RUNNEL" check "$WORK/shop.json"
API_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 58083)
echo "==> runnel worker on 127.0.0.1:$API_PORT (Kafka Connect's REST API and the web console)"
"$RUNNEL" worker --listen "127.0.0.1:$API_PORT" --state-dir "$WORK/state" &
RUNNEL_PID=$!
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$API_PORT/health" >/dev/null && break; sleep 0.1; done
echo "==> POST /connectors: snapshot, then live changes for ${SECONDS_TO_RUN}s (one JSON record per line)"
curl -fsS -X POST -H 'Content-Type: application/json' --data @"$WORK/shop.json" \
  "http://127.0.0.1:$API_PORT/connectors" >/dev/null
echo
echo "    console: http://127.0.0.1:$API_PORT/ui/   (open it now: the connector, its events/s,"
echo "             its slot and the database update live; DEMO_SECONDS=300 gives you longer)"
echo
# On a desktop, open it.
if [ -n "${DISPLAY:-}" ] && command -v xdg-open >/dev/null; then xdg-open "http://127.0.0.1:$API_PORT/ui/" >/dev/null 2>&1 || true; fi
sleep 2
for i in $(seq 1 "$SECONDS_TO_RUN"); do
  "${PSQL[@]}" -d shop -c "INSERT INTO orders (customer_id, total) VALUES ($(( (i % 2) + 1 )), $i.50)" >/dev/null
  [ $((i % 3)) -eq 0 ] && "${PSQL[@]}" -d shop -c "UPDATE orders SET status = 'shipped' WHERE id = $((i - 1))" >/dev/null
  [ $((i % 5)) -eq 0 ] && "${PSQL[@]}" -d shop -c "DELETE FROM orders WHERE id = $((i - 4))" >/dev/null
  sleep 1
done
kill -TERM "$RUNNEL_PID"; wait "$RUNNEL_PID" || true; RUNNEL_PID=""
echo "==> done: the worker stopped cleanly; its connector and offsets were in $WORK/state/runnel.db"
