"""What the bar loader (backtest/data.py) says about a file a trader hands it: each problem one
line naming the rule and the row, prices as prices; what it reads the same (a BOM)."""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

import pytest

from tradeterm.backtest.data import DataError, detect, instrument_for, load_bars
from tradeterm.domain import Bar

HEADER = "ts_utc,open,high,low,close,volume\n"
GOOD = "2025-01-08T23:00:00Z,5996.50,5997.00,5996.00,5996.50,10\n"


def bars_of(path: Path, start: dt.datetime | None = None,
            end: dt.datetime | None = None) -> list[Bar]:  # fmt: skip
    source = detect(path, "ES")
    return load_bars(source, instrument_for("ES", source), start, end)


def refusal(path: Path) -> str:
    with pytest.raises(DataError) as caught:
        bars_of(path)
    text = str(caught.value)
    assert "\n" not in text
    return text


def minutes(*stamps: str) -> str:
    return "".join(f"{s},5996.50,5997.00,5996.00,5996.50,10\n" for s in stamps)


@pytest.mark.parametrize(
    ("row", "words"),
    [
        ("5996.50,5900.00,5896.00,5896.50,10", "line 3: high 5900.00 is below the open 5996.50"),
        ("5996.50,5997.00,5996.00,5998.25,10", "line 3: high 5997.00 is below the close 5998.25"),
        ("5996.50,5997.00,5996.75,5997.00,10", "line 3: low 5996.75 is above the open 5996.50"),
        ("5996.50,5990.00,5997.00,5996.50,10", "line 3: high 5990.00 is below the low 5997.00"),
        ("5996.50,5997.00,5996.00,5996.50,-3", "line 3: negative volume -3"),
    ],
    ids=["high-below-open", "high-below-close", "low-above-open", "high-below-low", "volume"],
)
def test_a_bad_bar_names_the_rule_broken_in_prices(tmp_path: Path, row: str, words: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(f"{HEADER}{GOOD}2025-01-08T23:01:00Z,{row}\n")
    assert refusal(path) == f"bad.csv: {words}"


def test_a_bad_bar_of_a_databento_csv_names_its_time_and_the_rule(tmp_path: Path) -> None:
    path = tmp_path / "ohlcv.csv"
    path.write_text("ts_event,rtype,publisher_id,instrument_id,open,high,low,close,volume,symbol\n"
                    "2025-01-08T23:00:00.000000000Z,33,1,1,5996.50,5900.00,5896.00,5896.50,10,"
                    "ESH5\n")  # fmt: skip
    text = refusal(path)
    assert (
        text == "ohlcv.csv: the bar at 2025-01-08 23:00 UTC: high 5900.00 is below the open 5996.50"
    )


def test_a_csv_with_the_byte_order_mark_excel_writes_reads_as_without(tmp_path: Path) -> None:
    plain, bom = tmp_path / "plain.csv", tmp_path / "bom.csv"
    plain.write_text(HEADER + minutes("2025-01-08T23:00:00Z", "2025-01-08T23:01:00Z"))
    bom.write_bytes(b"\xef\xbb\xbf" + plain.read_bytes())
    assert bars_of(bom) == bars_of(plain)
    assert len(bars_of(bom)) == 2


def test_a_replay_csv_with_the_byte_order_mark_is_detected_as_without(tmp_path: Path) -> None:
    path = tmp_path / "replay.csv"
    path.write_bytes(b"\xef\xbb\xbfts,type\n2025-01-08T23:00:00Z,trade,5996.50,2,B\n")
    assert detect(path, "ES").kind == "events"


def test_a_directory_is_said_to_be_one(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="a directory, not a data file"):
        detect(tmp_path, "ES")


@pytest.mark.parametrize("name", ["bars.zip", "bars.csv"])
def test_a_zip_is_said_to_be_no_bar_or_dbn_file(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("bars.csv", HEADER + GOOD * 50)
    with pytest.raises(DataError) as caught:
        detect(path, "ES")
    assert str(caught.value) == f"{name}: a zip archive, not a text bar file nor a DBN file"


def test_binary_data_is_said_to_be_no_bar_or_dbn_file(tmp_path: Path) -> None:
    path = tmp_path / "bars.csv"
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(DataError, match=r"bars\.csv: binary, not a text bar file nor a DBN file"):
        detect(path, "ES")


def test_binary_past_the_first_bytes_is_said_to_be_not_text(tmp_path: Path) -> None:
    path = tmp_path / "bars.csv"
    path.write_bytes((HEADER + minutes("2025-01-08T23:00:00Z") * 500).encode() + b"\x80\x81\n")
    text = refusal(path)
    assert text.startswith("bars.csv: not text past byte ") and "codec" not in text


def test_a_header_and_nothing_under_it_is_refused_as_an_empty_file_is(tmp_path: Path) -> None:
    path = tmp_path / "header.csv"
    path.write_text(HEADER + "\n")
    assert refusal(path) == "header.csv: no bars in the file"


def test_a_range_without_bars_is_no_error_the_run_has_none(tmp_path: Path) -> None:
    path = tmp_path / "bars.csv"
    path.write_text(HEADER + minutes("2025-01-08T23:00:00Z", "2025-01-08T23:01:00Z"))
    start = dt.datetime(2021, 1, 1, tzinfo=dt.UTC)
    assert bars_of(path, start, start + dt.timedelta(days=1)) == []


def test_five_minute_bars_are_refused_naming_the_first_two(tmp_path: Path) -> None:
    path = tmp_path / "five.csv"
    path.write_text(HEADER + minutes("2025-01-08T23:00:00Z", "2025-01-08T23:05:00Z",
                                     "2025-01-08T23:15:00Z", "2025-01-08T23:20:00Z"))  # fmt: skip
    assert refusal(path) == ("five.csv: 5-minute bars (the first two at 2025-01-08 23:00 UTC and "
                             "2025-01-08 23:05 UTC): a backtest runs on 1-minute bars")  # fmt: skip


def test_minute_bars_with_minutes_missing_are_minute_bars(tmp_path: Path) -> None:
    """A minute without a trade has no bar: gaps of 5 and 7 minutes are still 1-minute bars."""
    path = tmp_path / "sparse.csv"
    path.write_text(HEADER + minutes("2025-01-08T23:00:00Z", "2025-01-08T23:05:00Z",
                                     "2025-01-08T23:12:00Z"))  # fmt: skip
    assert len(bars_of(path)) == 3


@pytest.mark.parametrize("stamp", ["2025-01-08T23:01:30Z", "2025-01-08T23:01:00.5+00:00"])
def test_a_bar_not_on_a_minute_is_refused_naming_its_line(tmp_path: Path, stamp: str) -> None:
    path = tmp_path / "half.csv"
    path.write_text(HEADER + minutes("2025-01-08T23:00:00Z", stamp))
    assert refusal(path) == (f"half.csv: line 3: {stamp} is not on a minute: a backtest runs on "
                             "1-minute bars")  # fmt: skip
