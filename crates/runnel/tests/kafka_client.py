#!/usr/bin/env python3
"""An independent Kafka client for runnel's tests (confluent-kafka, not runnel's rdkafka code).

  kafka_client.py read BOOTSTRAP TOPIC_REGEX MIN_RECORDS TIMEOUT_S
      prints one JSON line per record of every matching topic, from the beginning:
      {"topic", "partition", "offset", "key_raw", "value_raw", "headers"} (raw = text or null)
  kafka_client.py create BOOTSTRAP TOPIC PARTITIONS
  kafka_client.py produce BOOTSTRAP TOPIC < lines
      each stdin line is {"key": text|null, "value": text|null}; waits for every ack
"""
import json
import re
import sys
import time

from confluent_kafka import Consumer, Producer, TopicPartition, OFFSET_BEGINNING
from confluent_kafka.admin import AdminClient, NewTopic


def text(b):
    return None if b is None else b.decode("utf-8", "replace")


def read(bootstrap, pattern, want, timeout):
    # One consumer per partition: tansu (the fallback test broker) answers a multi-partition fetch with one partition's
    # records only, so a single consumer over all partitions would miss records.
    deadline = time.time() + timeout
    admin = Consumer({"bootstrap.servers": bootstrap, "group.id": "runnel-test-reader"})
    md = admin.list_topics(timeout=10)
    admin.close()
    parts = sorted((t, p) for t, tm in md.topics.items() if re.fullmatch(pattern, t)
                   for p in tm.partitions)
    out = []
    for topic, partition in parts:
        c = Consumer({"bootstrap.servers": bootstrap, "group.id": "runnel-test-reader",
                      "enable.auto.commit": False})
        c.assign([TopicPartition(topic, partition, OFFSET_BEGINNING)])
        idle_since = time.time()
        while time.time() < deadline and time.time() - idle_since < 2:
            m = c.poll(0.2)
            if m is None or m.error() is not None:
                continue
            idle_since = time.time()
            out.append({"topic": m.topic(), "partition": m.partition(), "offset": m.offset(),
                        "key_raw": text(m.key()), "value_raw": text(m.value()),
                        "headers": {k: text(v) for k, v in (m.headers() or [])}})
        c.close()
    for r in out:
        print(json.dumps(r))


def produce(bootstrap, topic):
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    errors = []
    for line in sys.stdin:
        if not line.strip():
            continue
        r = json.loads(line)
        enc = lambda v: None if v is None else v.encode()
        p.produce(topic, key=enc(r.get("key")), value=enc(r.get("value")),
                  on_delivery=lambda err, msg: err and errors.append(str(err)))
    p.flush(60)
    if errors:
        sys.exit("produce failed: " + "; ".join(errors))


def create(bootstrap, topic, partitions):
    a = AdminClient({"bootstrap.servers": bootstrap})
    for f in a.create_topics([NewTopic(topic, partitions, 1)]).values():
        f.result(30)


if __name__ == "__main__":
    if sys.argv[1] == "create":
        create(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif sys.argv[1] == "read":
        read(sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5]))
    else:
        produce(sys.argv[2], sys.argv[3])
