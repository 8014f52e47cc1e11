#!/usr/bin/env bash
# The transform chain the benchmarks run, what the seeds' pipelines do to every change:
# ExtractNewRecordState (defaults), RegexRouter (rig.public.X -> cdc_X), InsertField$Value
# (the routed topic and a static field). Prints it as a JSON fragment to append to a
# connector config (`json`, starting with a comma) or as connector properties (`properties`).
set -euo pipefail
case "${1:-json}" in
  json) cat <<'JSON'
, "transforms": "unwrap,route,insert",
 "transforms.unwrap.type": "io.debezium.transforms.ExtractNewRecordState",
 "transforms.route.type": "org.apache.kafka.connect.transforms.RegexRouter",
 "transforms.route.regex": "rig\\.public\\.(.*)", "transforms.route.replacement": "cdc_$1",
 "transforms.insert.type": "org.apache.kafka.connect.transforms.InsertField$Value",
 "transforms.insert.static.field": "pipeline", "transforms.insert.static.value": "bench",
 "transforms.insert.topic.field": "routed_topic"
JSON
  ;;
  properties) cat <<'PROPS'
transforms=unwrap,route,insert
transforms.unwrap.type=io.debezium.transforms.ExtractNewRecordState
transforms.route.type=org.apache.kafka.connect.transforms.RegexRouter
transforms.route.regex=rig\\.public\\.(.*)
transforms.route.replacement=cdc_$1
transforms.insert.type=org.apache.kafka.connect.transforms.InsertField$Value
transforms.insert.static.field=pipeline
transforms.insert.static.value=bench
transforms.insert.topic.field=routed_topic
PROPS
  ;;
  *) echo "usage: bench/chain.sh json|properties" >&2; exit 2 ;;
esac
