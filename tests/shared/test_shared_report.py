"""``tradeterm report --shared`` on a real PostgreSQL server: journal rows as the shipper
writes them (``tradeterm/shared/shipper.py``: kind, and the SQLite row as JSON) for three
instances on two hosts, reported per instance, per market, per strategy and in total, over
a range of trading days (fixed timestamps: no real date anywhere)."""

from __future__ import annotations

import datetime as dt
import io
import json
import uuid
from decimal import Decimal

import psycopg
import pytest

from tests.support.postgres import SharedDb
from tradeterm.cli.main import build_command_parser
from tradeterm.cli.shared_report import cmd_report
from tradeterm.journal.report import CHICAGO

NS = 1_000_000_000
A, B, C = (str(uuid.UUID(int=n)) for n in (1, 2, 3))
Row = tuple[str, int, dict[str, object]]  # a shipped row: its kind, time and columns


def at(day: int, hour: int) -> int:
    """Nanoseconds at ``hour`` o'clock Chicago time on November ``day`` 2026 (before 17:00:
    that day's trading day)."""
    return int(dt.datetime(2026, 11, day, hour, tzinfo=CHICAGO).timestamp()) * NS


def fill(exec_id: str, order_id: str | None, side: str, qty: int, ticks: int, price: str,
         ts: int) -> Row:  # fmt: skip
    return "fills", ts, {"exec_id": exec_id, "order_id": order_id, "side": side,
                         "quantity": qty, "price_ticks": ticks, "price": price, "ts_ns": ts,
                         "own": 1, "historical": 0}  # fmt: skip


def intent(order_id: str, command_id: str, source: str | None, ts: int) -> Row:
    return "order_intents", ts, {"order_id": order_id, "session_id": 1,
                                 "command_id": command_id, "source": source}  # fmt: skip


SHIPPED: dict[tuple[str, str, str], list[Row]] = {
    (A, "desk1/ES/live", "ES"): [
        ("signals", at(18, 9), {"id": 1, "session_id": 1, "command_id": "c1", "source": "sma"}),
        intent("ES-1", "c1", None, at(18, 9)),  # written before intents carried their source
        intent("ES-1", "c1", None, at(18, 9) + 1),  # its update, shipped too
        fill("e1", "ES-1", "BUY", 2, 20000, "5000.00", at(18, 9)),
        ("commissions", at(18, 9), {"exec_id": "e1", "amount": "4.50"}),
        intent("ES-2", "c2", "manual", at(18, 10)),
        fill("e2", "ES-2", "SELL", 2, 20004, "5001.00", at(18, 10)),
        ("commissions", at(18, 10), {"exec_id": "e2", "amount": "4.50"}),
    ],
    (B, "desk2/NQ/live", "NQ"): [
        fill("e3", None, "BUY", 1, 80000, "20000.00", at(19, 9)),  # no intent: external
        fill("e4", None, "SELL", 1, 79996, "19999.00", at(19, 10)),
        fill("e5", None, "BUY", 1, 79996, "19999.00", at(19, 11)),  # still open
    ],
    (C, "desk2/ZZ/live", "ZZ"): [fill("e6", None, "BUY", 1, 100, "1.00", at(19, 9))],
}


@pytest.fixture
def shipped(shared_db: SharedDb) -> SharedDb:
    for (instance, name, symbol), rows in SHIPPED.items():
        shared_db.query("INSERT INTO tradeterm.instances (instance_id, name, host, symbol, "
                        "mode) VALUES (%s, %s, %s, %s, 'live') RETURNING 1",
                        (instance, name, name.split("/")[0], symbol))  # fmt: skip
        for seq, (kind, ts, data) in enumerate(rows, 1):
            shared_db.query("INSERT INTO tradeterm.journal_rows (instance_id, session_id, seq, "
                            "kind, ts_ns, data) VALUES (%s, 1, %s, %s, %s, %s) RETURNING 1",
                            (instance, seq, kind, ts, json.dumps(data)))  # fmt: skip
    return shared_db


def report(monkeypatch: pytest.MonkeyPatch, url: str, *args: str) -> str:
    monkeypatch.setenv("TRADETERM_SHARED__URL", url)
    parsed = build_command_parser().parse_args(["report", "--shared", *args])
    out = io.StringIO()
    assert cmd_report(parsed, out) == 0
    return out.getvalue()


