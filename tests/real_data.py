"""Reading the recorded CME data in ../shared/data/derived (Databento CSV transcodings).

Tests that use it skip cleanly when the folder is absent (a clone without shared/)."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

DERIVED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "derived"
NS = 1_000_000_000


def rows(name: str) -> Iterator[dict[str, str]]:
    """The rows of one derived CSV as dicts; skips the test when the file is not there."""
    path = DERIVED / name
    if not path.is_file():
        pytest.skip(f"{path} not available")
    with path.open(newline="") as f:
        yield from csv.DictReader(f)


def ts_ns(text: str) -> int:
    """ISO-8601 UTC with up to nanoseconds (``2024-07-01T23:58:01.218218853Z``)."""
    base, _, frac = text.rstrip("Z").partition(".")
    seconds = dt.datetime.fromisoformat(base).replace(tzinfo=dt.UTC).timestamp()
    return int(seconds) * NS + int(frac.ljust(9, "0") or 0)


DATA = DERIVED.parent


def dbn_path(name: str) -> Path:
    """A recorded file in ../shared/data; skips the test when it (or databento-dbn) is absent."""
    path = DATA / name
    if not path.is_file():
        pytest.skip(f"{path} not available")
    pytest.importorskip("databento_dbn")
    return path


def dbn_trades(name: str) -> list[tuple[int, float, int]]:
    """Every trade of a DBN file (MBO, MBP-1 or trades) as ``(ts_recv ns, price, size)``,
    decoded by databento-dbn itself: an independent reading of the file, not tradeterm's."""
    return [
        (rec.ts_recv, rec.price / NS, int(rec.size))
        for rec in dbn_records(name)
        if str(getattr(rec, "action", "")) == "T" and rec.size > 0
    ]


def dbn_records(name: str) -> list[Any]:
    """Every record of a DBN file (metadata excluded), decoded by databento-dbn."""
    import databento_dbn

    path = dbn_path(name)
    dbn: Any = databento_dbn
    decoder = dbn.DBNDecoder(compression=dbn.Compression.ZSTD)
    decoder.write(path.read_bytes())
    return [rec for rec in decoder.decode() if hasattr(rec, "ts_recv")]


def data_file(name: str) -> Path:
    """A recorded file in ../shared/data (DBN); skips the test when it is not there."""
    path = DERIVED.parent / name
    if not path.is_file():
        pytest.skip(f"{path} not available")
    return path
