"""The strategy panel in CANARY: it says so, and shows both the paper and the live position."""

from __future__ import annotations

from tradeterm.engine.events import StrategyView
from tradeterm.engine.types import StrategyState
from tradeterm.ui.widgets.strategy_panel import strategy_text


def view(canary: float | None, paper: int | None) -> StrategyView:
    return StrategyView("sma_cross", "tradeterm.strategies.sma_cross:SmaCross", (),
                        StrategyState.RUNNING, "started", 0, (), canary=canary,
                        paper_position=paper)  # fmt: skip


def test_a_canary_strategy_says_canary_and_its_paper_and_live_positions() -> None:
    """A user trial found the CANARY screen looked like plain SIM and showed ``pos +0`` (the
    live leg) while the strategy traded on a paper short."""
    text = strategy_text(view(0.5, -1), 32, signals=0).plain
    assert "CANARY 0.5 live" in text and "paper -1 live +0" in text


def test_outside_canary_the_panel_shows_one_position() -> None:
    text = strategy_text(view(None, None), 32, signals=0).plain
    assert "CANARY" not in text and "pos +0" in text and "paper" not in text


def test_a_signal_on_one_line_keeps_its_direction() -> None:
    """At 80x24 a signal read ``16:17:00 target sent 1 (SMA(2) ...``: short or long, unsaid."""
    from tradeterm.engine.events import StrategySignal
    from tradeterm.ui.widgets.strategy_panel import signal_lines

    signal = StrategySignal("sma_cross", "TargetPosition", "quantity=-1", "SMA(2) < SMA(3)",
                            True, "tt.ES.1.1", 0, "cmd-1", 1)  # fmt: skip
    (line,) = signal_lines(signal, 32, roomy=False)
    assert " target -1 sent 1 " in line and len(line) <= 32
