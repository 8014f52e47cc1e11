#!/usr/bin/env python3
"""An independent MongoDB client for the tests (pymongo): prints a collection's documents as
canonical Extended JSON lines (types visible: $numberDecimal, $date, $numberLong, …), sorted.

    mongo_client.py dump URI DATABASE COLLECTION
"""
import sys

from bson import json_util
from pymongo import MongoClient


def main():
    cmd, uri, db, coll = sys.argv[1:5]
    if cmd != "dump":
        sys.exit(f"unknown command {cmd}")
    client = MongoClient(uri, serverSelectionTimeoutMS=10000)
    docs = list(client[db][coll].find())
    lines = sorted(json_util.dumps(d, json_options=json_util.CANONICAL_JSON_OPTIONS) for d in docs)
    for line in lines:
        print(line)


if __name__ == "__main__":
    main()
