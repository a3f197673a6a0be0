"""The equity curve: drawn in the terminal in the size asked for, and written to a file in the
format its name says (SVG that parses as XML, PNG by its magic bytes, HTML holding the SVG);
another extension, or matplotlib missing, is one line for the user."""

from __future__ import annotations

import re
import sys
import xml.etree.ElementTree as ET
from decimal import Decimal
from pathlib import Path

import pytest

from tests.support.clock import ct
from tests.unit.backtest.sample_result import MARKS, sample
from tradeterm.backtest.equity import (
    EquityFileError,
    _figure,
    check_equity_path,
    equity_text,
    thinned,
    write_equity,
)
from tradeterm.backtest.stats import EquityCurve, marked_equity

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def curve() -> EquityCurve:
    return marked_equity(sample())


@pytest.mark.parametrize(("width", "height"), [(80, 20), (40, 10), (120, 30)])
def test_the_terminal_curve_fits_the_size_asked(width: int, height: int) -> None:
    text = equity_text(curve(), width, height)
    lines = text.split("\n")
    assert len(lines) == height
    assert {len(line) for line in lines} == {width}
    assert "\x1b" not in text  # no colour codes: it goes to files and pipes too


def test_the_terminal_curve_shows_the_values() -> None:
    text = equity_text(curve(), 80, 20)
    assert "equity" in text
    assert re.search(r"100,\d\d\d\.\d\d", text)  # the y axis is in the account's money


def test_an_empty_curve_is_one_line() -> None:
    empty = EquityCurve((), (), 0, ())
    assert equity_text(empty, 80, 20) == "equity: no bar to mark"


def test_a_long_run_is_thinned_to_its_extremes() -> None:
    values = [Decimal(100 + (i % 50)) for i in range(10_000)]
    values[5_123] = Decimal(-7)  # a one-bar crash must survive thinning
    long = EquityCurve(tuple(range(10_000)), tuple(values), 0, (0,) * 10_000)
    times, kept = thinned(long, 100)
    assert len(kept) <= 200
    assert min(kept) == Decimal(-7) and max(kept) == Decimal(149)
    assert times == sorted(times)


def test_svg_is_xml(tmp_path: Path) -> None:
    path = tmp_path / "curve.svg"
    write_equity(curve(), path)
    root = ET.parse(path).getroot()
    assert root.tag.endswith("svg")


def test_png_is_a_png(tmp_path: Path) -> None:
    path = tmp_path / "curve.PNG"
    write_equity(curve(), path)
    assert path.read_bytes()[:8] == PNG_MAGIC


def test_html_holds_the_svg(tmp_path: Path) -> None:
    path = tmp_path / "curve.html"
    write_equity(curve(), path, title="sma_cross on ES")
    page = path.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    svg = page[page.index("<svg") : page.index("</svg>") + len("</svg>")]
    assert ET.fromstring(svg).tag.endswith("svg")
    assert "<title>sma_cross on ES</title>" in page
    assert "<?xml" not in page


def test_an_unknown_extension_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(EquityFileError) as err:
        write_equity(curve(), tmp_path / "curve.txt")
    assert str(err.value) == (
        f"cannot write an equity curve to {tmp_path / 'curve.txt'}: give a file ending in "
        ".svg, .png or .html"
    )
    assert not (tmp_path / "curve.txt").exists()


def test_matplotlib_missing_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    with pytest.raises(EquityFileError, match=r"needs matplotlib: pip install 'tradeterm\[plot\]'"):
        check_equity_path(tmp_path / "curve.png")


def test_a_directory_that_does_not_exist_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(EquityFileError, match="cannot write"):
        write_equity(curve(), tmp_path / "missing" / "curve.svg")


def test_marks_are_what_the_curve_draws() -> None:
    assert list(curve().values) == MARKS


def across_new_year() -> EquityCurve:
    """Marks from 2026-12-31 to 2027-01-04, Chicago time."""
    times = (ct(2026, 12, 31, 10), ct(2027, 1, 2, 10), ct(2027, 1, 4, 10))
    values = (Decimal("100000"), Decimal("100425.80"), Decimal("99000"))
    return EquityCurve(times, values, 0, times, "sma_cross fast=10 on ESH7, es.csv")


def test_the_terminal_curve_reads_money_as_the_report_and_dates_with_the_year() -> None:
    """The trial: y axis "100425.8" where the report says "100,000.00"; dates without a year
    for a run across the new year."""
    text = equity_text(across_new_year(), 80, 20)
    assert "100,425.80" in text and "99,000.00" in text
    assert "2026-12-31 10:00" in text and "2027-01-04" in text
    one_year = equity_text(curve(), 80, 20)
    assert "11-19 10:01" in one_year and "2026-" not in one_year


def test_the_files_axes_and_title_say_what_the_report_says(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    path = tmp_path / "curve.html"
    write_equity(across_new_year(), path)
    assert "<title>equity: sma_cross fast=10 on ESH7, es.csv</title>" in path.read_text()
    figure = _figure(across_new_year(), "t")
    figure.draw_without_rendering()
    axes = figure.axes[0]
    ys = [label.get_text() for label in axes.get_yticklabels()]
    xs = [label.get_text() for label in axes.get_xticklabels()]
    assert "100,000.00" in ys
    assert xs and all(re.fullmatch(r"20\d\d-\d\d-\d\d \d\d:\d\d", x) for x in xs), xs


def test_the_curve_of_a_run_is_titled_by_what_ran() -> None:
    assert curve().title == "sma_cross fast=10 slow=30 on ESZ6, ES_1min.csv"


def test_the_curve_is_the_same_after_the_screens_chart_left_plotext_on_a_subplot() -> None:
    """plotext is one figure per process: the screen's chart draws candles over volume in two
    subplots and may leave one addressed; the equity curve must clear the whole figure (the
    full suite failed this way after the UI tests, passing alone)."""
    import plotext as plt

    clean = equity_text(curve(), 80, 20)
    plt.main()
    plt.clf()
    plt.subplots(2, 1)
    plt.subplot(2, 1)  # as the chart's volume pane leaves it
    assert equity_text(curve(), 80, 20) == clean
