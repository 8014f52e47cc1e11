#!/usr/bin/env python3
"""An independent S3 client for the tests (boto3):

    s3_client.py ENDPOINT mkbucket BUCKET     create it (retrying while the server starts)
    s3_client.py ENDPOINT dump BUCKET         every object as one JSON line:
                                              {"key": ..., "lines": [each line of the object]}
                                              (Parquet: each row, read with pyarrow, and "schema";
                                              Avro: each record, read with Apache Avro's
                                              Python reader, and the writer's "schema")
Credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.
"""
import gzip
import json
import os
import sys
import time

import boto3
from botocore.config import Config


def client(endpoint):
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"],
        region_name="us-east-1",
        config=Config(retries={"max_attempts": 3}, connect_timeout=5, read_timeout=30),
    )


def read_all(s3, bucket):
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys.extend(o["Key"] for o in page.get("Contents", []))
    return [(key, s3.get_object(Bucket=bucket, Key=key)["Body"].read()) for key in sorted(keys)]


def main():
    endpoint, cmd, bucket = sys.argv[1:4]
    s3 = client(endpoint)
    if cmd == "mkbucket":
        deadline = time.time() + 90
        while True:
            try:
                s3.create_bucket(Bucket=bucket)
                return
            except Exception as e:  # the server may still be starting its volume server
                if time.time() > deadline:
                    sys.exit(f"cannot create bucket {bucket}: {e}")
                time.sleep(0.5)
    if cmd == "dump":
        # A server that was just restarted may fail requests for a while: read again until
        # the whole bucket reads, for up to 90 s.
        deadline = time.time() + 90
        while True:
            try:
                objects = read_all(s3, bucket)
                break
            except Exception as e:
                if time.time() > deadline:
                    sys.exit(f"cannot read bucket {bucket}: {e}")
                time.sleep(0.5)
        for key, body in objects:
            if key.endswith(".parquet"):
                # Read independently with pyarrow: each row as JSON, with the Parquet schema.
                import io
                import pyarrow.parquet as pq
                table = pq.read_table(io.BytesIO(body), use_threads=False)
                rows = [json.dumps(r, default=str, sort_keys=True) for r in table.to_pylist()]
                print(json.dumps({"key": key, "lines": rows, "schema": str(table.schema)}))
                continue
            if key.endswith(".avro"):
                # Read independently with Apache Avro's own Python implementation.
                import io
                from avro.datafile import DataFileReader
                from avro.io import DatumReader
                reader = DataFileReader(io.BytesIO(body), DatumReader())
                schema = reader.schema
                rows = [json.dumps(r, default=str, sort_keys=True) for r in reader]
                print(json.dumps({"key": key, "lines": rows, "schema": schema}))
                continue
            if key.endswith(".gz"):
                body = gzip.decompress(body)
            lines = body.decode().split("\n")
            if lines and lines[-1] == "":
                lines.pop()
            print(json.dumps({"key": key, "lines": lines}))
        return
    sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
    sys.stdout.flush()
    # pyarrow's C++ threads can abort the interpreter's shutdown ("terminate called without an
    # active exception") on a loaded machine: everything is written, leave without it.
    os._exit(0)
