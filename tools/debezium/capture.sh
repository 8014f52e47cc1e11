#!/usr/bin/env bash
# Records Debezium 3.6.3's own output for a workload, as a test fixture:
#   tools/debezium/capture.sh SCHEMA.sql WORKLOAD.sql OUT.jsonl [key=value ...]
# A private PostgreSQL, a database `rig` loaded with SCHEMA.sql, Debezium streaming
# (snapshot.mode=no_data, schemas on unless overridden), then WORKLOAD.sql with psql.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
SCHEMA=$(realpath "$1"); WORKLOAD=$(realpath "$2"); OUT=$(realpath -m "$3"); shift 3
source "$ROOT/scripts/lib/private-pg.sh"
source "$ROOT/tools/debezium/libs.sh"
pg_start
"${PSQL[@]}" -d postgres -c "CREATE DATABASE rig" >/dev/null
"${PSQL[@]}" -d rig -f "$SCHEMA" >/dev/null
cat > "$WORK/dbz.properties" <<PROPS
name=capture
connector.class=io.debezium.connector.postgresql.PostgresConnector
offset.storage=org.apache.kafka.connect.storage.FileOffsetBackingStore
offset.storage.file.filename=$WORK/offsets.dat
offset.flush.interval.ms=1000
database.hostname=127.0.0.1
database.port=$PORT
database.user=postgres
database.password=
database.dbname=rig
topic.prefix=rig
plugin.name=pgoutput
slot.name=capture
publication.name=dbz_publication
snapshot.mode=no_data
key.converter.schemas.enable=true
value.converter.schemas.enable=true
converter.schemas.enable=true
PROPS
for kv in "$@"; do echo "$kv" >> "$WORK/dbz.properties"; done
java -cp "$DBZ_CP" DbzCapture "$WORK/dbz.properties" "$OUT" 1000000000 5000 > "$WORK/dbz.log" 2>&1 &
DBZ=$!
PG_CLEANUP_HOOK="kill $DBZ 2>/dev/null || true"
for _ in $(seq 1 120); do
  [ "$("${PSQL[@]}" -d rig -Atc "SELECT count(*) FROM pg_replication_slots WHERE slot_name='capture' AND active")" = 1 ] && break
  sleep 0.5
done
sleep 2
"${PSQL[@]}" -d rig -f "$WORKLOAD" >/dev/null
wait $DBZ || { tail -50 "$WORK/dbz.log"; exit 1; }
tail -1 "$WORK/dbz.log"
