"""The strategy API: intents check themselves, a hook's bars are a snapshot, parameters are
strict, and the package stays pure."""

from __future__ import annotations

import dataclasses

import grimp
import pytest
from pydantic import Field, ValidationError

from tests.support.instruments import ES
from tradeterm.domain import Bar, Side
from tradeterm.strategies import (
    BarHistory,
    Entry,
    EntrySignal,
    EntryType,
    Params,
    Strategy,
    StrategyContext,
)


def bar(minute: int, close: int = 100) -> Bar:
    return Bar(minute * 60_000_000_000, close, close, close, close, 1)


def test_entries_are_market_or_priced_in_ticks() -> None:
    assert Entry.market() == Entry(EntryType.MARKET, None)
    assert Entry.limit(20000).price == 20000 and Entry.stop(20004).type is EntryType.STOP
    with pytest.raises(ValueError, match="a market entry takes no price, got 5"):
        Entry(EntryType.MARKET, 5)
    with pytest.raises(ValueError, match="a limit entry needs a price in ticks"):
        Entry(EntryType.LIMIT)


@pytest.mark.parametrize("bad", [0, -3, True, 1.5])
def test_an_entry_signal_needs_whole_positive_stop_and_target_ticks(bad: object) -> None:
    ok = EntrySignal(Side.BUY, Entry.limit(20000), stop_ticks=8, target_ticks=16, reason="pb")
    assert (ok.stop_ticks, ok.target_ticks) == (8, 16)
    with pytest.raises(ValueError, match="stop_ticks must be a whole number of ticks >= 1"):
        EntrySignal(Side.BUY, Entry.market(), stop_ticks=bad, target_ticks=16, reason="x")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="target_ticks must be a whole number of ticks >= 1"):
        EntrySignal(Side.SELL, Entry.market(), stop_ticks=4, target_ticks=bad, reason="x")  # type: ignore[arg-type]


def test_a_hooks_bars_do_not_change_when_later_bars_close() -> None:
    history = BarHistory([bar(0, 1), bar(1, 2)])
    seen = history.view()
    history.append(bar(2, 3))
    assert len(seen) == 2 and [b.close for b in seen] == [1, 2]
    assert seen[-1].close == 2 and [b.close for b in seen[-5:]] == [1, 2]
    with pytest.raises(IndexError):
        seen[2]
    assert [b.close for b in history.view()[-2:]] == [2, 3]
    assert not hasattr(seen, "append")


def test_a_context_is_a_frozen_value() -> None:
    view = BarHistory([bar(0)]).view()
    ctx = StrategyContext(now_ns=60, instrument=ES, position=-1, bars=view)
    assert (ctx.now_ns, ctx.instrument, ctx.position, ctx.bars) == (60, ES, -1, view)
    assert ctx == StrategyContext(60, ES, -1, view) and "position=-1" in repr(ctx)
    assert dataclasses.replace(ctx, position=2).position == 2 and ctx.position == -1
    with pytest.raises(dataclasses.FrozenInstanceError):
        ctx.position = 3  # type: ignore[misc]
    assert not hasattr(ctx, "__dict__")


def test_bars_come_in_time_order() -> None:
    history = BarHistory([bar(5)])
    with pytest.raises(ValueError, match="bars must come in time order"):
        history.append(bar(5))


class _Quiet(Strategy[Params]):
    """Does nothing.

    Really nothing."""


def test_the_default_hooks_emit_nothing_and_market_events_are_opt_in() -> None:
    strategy = _Quiet(Params())
    ctx = StrategyContext(0, ES, 0, BarHistory().view())
    assert list(strategy.on_start(ctx)) == list(strategy.on_stop(ctx)) == []
    assert list(strategy.on_bar(ctx, bar(0))) == []
    assert not (_Quiet.wants_trades or _Quiet.wants_quotes or _Quiet.wants_book)
    assert _Quiet.description() == "Does nothing."


class _Sized(Params):
    size: int = Field(1, ge=1, description="contracts")


def test_parameters_refuse_unknown_keys_and_are_frozen() -> None:
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        _Sized.model_validate({"sise": 2})
    params = _Sized(size=2)
    with pytest.raises(ValidationError, match="frozen"):
        params.size = 3  # type: ignore[misc]


def test_the_package_imports_only_the_domain_of_tradeterm() -> None:
    """The engine's runner and a backtest both import it: it must never import them (or the
    broker, config, I/O), or the layers would fold into a cycle."""
    graph = grimp.build_graph("tradeterm", cache_dir=None)
    imported = {
        module
        for child in graph.find_children("tradeterm.strategies") | {"tradeterm.strategies"}
        for module in graph.find_modules_directly_imported_by(child)
    }
    outside = {
        m for m in imported if not m.startswith(("tradeterm.strategies", "tradeterm.domain"))
    }
    assert outside == set()
