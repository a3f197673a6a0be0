"""The queue figure in an order's ladder cell: whole where it fits, compact (rounded up, never
fewer than estimated) where it does not, ``q?`` when unknown."""

from __future__ import annotations

from tradeterm.ui.widgets.ladder_data import ORDER_CELL, ORDER_CELL_WIDE, queue_figure, with_queue


def test_the_figure_is_rounded_up_never_down() -> None:
    assert [queue_figure(n) for n in (0, 12, 312, 999, 1000, 1201, 9950, 12_001)] == [
        "0", "12", "312", "999", "1.0k", "1.3k", "10k", "13k",
    ]  # fmt: skip
    assert queue_figure(None) == "?"


def test_the_cell_shows_what_fits() -> None:
    at = {7: 312}
    assert with_queue("1L", at, 7, ORDER_CELL_WIDE) == "1Lq312"
    assert with_queue("1L", at, 7, ORDER_CELL) == "q312"  # one limit: the figure alone
    assert with_queue("2L", at, 7, ORDER_CELL) == "2L"  # the quantity wins
    assert with_queue("2L", {7: 1234}, 7, ORDER_CELL_WIDE) == "2Lq1234"
    assert with_queue("2L", {7: 12_345}, 7, ORDER_CELL_WIDE) == "2Lq13k"
    assert with_queue("1L", {7: 1234}, 7, ORDER_CELL) == "q1.3k"
    assert with_queue("1L", {7: None}, 7, ORDER_CELL) == "1Lq?"
    assert with_queue("1L", at, 8, ORDER_CELL) == "1L"  # no estimate at that price
