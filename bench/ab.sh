#!/usr/bin/env bash
# Two runnel builds on one backlog of $N mixed changes (bench/common.sh), drained to a file:
# a warm-up drain (discarded: the first reader pulls the WAL from disk), then the builds in
# ABBA order three times, so neither benefits from going first; prints each rate and the ratio
# of the medians. The drain alone varies by ±25% from run to run here (the walsender's speed
# and the page cache), which a single side-by-side run cannot tell from a 5% change.
#   RUNNEL_BASE=/path/to/earlier/runnel [SCHEMAS=true|false] [N=1000000] bash bench/ab.sh
# Two configs of one build instead: B_EXTRA is added to B's connector config (a JSON fragment
# starting with a comma), and RUNNEL_BASE defaults to this build:
#   B_EXTRA="$(bench/chain.sh json)" bash bench/ab.sh     (transformed / untransformed)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-1000000}
SCHEMAS=${SCHEMAS:-true}
B_EXTRA=${B_EXTRA:-}
[ -n "$B_EXTRA" ] || : "${RUNNEL_BASE:?set RUNNEL_BASE to the runnel binary to compare with (or B_EXTRA)}"
source scripts/install-deps.sh
cargo build --release --locked -p runnel >/dev/null 2>&1 || cargo build --release --locked -p runnel
NEW="$PWD/target/release/runnel"
RUNNEL_BASE=${RUNNEL_BASE:-$NEW}
SLOTS="w a1 b1 b2 a2 a3 b3 b4 a4 a5 b5 b6 a6"
source bench/common.sh
bench_backlog
run() {  # slot binary [extra config]
  cat > "$WORK/$1.json" <<JSON
{"name": "bench", "config": {"connector.class": "io.debezium.connector.postgresql.PostgresConnector",
 "database.hostname": "127.0.0.1", "database.port": "$PORT", "database.user": "postgres", "database.dbname": "rig",
 "topic.prefix": "rig", "slot.name": "$1", "snapshot.mode": "no_data", "publication.autocreate.mode": "disabled",
 "key.converter.schemas.enable": "$SCHEMAS", "value.converter.schemas.enable": "$SCHEMAS",
 "sink.type": "file", "sink.file.path": "$WORK/$1.jsonl" ${3:-}}}
JSON
  local t0 t1 pid
  t0=$(date +%s.%N)
  RUNNEL_LOG=warn "$2" run "$WORK/$1.json" --state-dir "$WORK/state-$1" &
  pid=$!
  wait_runnel_caught_up $pid "$WORK/state-$1"
  t1=$(date +%s.%N)
  # CPU time (user + system) of the process: steadier than the rate, which the disk's fsync
  # times move by tens of percent from run to run here.
  local ticks; ticks=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  kill -TERM $pid; wait $pid || true
  rm -f "$WORK/$1.jsonl"
  echo "$1 $(echo "$N / ($t1 - $t0)" | bc -l) $(echo "$ticks * 1000000 / $(getconf CLK_TCK) / $N" | bc -l)"
}
run w "$NEW" >/dev/null
out=()
for s in a1 b1 b2 a2 a3 b3 b4 a4 a5 b5 b6 a6; do
  case $s in a*) out+=("$(run "$s" "$NEW")") ;; b*) out+=("$(run "$s" "$RUNNEL_BASE" "$B_EXTRA")") ;; esac
done
printf '%s\n' "${out[@]}" | python3 -c '
import statistics, sys
rows = [l.split() for l in sys.stdin if l.strip()]
a = [float(r) for s, r, _ in rows if s[0] == "a"]
b = [float(r) for s, r, _ in rows if s[0] == "b"]
ca = [float(c) for s, _, c in rows if s[0] == "a"]
cb = [float(c) for s, _, c in rows if s[0] == "b"]
print("schemas.enable='"$SCHEMAS"', N='"$N"'")
print("A (this build):", " ".join(f"{x:.0f}" for x in a), f"rows/s; median {statistics.median(a):.0f}")
print("B:             ", " ".join(f"{x:.0f}" for x in b), f"rows/s; median {statistics.median(b):.0f}")
ma, mb = statistics.median(a), statistics.median(b)
print(f"ratio of the medians: A / B {ma / mb:.3f}, B / A {mb / ma:.3f}")
print("CPU per change, µs: A", " ".join(f"{x:.2f}" for x in ca), f"(median {statistics.median(ca):.2f});",
      "B", " ".join(f"{x:.2f}" for x in cb), f"(median {statistics.median(cb):.2f})")
print(f"CPU-bound rate ratio (CPU per change A / B): {statistics.median(ca) / statistics.median(cb):.3f}")'
