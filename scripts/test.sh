#!/usr/bin/env bash
# Runs every test: unit tests and the integration tests, which start their own private
# PostgreSQL instances (temp dirs, free loopback ports) and stop them.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/install-deps.sh
[ -d "$HOME/.cargo/bin" ] && export PATH="$HOME/.cargo/bin:$PATH"
echo "==> building"
cargo build --workspace --all-targets --locked
echo "==> testing"
# Integration tests share two cores with their PostgreSQL servers: two at a time.
cargo test --workspace --locked -- --test-threads=2
