#!/usr/bin/env bash
# Builds the tansu 0.6.0 Kafka-protocol broker (crates.io) for the tests and benchmarks into
# $1/bin/tansu, with one fix to its in-memory storage: a fetch from an offset inside a record
# batch returns that batch, as Kafka does (tansu returned only the batches after it, so a
# consumer resuming from a committed offset inside a batch never saw the rest of the batch).
# Its SQLite storage keeps records one per row and needs no fix.
set -euo pipefail
root=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The published sources, through cargo (so any registry mirror cargo is set up for works).
mkdir -p "$work/sources/src"
cat > "$work/sources/Cargo.toml" <<'EOF'
[package]
name = "tansu-sources"
version = "0.0.0"
edition = "2021"
[dependencies]
tansu = { version = "=0.6.0", default-features = false }
tansu-storage = { version = "=0.6.0", default-features = false }
EOF
touch "$work/sources/src/lib.rs"
cargo fetch --manifest-path "$work/sources/Cargo.toml" -q
cache=$(cargo metadata --manifest-path "$work/sources/Cargo.toml" --format-version 1 -q \
  | python3 -c 'import json,sys; print(next(p["manifest_path"] for p in json.load(sys.stdin)["packages"] if p["name"]=="tansu-storage"))')
cp -r "$(dirname "$cache")" "$work/tansu-storage"
cp -r "$(dirname "$(dirname "$cache")")/tansu-0.6.0" "$work/tansu"

# The fix: start at the greatest batch base offset not above the requested offset.
python3 - "$work/tansu-storage/src/dynostore.rs" <<'EOF'
import sys
path = sys.argv[1]
src = open(path).read()
old = "        for offset in offsets.split_off(&offset) {\n"
new = ("        let first = offsets.range(..=offset).next_back().copied().unwrap_or(offset);\n"
       "        for offset in offsets.split_off(&first) {\n")
if src.count(old) != 1:
    sys.exit("tansu-storage 0.6.0 dynostore.rs: the fetch loop to fix was not found")
open(path, "w").write(src.replace(old, new))
EOF
cat >> "$work/tansu/Cargo.toml" <<'EOF'

[patch.crates-io]
tansu-storage = { path = "../tansu-storage" }
EOF

# The published Cargo.lock pins every other crate; cargo only swaps tansu-storage's source.
CARGO_TARGET_DIR="$work/target" cargo build --release -q \
  --manifest-path "$work/tansu/Cargo.toml" --features dynostore,libsql
mkdir -p "$root/bin"
cp "$work/target/release/tansu" "$root/bin/tansu.tmp"
mv "$root/bin/tansu.tmp" "$root/bin/tansu"
