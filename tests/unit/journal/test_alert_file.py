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
    kept.save(["6001.00", "5998.25"])
    assert AlertFile(path).load() == ["6001.00", "5998.25"]
    kept.save([])
    assert kept.load() == []


def test_a_file_that_cannot_be_read_is_no_alerts(tmp_path: Path) -> None:
    path = tmp_path / "ES.sqlite.alerts"
    for text in ("not json", '{"prices": "6001.00"}', "[]"):
        path.write_text(text)
        assert AlertFile(path).load() == []
