#!/usr/bin/env python3
"""An independent reader of runnel's Delta tables for the tests:

    delta_client.py read URI [ENDPOINT]   the table read with the `deltalake` package (delta-rs's
                                          Python reader) as one JSON object: "rows" (sorted by
                                          "id" when there is one), "schema" (column -> Delta
                                          type), "version", "txn" (app id -> version), "files"
                                          (active files), "operations" (newest first), "runnel"
                                          (the newest commit's runnel metadata)
    delta_client.py duckdb PATH           the local table read by DuckDB's delta extension
                                          (loaded by path from the duckdb-extension-delta wheel,
                                          nothing downloaded): {"rows": [...]} sorted by "id"
    delta_client.py loop URI SECONDS      reads the table again and again for SECONDS; prints
                                          {"reads": n, "retried": n, "errors": [...]} (readers
                                          during upkeep; "retried": a vacuumed file of an older
                                          snapshot, read again at the new version)
    delta_client.py append URI START SECS another writer: appends one row per commit, ids from
                                          START, for SECS; prints {"written": n, "failed": [...]}
S3 credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.
"""
import base64
import datetime
import decimal
import json
import os
import sys
import time


def plain(v):
    if isinstance(v, decimal.Decimal):
        return str(v)
    if isinstance(v, datetime.datetime):
        if v.tzinfo is not None:
            v = v.astimezone(datetime.timezone.utc).replace(tzinfo=None)
        return v.strftime("%Y-%m-%dT%H:%M:%S.%f")
    if isinstance(v, datetime.date):
        return v.isoformat()
    if isinstance(v, (bytes, bytearray)):
        return base64.b64encode(bytes(v)).decode()
    if isinstance(v, list):
        return [plain(x) for x in v]
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items()}
    return v


def options(endpoint):
    if not endpoint:
        return None
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ALLOW_HTTP": "true",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": os.environ["AWS_ACCESS_KEY_ID"],
        "AWS_SECRET_ACCESS_KEY": os.environ["AWS_SECRET_ACCESS_KEY"],
        "AWS_S3_ALLOW_UNSAFE_RENAME": "true",
    }


def sort_rows(rows):
    if rows and "id" in rows[0]:
        rows.sort(key=lambda r: r["id"])
    return rows


def read(uri, endpoint=None):
    from deltalake import DeltaTable

    dt = DeltaTable(uri, storage_options=options(endpoint))
    rows = sort_rows([{k: plain(v) for k, v in r.items()} for r in dt.to_pyarrow_table().to_pylist()])
    schema = {f.name: str(f.type) for f in dt.schema().fields}
    history = dt.history()
    txn = {}
    runnel = None
    for h in history:
        meta = h.get("runnel")
        if meta and runnel is None:
            runnel = meta
    if runnel is not None:
        txn[runnel["app_id"]] = dt.transaction_version(runnel["app_id"])
    return {
        "rows": rows,
        "schema": schema,
        "version": dt.version(),
        "txn": txn,
        "files": len(dt.file_uris()),
        "operations": [h.get("operation") for h in history],
        "runnel": runnel,
    }


def duckdb_read(path):
    import duckdb
    import duckdb_extension_delta

    ext = os.path.dirname(duckdb_extension_delta.__file__)
    lib = None
    for root, _, files in os.walk(ext):
        for f in files:
            if f.endswith(".duckdb_extension"):
                lib = os.path.join(root, f)
    con = duckdb.connect(config={"allow_unsigned_extensions": "true", "autoinstall_known_extensions": "false", "autoload_known_extensions": "false"})
    con.execute(f"LOAD '{lib}'")
    cur = con.execute(f"SELECT * FROM delta_scan('{path}')")
    names = [d[0] for d in cur.description]
    rows = sort_rows([{n: plain(v) for n, v in zip(names, r)} for r in cur.fetchall()])
    return {"rows": rows}


def main():
    cmd = sys.argv[1]
    if cmd == "read":
        print(json.dumps(read(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None)))
    elif cmd == "duckdb":
        print(json.dumps(duckdb_read(sys.argv[2])))
    elif cmd == "loop":
        until = time.time() + float(sys.argv[3])
        reads, retried, errors = 0, 0, []
        while time.time() < until:
            try:
                read(sys.argv[2])
                reads += 1
            except Exception as e:  # noqa: BLE001 - every failure is reported
                text = str(e)
                if reads == 0:
                    # Not created yet.
                    time.sleep(0.1)
                    continue
                if "not found" in text.lower() or "no such file" in text.lower():
                    # A file of the snapshot it loaded was vacuumed before it read it: with
                    # a retention of 0 that is Delta's contract; read the new version.
                    retried += 1
                    continue
                errors.append(text)
            time.sleep(0.05)
        print(json.dumps({"reads": reads, "retried": retried, "errors": errors}))
    elif cmd == "append":
        # Another writer: one row per commit (ids from START) for SECONDS.
        import pyarrow as pa
        from deltalake import write_deltalake

        uri, start, until = sys.argv[2], int(sys.argv[3]), time.time() + float(sys.argv[4])
        written, failed = 0, []
        while time.time() < until:
            row = pa.table({"id": pa.array([start + written], pa.int32()), "v": pa.array(["other"])})
            try:
                write_deltalake(uri, row, mode="append")
                written += 1
            except Exception as e:  # noqa: BLE001 - a conflict is retried, anything else reported
                failed.append(str(e))
            time.sleep(0.1)
        print(json.dumps({"written": written, "failed": failed}))
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
