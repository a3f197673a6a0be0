"""``trend_pullback``: hand-checked cases, and a window of the recorded ESH0 day checked by hand."""

from __future__ import annotations

import pytest

from tests.support.instruments import ES
from tests.support.strategy_driver import ESH0, MINUTE, Driver, esh0_bars, flat_bars, utc_hhmm
from tradeterm.domain import Side
from tradeterm.strategies import Entry, EntrySignal, StrategyError, load
from tradeterm.strategies.trend_pullback import TrendPullback, TrendPullbackParams

# trend_bars=3 slope_bars=1: the trend is up when the close is above the close 3 bars before
# (the 3-bar sums differ by those two) and above the 3-bar average. pullback_ema=3: the EMA's
# weight is 1/2, each close moves it half way. ATR(2) of bars whose open = high = low = close
# is the mean of the last two close-to-close moves.
#
# closes 100 104 108 104 110: EMA(3) 100 102 105 104.5 107.25; bar 3 closes below its EMA
# (104 < 104.5), bar 4 back above (110 > 107.25). Bar 4: 110 > 104 (3 bars before) and
# 110 x 3 > 108 + 104 + 110: uptrend. ATR(2) = (4 + 6) / 2 = 5: stop 1 x 5, target 2 x 5.
PULLBACK = [100, 104, 108, 104, 110]


def pullback(**values: object) -> TrendPullback:
    base: dict[str, object] = {"trend_bars": 3, "slope_bars": 1, "pullback_ema": 3,
                               "pullback_bars": 1, "atr_bars": 2, "min_atr_ticks": 1,
                               "max_atr_ticks": 10, "stop_atr": 1, "target_r": 2}  # fmt: skip
    return TrendPullback(TrendPullbackParams.model_validate(base | values))


def signals(driver: Driver) -> list[tuple[int, Side, int, int]]:
    return [(i, e.side, e.stop_ticks, e.target_ticks) for i, e in driver.entries()]


@pytest.mark.parametrize(("sign", "side"), [(1, Side.BUY), (-1, Side.SELL)])
def test_a_pullback_in_a_trend_enters_with_the_trend(sign: int, side: Side) -> None:
    closes = [100 + sign * (c - 100) for c in PULLBACK]  # the downtrend is the mirror image
    driver = Driver(pullback(), ES).feed(flat_bars(closes))
    assert signals(driver) == [(4, side, 5, 10)]
    signal = driver.at(4)[0]
    assert isinstance(signal, EntrySignal) and signal.entry == Entry.market()
    assert signal.reason.startswith(f"trend {'up' if sign > 0 else 'down'}: SMA(3) ")


@pytest.mark.parametrize(
    ("band", "entered"),
    [((1, 10), True), ((5, 5), True), ((1, 4), False), ((6, 10), False)],
)
def test_the_volatility_filter_keeps_atr_inside_its_band(
    band: tuple[int, int], entered: bool
) -> None:
    low, high = band  # ATR(2) is 5 ticks at bar 4
    driver = Driver(pullback(min_atr_ticks=low, max_atr_ticks=high), ES)
    assert bool(driver.feed(flat_bars(PULLBACK)).entries()) is entered


def test_no_trend_no_entry() -> None:
    # closes 100 112 108 104 110: EMA(3) 100 106 107 105.5 107.75, the same pullback (104
    # below 105.5, then 110 above 107.75), but 110 < 112 three bars before: the average falls
    driver = Driver(pullback(), ES).feed(flat_bars([100, 112, 108, 104, 110]))
    assert driver.emitted == []


def test_pullback_bars_closes_must_be_on_the_far_side() -> None:
    # closes 100 104 108 104 103 110: EMA(3) ... 104.5 103.75 106.875: bars 3 and 4 below
    # their EMA, bar 5 above; uptrend (110 > 104; 330 > 104 + 103 + 110); ATR(2) (1 + 7) / 2
    bars = flat_bars([100, 104, 108, 104, 103, 110])
    assert signals(Driver(pullback(pullback_bars=2), ES).feed(bars)) == [(5, Side.BUY, 4, 8)]
    assert Driver(pullback(pullback_bars=3), ES).feed(bars).emitted == []  # bar 2 was above


