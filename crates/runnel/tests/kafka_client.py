#!/usr/bin/env python3
"""An independent Kafka client for runnel's tests (confluent-kafka, not runnel's rdkafka code).

  kafka_client.py read BOOTSTRAP TOPIC_REGEX MIN_RECORDS TIMEOUT_S
      prints one JSON line per record of every matching topic, from the beginning:
      {"topic", "partition", "offset", "key_raw", "value_raw", "headers"} (raw = text or null)
  kafka_client.py create BOOTSTRAP TOPIC PARTITIONS
  kafka_client.py produce BOOTSTRAP TOPIC < lines
      each stdin line is {"key": text|null, "value": text|null}; waits for every ack
  kafka_client.py fence BOOTSTRAP TRANSACTIONAL_ID
      starts a transactional producer with that id, which fences every earlier one
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
    # One partition at a time: tansu (the fallback test broker) answers a multi-partition fetch with one partition's
    # records only, so a consumer assigned all partitions at once would miss records.
    deadline = time.time() + timeout
    admin = Consumer({"bootstrap.servers": bootstrap, "group.id": "runnel-test-reader"})
    md = admin.list_topics(timeout=10)
    admin.close()
    parts = sorted((t, p) for t, tm in md.topics.items() if re.fullmatch(pattern, t)
                   for p in tm.partitions)
    out = []
    # One consumer for them all (a consumer per partition costs about a second each to create and close).
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "runnel-test-reader",
                  "enable.auto.commit": False, "fetch.wait.max.ms": 10})
    for topic, partition in parts:
        # From the first offset the broker reports (librdkafka resolving OFFSET_BEGINNING itself takes half a
        # second per partition). Once at the end it reports, a short quiet is enough (tansu reports the last
        # batch's base + 1, but the rest of that batch arrives with it); before it, wait out a longer one.
        try:
            start, end = c.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
        except Exception:
            start, end = OFFSET_BEGINNING, None
        c.assign([TopicPartition(topic, partition, start)])
        idle_since, last = time.time(), -1
        while time.time() < deadline:
            quiet = 0.1 if end is not None and last + 1 >= end else 2
            if time.time() - idle_since >= quiet:
                break
            m = c.poll(0.1)
            if m is None or m.error() is not None:
                continue
            if (m.topic(), m.partition()) != (topic, partition):
                continue
            idle_since, last = time.time(), m.offset()
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


def fence(bootstrap, transactional_id):
    Producer({"bootstrap.servers": bootstrap, "transactional.id": transactional_id}).init_transactions(30)


def create(bootstrap, topic, partitions):
    a = AdminClient({"bootstrap.servers": bootstrap})
    for f in a.create_topics([NewTopic(topic, partitions, 1)]).values():
        f.result(30)


if __name__ == "__main__":
    if sys.argv[1] == "create":
        create(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif sys.argv[1] == "fence":
        fence(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "read":
        read(sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5]))
    else:
        produce(sys.argv[2], sys.argv[3])
