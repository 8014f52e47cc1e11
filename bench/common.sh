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
# One Python process polls the state store every 20 ms: a new process per poll would take CPU
# from the contenders on a 2-core machine.
wait_runnel_caught_up() {
  python3 - "$1" "$2/runnel.db" "$END_NUM" <<'PY'
import json, os, sqlite3, sys, time
pid, db, end = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
while True:
    try:
        c = sqlite3.connect(db, timeout=1)
        r = c.execute("select offset from offsets").fetchone()
        c.close()
        if r and json.loads(r[0]).get("lsn", 0) >= end:
            sys.exit(0)
    except sqlite3.Error:
        pass
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit("runnel exited before catching up")
    time.sleep(0.02)
PY
}
