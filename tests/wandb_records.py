"""Reading a W&B run file (``run-ID.wandb``) back, to check what an offline run recorded.

W&B 0.31 has no Python reader of its own (its Go core writes the file), so this reads the
format: a 7-byte header (``:W&B``, magic 0xBEE1, version 0), then 32 KiB blocks of LevelDB-log
records (crc32 4 bytes, length 2, type 1: full, first, middle, last), each payload a
`wandb_internal_pb2.Record`."""

import json
import struct
from pathlib import Path

from wandb.proto import wandb_internal_pb2 as pb

BLOCK = 32 * 1024
HEADER = 7
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def records(path: Path) -> list[pb.Record]:
    data = path.read_bytes()
    ident, magic, version = struct.unpack("<4sHB", data[:HEADER])
    assert (ident, magic, version) == (b":W&B", 0xBEE1, 0), "not a W&B run file"
    out, pending, pos = [], b"", HEADER
    while pos + HEADER <= len(data):
        left = BLOCK - pos % BLOCK
        if left < HEADER:  # a block's tail too short for a record header is padding
            pos += left
            continue
        _, length, kind = struct.unpack("<IHB", data[pos:pos + HEADER])
        payload = data[pos + HEADER:pos + HEADER + length]
        pos += HEADER + length
        if kind == 0 and length == 0:  # zero padding
            continue
        pending = payload if kind in (FULL, FIRST) else pending + payload
        if kind in (FULL, LAST):
            record = pb.Record()
            record.ParseFromString(pending)
            out.append(record)
    return out


def _items(items) -> dict:
    """Items by key; a nested key (a logged dict, such as an image's fields) as nested dicts."""
    out: dict = {}
    for item in items:
        path = [item.key] if item.key else list(item.nested_key)
        into = out
        for part in path[:-1]:
            into = into.setdefault(part, {})
        into[path[-1]] = json.loads(item.value_json)
    return out


def read_run(folder: Path) -> dict:
    """History rows, config, summary and exit code of the offline run in ``folder``."""
    (path,) = folder.glob("run-*.wandb")
    run = {"history": [], "config": {}, "summary": {}, "exit_code": None}
    for record in records(path):
        kind = record.WhichOneof("record_type")
        if kind == "history":
            run["history"].append(_items(record.history.item))
        elif kind == "run":  # the config given to wandb.init
            run["config"].update(_items(record.run.config.update))
        elif kind == "config":
            run["config"].update(_items(record.config.update))
        elif kind == "summary":
            run["summary"].update(_items(record.summary.update))
        elif kind == "exit":
            run["exit_code"] = record.exit.exit_code
    return run