def test_report_shared_per_instance_market_strategy_and_total(
    shipped: SharedDb, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = json.loads(report(monkeypatch, shipped.admin_url, "--format", "json"))
    net = {g: {k: Decimal(v["net"]) for k, v in doc[f"by_{g}"].items()}
           for g in ("instance", "market", "strategy")}  # fmt: skip
    # ES: 4 ticks x 12.50 x 2 = 100.00 less 9.00 commissions; NQ: -4 ticks x 5.00 = -20.00
    assert net == {
        "instance": {"desk1/ES/live": Decimal("91.00"), "desk2/NQ/live": Decimal("-20.00")},
        "market": {"ES": Decimal("91.00"), "NQ": Decimal("-20.00")},
        "strategy": {"sma": Decimal("91.00"), "external": Decimal("-20.00")},
    }
    assert (doc["total"]["trades"], doc["total"]["net"], doc["total"]["commissions"]) == (
        2, "71.00", "9.00")  # fmt: skip
    assert doc["open_positions"] == {"desk2/NQ/live": 1}
    assert doc["not_valued"] == {"desk2/ZZ/live": "ZZ's multiplier is not in the built-in table"}

    text = report(monkeypatch, shipped.admin_url, "--from", "2026-11-19")
    lines = text.splitlines()
    assert lines[0] == (
        "every instance in the shared database, mode live, trading days 2026-11-19 to now"
    )
    assert [line.split()[:3] for line in lines[3:7]] == [
        ["instance", "desk2/NQ/live", "1"], ["market", "NQ", "1"],
        ["strategy", "external", "1"], ["total", "all", "1"],
    ]  # fmt: skip
    assert "desk2/NQ/live: open position 1 (not counted until closed)" in lines


def test_report_shared_without_a_reading_role_is_one_line(
    shipped: SharedDb, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tradeterm.cli.main import main

    monkeypatch.setenv("TRADETERM_SHARED__URL", shipped.writer_url)
    assert main(["report", "--shared"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("tradeterm: the shared database at postgresql://tradeterm_writer@")
    assert "permission denied for table journal_rows" in err and len(err.splitlines()) == 1
    assert err.rstrip().endswith("(the reader role may: tradeterm shared roles)")


def test_report_shared_as_the_reader_role_which_may_not_write(
    shipped: SharedDb, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = json.loads(report(monkeypatch, shipped.reader_url, "--format", "json"))
    assert (doc["total"]["trades"], doc["total"]["net"]) == (2, "71.00")  # as the owner sees
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        psycopg.connect(shipped.reader_url, autocommit=True).execute(
            "DELETE FROM tradeterm.journal_rows"
        )


D = str(uuid.UUID(int=4))
EMBEDDED: list[Row] = [  # two runs of an embedded gateway: a new market between them
    ("sessions", at(20, 9), {"id": 1, "mode": "sim"}),
    ("fills", at(20, 9), {**fill("s1", None, "BUY", 1, 24000, "6000.00", at(20, 9))[2],
                          "booked_ns": at(20, 9)}),
    ("position_snapshots", at(20, 10), {"id": 7, "ts_ns": at(20, 10), "quantity": 0,
                                        "cause": "new market"}),
    ("fills", at(20, 11), {**fill("s2", None, "SELL", 1, 24400, "6100.00", at(20, 11))[2],
                           "booked_ns": at(20, 11)}),
]  # fmt: skip


@pytest.fixture
def two_modes(shipped: SharedDb) -> SharedDb:
    shipped.query("INSERT INTO tradeterm.instances (instance_id, name, host, symbol, mode) "
                  "VALUES (%s, 'desk1/ES/sim', 'desk1', 'ES', 'sim') RETURNING 1", (D,))  # fmt: skip
    for seq, (kind, ts, data) in enumerate(EMBEDDED, 1):
        shipped.query("INSERT INTO tradeterm.journal_rows (instance_id, session_id, seq, kind, "
                      "ts_ns, data) VALUES (%s, 1, %s, %s, %s, %s) RETURNING 1",
                      (D, seq, kind, ts, json.dumps(data)))  # fmt: skip
    return shipped


def test_report_shared_is_one_mode_and_cuts_where_a_new_market_began(
    two_modes: SharedDb, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = json.loads(report(monkeypatch, two_modes.admin_url, "--mode", "sim", "--format",
                            "json"))  # fmt: skip
    assert doc["total"]["trades"] == 0  # a lot of the run that ended is matched with nothing
    assert doc["mode"] == "sim"
    assert doc["open_positions"] == {"desk1/ES/sim": -1}  # the new market's zero, then a sale
    live = json.loads(report(monkeypatch, two_modes.admin_url, "--mode", "live", "ES",
                             "--format", "json"))  # fmt: skip
    assert list(live["by_instance"]) == ["desk1/ES/live"]  # ES only, live only


@pytest.mark.parametrize(
    ("args", "said"),
    [((), "holds fills of modes live, sim: give --mode"), (("--format", "csv"), "--format csv"),
     (("--compare",), "--compare")],
)  # fmt: skip
def test_report_shared_refuses_what_it_cannot_honour_in_one_line(
    two_modes: SharedDb, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    args: tuple[str, ...], said: str,
) -> None:  # fmt: skip
    from tradeterm.cli.main import main

    monkeypatch.setenv("TRADETERM_SHARED__URL", two_modes.admin_url)
    assert main(["report", "--shared", *args]) != 0
    err = capsys.readouterr().err
    assert said in err and len(err.splitlines()) == 1
