"""The price alerts kept beside the journal: saved and read back, nothing when there is no
file, and a file that cannot be read taken as no alerts (a reminder never stops a start)."""

from __future__ import annotations

from pathlib import Path

from tradeterm.journal.alert_file import AlertFile, alert_file


def test_alerts_are_saved_beside_the_journal_and_read_back(tmp_path: Path) -> None:
    path = alert_file(tmp_path / "journal" / "ES.sqlite")
    assert path.name == "ES.sqlite.alerts"
    kept = AlertFile(path)
    assert kept.load() == []
    kept.save([("6001.00", 1), ("5998.25", -1), ("5999.00", 0)])
    assert AlertFile(path).load() == [("6001.00", 1), ("5998.25", -1), ("5999.00", 0)]
    kept.save([])
    assert kept.load() == []


def test_a_file_that_cannot_be_read_is_no_alerts(tmp_path: Path) -> None:
    path = tmp_path / "ES.sqlite.alerts"
    for text in (
        "not json",
        '{"prices": "6001.00"}',
        "[]",
        '{"alerts": [{"price": "1", "side": 2}]}',
    ):
        path.write_text(text)
        assert AlertFile(path).load() == []


def test_a_file_of_the_earlier_form_is_read_with_its_sides_unknown(tmp_path: Path) -> None:
    path = tmp_path / "ES.sqlite.alerts"
    path.write_text('{"prices": ["6001.00", "5998.25"]}')
    assert AlertFile(path).load() == [("6001.00", 0), ("5998.25", 0)]
