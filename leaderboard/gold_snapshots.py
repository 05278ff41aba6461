"""A benchmark's gold as one file in the media storage, so that scoring need not read its items.

Reading a million items through the ORM and validating them again takes seconds per scoring; the
snapshot is read in a fraction of one. It holds exactly what `Benchmark.gold()` builds from the
Item rows, is named by the gold's digest and the grader (`snapshot_name`), written when a gold is
stored, and rebuilt from the Item rows by the first scoring that misses it. Every worker reads
the same media storage (docker-compose.yml gives them one volume), so one write serves them all.

The format is a NumPy `.npz` archive read with `allow_pickle=False`: arrays of numbers and
bytes, and one JSON header; nothing in it is ever unpickled or evaluated. Each text column is its
values' UTF-8 joined by NUL characters, which no stored text holds (`scoring.reading.gold` refuses
them), with a mask of the missing ones.
"""

from __future__ import annotations

import io
import json
import logging
import os
import uuid
import zipfile

import numpy as np
import pandas as pd
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

import scoring
from leaderboard.models import Benchmark

log = logging.getLogger(__name__)

FORMAT = 1
FOLDER = "gold/snapshots"
_TEXTS = ("id", "answer", "question", "category")
_SEPARATOR = "\x00"


def snapshot_name(benchmark: Benchmark) -> str:
    """Where the snapshot of the benchmark's current gold is kept (the same for equal gold)."""
    return f"{FOLDER}/{benchmark.gold_digest}-{benchmark.grader}.npz"


def benchmark_gold(benchmark: Benchmark) -> scoring.Gold:
    """The benchmark's gold: from its snapshot, else from the Item rows (writing the snapshot).

    A snapshot that is missing, unreadable or not of this gold is rebuilt; the Item rows stay
    the record.
    """
    if not benchmark.gold_digest:
        return benchmark.gold()
    name = snapshot_name(benchmark)
    try:
        with default_storage.open(name, "rb") as handle:
            return read_snapshot(
                handle.read(),
                digest=benchmark.gold_digest,
                grader=benchmark.grader,
                n_items=benchmark.n_items,
            )
    except FileNotFoundError:
        pass
    except (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile) as error:
        log.warning("Gold snapshot %s unusable (%s): rebuilt from the items", name, error)
    gold = benchmark.gold()
    # The rows may be of a gold stored since the benchmark was read: never file them under the
    # wrong name.
    if gold.digest == benchmark.gold_digest:
        write_snapshot(gold, digest=benchmark.gold_digest, grader=benchmark.grader)
    return gold


def write_snapshot(gold: scoring.Gold, *, digest: str, grader: str) -> str:
    """Store the snapshot of `gold` (as `Benchmark.gold()` would give it) under its name.

    The file is written whole under a name of its own, then renamed into place, so that a
    reader never sees half of it and two writers of the same gold do no harm.
    """
    name = f"{FOLDER}/{digest}-{grader}.npz"
    data = snapshot_bytes(gold, digest=digest, grader=grader)
    try:
        final = default_storage.path(name)
    except NotImplementedError:  # a storage without local paths: a plain save
        if not default_storage.exists(name):
            default_storage.save(name, ContentFile(data))
        return name
    os.makedirs(os.path.dirname(final), exist_ok=True)
    partial = f"{final}.{uuid.uuid4().hex}.partial"
    with open(partial, "wb") as handle:
        handle.write(data)
    os.replace(partial, final)
    return name


def snapshot_bytes(gold: scoring.Gold, *, digest: str, grader: str) -> bytes:
    """The snapshot file of `gold`, as the stored items read back: empty texts as missing, and
    no number of options (the Item rows keep it; scoring does not read it)."""
    items = gold.items
    arrays: dict[str, np.ndarray] = {}
    for name in _TEXTS:
        values = [value if isinstance(value, str) else "" for value in items[name].tolist()]
        arrays[name] = np.frombuffer(_SEPARATOR.join(values).encode(), dtype=np.uint8)
        arrays[f"{name}_missing"] = np.fromiter(
            (not value for value in values), dtype=bool, count=len(values)
        )
    aliases = items["aliases"].tolist()
    arrays["alias_counts"] = np.fromiter(map(len, aliases), dtype=np.int32, count=len(aliases))
    flat = [str(alias) for values in aliases for alias in values]
    arrays["aliases"] = np.frombuffer(_SEPARATOR.join(flat).encode(), dtype=np.uint8)
    header = {
        "format": FORMAT,
        "digest": digest,
        "grader": grader,
        "n_items": len(items),
        "columns": {name: name for name in (*_TEXTS[:2], "aliases", *_TEXTS[2:])},
    }
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    out = io.BytesIO()
    np.savez(out, **arrays)
    return out.getvalue()


def read_snapshot(data: bytes, *, digest: str, grader: str, n_items: int) -> scoring.Gold:
    """The Gold a snapshot holds; ValueError if it is not the snapshot of this gold."""
    with np.load(io.BytesIO(data), allow_pickle=False) as archive:
        header = json.loads(archive["header"].tobytes())
        expected = {"format": FORMAT, "digest": digest, "grader": grader, "n_items": n_items}
        if any(header.get(key) != value for key, value in expected.items()):
            raise ValueError("the snapshot is of another gold")
        columns: dict[str, object] = {}
        for name in _TEXTS:
            values = _texts(archive[name], n_items)
            missing = archive[f"{name}_missing"]
            if name in ("id", "answer"):
                if missing.any():
                    raise ValueError(f"the snapshot lacks some {name}s")
                columns[name] = pd.Series(values).astype(str)
            else:
                column = np.asarray(values, dtype=object)
                column[missing] = None
                columns[name] = pd.Series(column, dtype=object)
        counts = archive["alias_counts"]
        columns["aliases"] = pd.Series(_alias_tuples(archive["aliases"], counts), dtype=object)
    if len(counts) != n_items:
        raise ValueError("the snapshot's aliases are not one per item")
    items = pd.DataFrame(
        {
            "id": columns["id"],
            "answer": columns["answer"],
            "aliases": columns["aliases"],
            "question": columns["question"],
            "category": columns["category"],
            "n_options": pd.arrays.IntegerArray(
                np.zeros(n_items, dtype=np.int64), np.ones(n_items, dtype=bool)
            ),
        },
        copy=False,
    )
    used = header["columns"]
    return scoring.Gold(items=items, columns=scoring.ColumnReport(used=used, ignored=[]))


def _texts(blob: np.ndarray, n_items: int) -> list[str]:
    values = blob.tobytes().decode().split(_SEPARATOR)
    if len(values) != n_items:
        raise ValueError("the snapshot's columns are not one value per item")
    return values


def _alias_tuples(blob: np.ndarray, counts: np.ndarray) -> list[tuple[str, ...]]:
    total = int(counts.sum())
    if not total:
        return [()] * len(counts)
    flat = blob.tobytes().decode().split(_SEPARATOR)
    if len(flat) != total:
        raise ValueError("the snapshot's aliases do not add up")
    ends = np.cumsum(counts).tolist()
    starts = [0, *ends[:-1]]
    return [tuple(flat[a:b]) for a, b in zip(starts, ends, strict=True)]
