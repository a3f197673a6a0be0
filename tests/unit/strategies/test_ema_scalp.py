"""``ema_scalp``: hand-checked cases, and a window of the recorded ESH0 day checked by hand."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.support.instruments import ES
from tests.support.strategy_driver import ESH0, MINUTE, Driver, esh0_bars, flat_bars, utc_hhmm
from tradeterm.domain import Side
from tradeterm.strategies import Entry, EntrySignal, StrategyError, TargetPosition, load
from tradeterm.strategies.ema_scalp import EmaScalp, EmaScalpParams

# With fast=1 EMA(fast) is the close; with slow=3 the EMA's weight is 1/2: each close moves it
# half way to that close. ATR(2) of bars whose open = high = low = close is the mean of the
# last two close-to-close moves.


def scalp(**values: object) -> EmaScalp:
    base: dict[str, object] = {"fast": 1, "slow": 3, "atr_bars": 2, "stop_atr": "1.5",
                               "target_r": 2, "max_bars": 3}  # fmt: skip
    return EmaScalp(EmaScalpParams.model_validate(base | values))


@pytest.mark.parametrize(("move", "side"), [(4, Side.BUY), (-4, Side.SELL)])
def test_a_cross_enters_with_an_atr_stop_and_a_target_of_r_stops(move: int, side: Side) -> None:
    # closes 100 100 100 100+move: EMA(3) 100 100 100 100+move/2, so EMA(1) - EMA(3) goes
    # 0 0 0 move/2: a cross on bar 3. ATR(2) = (0 + 4) / 2 = 2; stop 1.5 x 2 = 3; target 2 x 3.
    driver = Driver(scalp(), ES).feed(flat_bars([100, 100, 100, 100 + move]))
    assert driver.entries() == [(3, driver.at(3)[0])]
    signal = driver.at(3)[0]
    assert isinstance(signal, EntrySignal)
    assert (signal.side, signal.entry, signal.stop_ticks, signal.target_ticks) == (
        side, Entry.market(), 3, 6
    )  # fmt: skip
    assert "ATR(2) 2.00 ticks: stop 3, target 6 ticks" in signal.reason


def test_the_stop_is_rounded_up_and_at_least_one_tick() -> None:
    # closes 100 100 100 101: ATR(2) = (0 + 1) / 2 = 0.5 ticks
    bars = flat_bars([100, 100, 100, 101])
    for stop_atr, stop, target in [("1", 1, 2), ("0.1", 1, 2), ("3.2", 2, 4)]:
        signal = Driver(scalp(stop_atr=stop_atr), ES).feed(bars).at(3)[0]
        assert isinstance(signal, EntrySignal)
        assert (signal.stop_ticks, signal.target_ticks) == (stop, target), stop_atr


def test_nothing_until_slow_bars_and_the_atr_are_there() -> None:
    # closes 100 100 104 cross on bar 2, with 3 bars closed: slow=4 needs 4, ATR(3) needs 4
    bars = flat_bars([100, 100, 104])
    assert Driver(scalp(), ES).feed(bars).entries() != []
    assert Driver(scalp(slow=4), ES).feed(bars).emitted == []
    assert Driver(scalp(atr_bars=3), ES).feed(bars).emitted == []


def test_the_time_stop_flattens_after_max_bars_in_the_trade_and_nothing_reverses_it() -> None:
    # closes 100 100 100 104 106 105 104 103; EMA(3) 100 100 100 102 104 104.5 104.25 103.625.
    # Bar 3 crosses up: long from bar 4's open (the driver fills an entry there). Bars 4, 5, 6
    # close with the position held: the third is max_bars=3, so bar 6 asks to be flat. Bar 6
    # also crosses down (104 < 104.25 after 105 > 104.5): no entry while in the trade. Bar 7:
    # flat, no cross (103 < 103.625 after 104 < 104.25).
    driver = Driver(scalp(), ES).feed(flat_bars([100, 100, 100, 104, 106, 105, 104, 103]))
    assert [i for i, _ in driver.entries()] == [3]
    assert driver.at(4) == driver.at(5) == [] and driver.at(7) == []
    assert driver.at(6) == [TargetPosition(0, "time stop: 3 bars in the trade")]
    assert driver.fills == [(4, 1), (6, -1)] and driver.position == 0


def test_an_entry_not_filled_yet_does_not_count_towards_the_time_stop() -> None:
    strategy = scalp(max_bars=1)
    driver = Driver(strategy, ES).feed(flat_bars([100, 100, 100, 104]))
    driver.pending_entry = None  # the entry has not filled: the position stays 0
    driver.feed(flat_bars([106, 107], start_ns=4 * MINUTE))
    assert driver.at(4) == driver.at(5) == [] and strategy.held_bars == 0


def test_a_bracket_exit_filling_after_the_time_stop_is_flattened_again() -> None:
    driver = Driver(scalp(), ES).feed(flat_bars([100, 100, 100, 104, 106, 105, 104, 103]))
    assert driver.position == 0  # the time stop closed it at bar 6
    # the bracket's target (a sell for the long) was left working by the runner and fills
    out = driver.fill(Side.SELL, 1, 110, 9 * MINUTE)
    assert out == [TargetPosition(0, "a bracket exit filled after the time stop: flat again")]
    assert driver.position == 0


def test_a_bracket_exit_inside_the_trade_is_left_alone_and_a_new_cross_enters() -> None:
    # the stop fills on bar 4 (before the time stop): nothing asked, and the count starts over
    driver = Driver(scalp(), ES).feed(flat_bars([100, 100, 100, 104, 106]))
    assert driver.fill(Side.SELL, 1, 97, 5 * MINUTE) == [] and driver.position == 0
    # bar 5 closes at 103: EMA(3) from 104 to 103.5, 103 below it after 106 above 104: a
    # cross down, flat: SELL, ATR(2) = (2 + 3) / 2 = 2.5, stop 1.5 x 2.5 = 3.75 -> 4, target 8
    driver.feed(flat_bars([103], start_ns=5 * MINUTE))
    assert [(i, e.side) for i, e in driver.entries()] == [(3, Side.BUY), (5, Side.SELL)]
    assert (driver.entries()[1][1].stop_ticks, driver.entries()[1][1].target_ticks) == (4, 8)


def test_bad_parameters_are_refused_naming_them() -> None:
    with pytest.raises(StrategyError, match=r"^ema_scalp: fast \(13\) must be fewer bars"):
        load("ema_scalp", ["fast=13"])
    with pytest.raises(StrategyError, match=r"^ema_scalp: stop_atr='0': Input should be greater"):
        load("ema_scalp", ["stop_atr=0"])
    assert load("ema_scalp", ["stop_atr=0.75"]).strategy.params.stop_atr == Decimal("0.75")


def test_esh0_rth_open_a_long_the_time_stop_then_a_short() -> None:
    """ESH0 2020-01-06, bars 14:25-14:38 UTC (08:25-08:38 Chicago), fast=1 slow=3 atr_bars=2
    stop_atr=1 target_r=4 max_bars=3, the strategy started at 14:25. Closes in ticks
    (price x 4) and EMA(3), by hand (each EMA half way from the last to the close):

        14:25 12863 12863      14:30 12863 12860.875   14:35 12886 12883.71
        14:26 12861 12862      14:31 12876 12868.4375  14:36 12887 12885.36
        14:27 12860 12861      14:32 12885 12876.72    14:37 12886 12885.68
        14:28 12858 12859.5    14:33 12881 12878.86    14:38 12884 12884.84
        14:29 12858 12858.75   14:34 12884 12881.43

    - 14:26 is the first close below its EMA, but only 2 bars have closed (slow=3): nothing.
    - 14:30 closes above its EMA after 14:29 below: BUY. ATR(2) = true ranges of 14:29
      (12860 - 12855 = 5) and 14:30 (12863 - 12853 = 10) / 2 = 7.5: stop 8, target 32 ticks.
      (the fill at 14:31's open 12862 puts the target at 12894 and the stop at 12854, which
      the next three bars, 12862-12887, do not reach: the time stop ends it.)
    - Held at the closes of 14:31, 14:32, 14:33: the third, 14:33, is the time stop.
    - 14:34-14:37 close above their EMA: no cross. 14:38 closes below after 14:37 above: SELL.
      ATR(2) = true ranges of 14:37 (12891 - 12885 = 6) and 14:38 (12886 - 12877 = 9) / 2 =
      7.5: stop 8, target 32.
    """
    window = [b for b in esh0_bars() if "14:25" <= utc_hhmm(b.start_ns) <= "14:38"]
    assert len(window) == 14
    strategy = scalp(stop_atr=1, target_r=4)
    driver = Driver(strategy, ESH0).feed(window)
    got = [(utc_hhmm(window[i].start_ns), _brief(intent)) for i, intent in driver.emitted]
    assert got == [
        ("14:30", (Side.BUY, 8, 32)),
        ("14:33", TargetPosition(0, "time stop: 3 bars in the trade")),
        ("14:38", (Side.SELL, 8, 32)),
    ]


def _brief(intent: object) -> object:
    if isinstance(intent, EntrySignal):
        return (intent.side, intent.stop_ticks, intent.target_ticks)
    return intent
