# Sourced by the benchmarks: a private PostgreSQL holding the order-management schema with a
# backlog of $N mixed changes (60% insert, 30% update, 10% delete, transactions of 100 rows)
# waiting in the slots named in $SLOTS; and a wait for runnel to acknowledge all of it.
# After `bench_backlog`: everything of scripts/lib/private-pg.sh, plus $END (the LSN after the
# backlog) and $END_NUM (the same as a number).
source scripts/lib/private-pg.sh

bench_backlog() {
  pg_start
  "${PSQL[@]}" -d postgres -c "CREATE DATABASE rig" >/dev/null
  "${PSQL[@]}" -d rig -f crates/runnel/tests/fixtures/postgres/schema.sql >/dev/null
  "${PSQL[@]}" -d rig -c "CALL rig_seed(200000, 100)" >/dev/null
  "${PSQL[@]}" -d rig -c "CREATE PUBLICATION dbz_publication FOR ALL TABLES" >/dev/null
  for slot in $SLOTS; do
    "${PSQL[@]}" -d rig -c "SELECT pg_create_logical_replication_slot('$slot', 'pgoutput')" >/dev/null
  done
  if [ "$N" -gt 0 ]; then
    echo "==> generating $N changes"
    "${PSQL[@]}" -d rig -c "CALL rig_mixed($N, 100)" >/dev/null
  fi
  END=$("${PSQL[@]}" -d rig -Atc "SELECT pg_current_wal_lsn()")
  END_NUM=$("${PSQL[@]}" -d rig -Atc "SELECT (pg_current_wal_lsn() - '0/0')::int8")
}

# Waits until the runnel process $1 (state dir $2) has committed an offset at or past $END_NUM.
wait_runnel_caught_up() {
  local pid=$1 state=$2 lsn
  while :; do
    lsn=$(python3 -c "import sqlite3,json; c=sqlite3.connect('$state/runnel.db'); r=c.execute('select offset from offsets').fetchone(); print(json.loads(r[0])['lsn'] if r else 0)" 2>/dev/null || echo 0)
    [ "$lsn" -ge "$END_NUM" ] && return 0
    kill -0 "$pid" 2>/dev/null || { echo "runnel exited before catching up" >&2; return 1; }
    sleep 0.2
  done
}
