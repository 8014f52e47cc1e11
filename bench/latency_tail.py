#!/usr/bin/env python3
"""Follows a JSON-lines file of change events ({"topic", "key", "value"}, schemas off or on) and
measures, for every insert into TABLE, the time from its commit (source.ts_ms) to the moment the
line is readable in the file. Runs for SECONDS, then prints one JSON line of percentiles.

  latency_tail.py FILE TABLE SECONDS
"""
import json
import os
import sys
import time


def main():
    path, table, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    deadline = time.time() + seconds
    while not os.path.exists(path) and time.time() < deadline:
        time.sleep(0.001)
    lat = []
    buf = b""
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)  # only what is written from now on
        while time.time() < deadline:
            chunk = f.read()
            if not chunk:
                time.sleep(0.0005)
                continue
            now_ms = time.time() * 1000.0
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for line in lines:
                if table.encode() not in line:
                    continue
                v = json.loads(line).get("value") or {}
                v = v.get("payload", v)
                if v.get("op") == "c":
                    lat.append(now_ms - v["source"]["ts_ms"])
    lat.sort()

    def pct(p):
        return round(lat[min(len(lat) - 1, int(len(lat) * p))], 1) if lat else None

    print(json.dumps({"events": len(lat), "p50": pct(0.50), "p99": pct(0.99),
                      "p999": pct(0.999), "max": round(lat[-1], 1) if lat else None}))


main()
