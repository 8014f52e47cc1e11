#!/usr/bin/env bash
# Runs every test: unit tests and the integration tests, which start their own private
# PostgreSQL instances and Kafka brokers (temp dirs, free loopback ports) and stop them.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNNEL_WITH_KAFKA=1 RUNNEL_WITH_MONGO=1 RUNNEL_WITH_S3=1 RUNNEL_WITH_MARIADB=1 RUNNEL_WITH_CHECKS=1 RUNNEL_WITH_BROWSER=1 RUNNEL_WITH_DELTA=1 RUNNEL_WITH_KUBE=1 source scripts/install-deps.sh
[ -d "$HOME/.cargo/bin" ] && export PATH="$HOME/.cargo/bin:$PATH"
echo "==> checking for unused dependencies (cargo machete)"
cargo machete
echo "==> building"
# The Delta sink is not in the default binary (its build is the heaviest): the tests build it in.
cargo build --workspace --all-targets --locked --features runnel/delta
echo "==> testing"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# Integration tests share two cores with their PostgreSQL servers: two at a time.
status=0
# Benches (criterion, harness = false) are built above but not run here: `cargo bench` runs them.
cargo test --workspace --lib --bins --tests --locked --features runnel/delta --no-fail-fast -- --test-threads=2 2>&1 | tee "$log" || status=$?
# One closing line for the whole run (cargo prints one per test binary).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed;?$/) p += $(i-1); if ($i ~ /^failed;?$/) f += $(i-1) } }
     END { printf "%d passed, %d failed\n", p, f }' "$log"
exit "$status"