def test_nothing_while_it_holds_a_position() -> None:
    driver = Driver(pullback(), ES, position=1)
    assert driver.feed(flat_bars(PULLBACK)).emitted == []


def test_bad_parameters_are_refused_naming_them() -> None:
    with pytest.raises(
        StrategyError, match=r"^trend_pullback: min_atr_ticks \(9\) must not be above"
    ):
        load("trend_pullback", ["min_atr_ticks=9", "max_atr_ticks=8"])
    with pytest.raises(StrategyError, match=r"^trend_pullback: trend_bars='1': Input should be"):
        load("trend_pullback", ["trend_bars=1"])


def test_esh0_rth_open_a_pullback_bought_and_a_rally_sold() -> None:
    """ESH0 2020-01-06, bars 14:25-14:38 UTC (08:25-08:38 Chicago), trend_bars=3 slope_bars=1
    pullback_ema=3 pullback_bars=1 atr_bars=2, stop_atr=2 target_r=2, the strategy started at
    14:25. Closes in ticks (price x 4) and EMA(3), by hand (half way from the EMA to the close):

        14:25 12863 12863      14:30 12863 12860.875   14:35 12886 12883.71
        14:26 12861 12862      14:31 12876 12868.4375  14:36 12887 12885.36
        14:27 12860 12861      14:32 12885 12876.72    14:37 12886 12885.68
        14:28 12858 12859.5    14:33 12881 12878.86    14:38 12884 12884.84
        14:29 12858 12858.75   14:34 12884 12881.43

    Closes below their EMA from 14:26 to 14:29, above from 14:30 to 14:37, below at 14:38: the
    only crossings are 14:30 (up) and 14:38 (down).

    - 14:30: 12863 > 12860 (14:27) and 3 x 12863 = 38589 > 12858 + 12858 + 12863 = 38579:
      uptrend, a pullback bought. ATR(2) = true ranges of 14:29 (12860 - 12855 = 5) and 14:30
      (12863 - 12853 = 10) / 2 = 7.5 ticks: stop 2 x 7.5 = 15, target 30.
    - 14:38: 12884 < 12886 (14:35) and 3 x 12884 = 38652 < 12887 + 12886 + 12884 = 38657:
      downtrend, a rally sold (if flat). ATR(2) = true ranges of 14:37 (12891 - 12885 = 6) and
      14:38 (12886 - 12877 = 9) / 2 = 7.5: stop 15, target 30.

    With ATR at most 7 ticks both are filtered out; with the long still held at 14:38 the
    short is not entered.
    """
    window = [b for b in esh0_bars() if "14:25" <= utc_hhmm(b.start_ns) <= "14:38"]
    assert len(window) == 14

    def run(flat_at: int | None = None, **values: object) -> list[tuple[str, Side, int, int]]:
        band: dict[str, object] = {"min_atr_ticks": 2, "max_atr_ticks": 12}
        driver = Driver(pullback(stop_atr=2, target_r=2, **(band | values)), ESH0)
        for i, bar in enumerate(window):
            driver.bar(bar)
            if i == flat_at:  # the bracket's exit fills: flat again
                driver.fill(Side.SELL, 1, bar.close, bar.start_ns + MINUTE)
        return [(utc_hhmm(window[i].start_ns), s, stop, t) for i, s, stop, t in signals(driver)]

    assert run() == [("14:30", Side.BUY, 15, 30)]
    assert run(flat_at=8) == [("14:30", Side.BUY, 15, 30), ("14:38", Side.SELL, 15, 30)]
    assert run(min_atr_ticks=2, max_atr_ticks=7) == []
