"""``opening_range``: hand-checked cases on the test clock's days, and the recorded ESH0 day's
regular-hours open checked by hand."""

from __future__ import annotations

import pytest

from tests.support.clock import ct
from tests.support.instruments import ES
from tests.support.strategy_driver import ESH0, Driver, esh0_bars, utc_hhmm
from tradeterm.domain import Bar, Side
from tradeterm.strategies import Entry, EntrySignal, StrategyError, TargetPosition, load
from tradeterm.strategies.opening_range import OpeningRange, OpeningRangeParams


def orb(**values: object) -> OpeningRange:
    base: dict[str, object] = {"range_minutes": 3, "target_range": "1.5"}
    return OpeningRange(OpeningRangeParams.model_validate(base | values))


def bar(day: int, hh: int, mm: int, high: int, low: int, close: int) -> Bar:
    """A Chicago-time bar of November 2026 (the 16th a Monday, CST: UTC-6)."""
    return Bar(ct(2026, 11, day, hh, mm), max(low, min(high, close)), high, low, close, 1)


# Tuesday 17th, regular hours from 08:30, range_minutes=3: the range is the bars of 08:30,
# 08:31 and 08:32, high 110, low 100 (10 ticks), complete at 08:33.
RANGE = [
    bar(17, 8, 30, 110, 100, 105),
    bar(17, 8, 31, 108, 102, 104),
    bar(17, 8, 32, 109, 101, 109),
]


LONG_AT_0834 = [*RANGE, bar(17, 8, 33, 112, 106, 111), bar(17, 8, 34, 112, 108, 110)]
"""The range, a break at 08:33 (close 111), the entry filled at 08:34's open: long 1."""


def signals(driver: Driver) -> list[tuple[int, Side, int, int]]:
    return [(i, e.side, e.stop_ticks, e.target_ticks) for i, e in driver.entries()]


def test_the_first_close_above_the_range_buys_stop_at_its_low_target_a_multiple_of_it() -> None:
    # 08:33 closes at the high (110, not above): nothing; 08:34 closes at 112: BUY, stop
    # 112 - 100 = 12 ticks, target 1.5 x 10 = 15
    driver = Driver(orb(), ES).feed(
        [*RANGE, bar(17, 8, 33, 110, 106, 110), bar(17, 8, 34, 113, 109, 112)]
    )
    assert signals(driver) == [(4, Side.BUY, 12, 15)]
    signal = driver.at(4)[0]
    assert isinstance(signal, EntrySignal) and signal.entry == Entry.market()
    assert signal.reason == (
        "close 28.00 above the high of the 3-minute rth range 25.00-27.50 (10 ticks): "
        "stop 12, target 15 ticks"
    )


def test_a_close_below_the_range_sells_and_the_stop_is_capped() -> None:
    # 08:33 closes at 97: SELL, stop 110 - 97 = 13 ticks (capped at 5), target 15
    bars = [*RANGE, bar(17, 8, 33, 104, 96, 97)]
    assert signals(Driver(orb(), ES).feed(bars)) == [(3, Side.SELL, 13, 15)]
    assert signals(Driver(orb(stop_cap_ticks=5), ES).feed(bars)) == [(3, Side.SELL, 5, 15)]


def test_no_position_before_the_break_nor_inside_the_range() -> None:
    # 08:29 closes far above everything before the open; 08:32 closes at 109, above 08:31's
    # high and all but one bar before it, inside the range's minutes; 08:33 closes at 108,
    # inside the range: nothing
    before_open = [bar(17, 8, 28, 90, 80, 85), bar(17, 8, 29, 130, 80, 125)]
    driver = Driver(orb(), ES).feed([*before_open, *RANGE, bar(17, 8, 33, 110, 105, 108)])
    assert driver.emitted == []


def test_one_trade_a_day_then_again_the_next_day() -> None:
    # 08:33 closes at 111: BUY, stop 111 - 100 = 11, target 15; filled at 08:34's open
    driver = Driver(orb(), ES).feed(LONG_AT_0834)
    assert signals(driver) == [(3, Side.BUY, 11, 15)] and driver.position == 1
    # its bracket's stop fills inside its trading time: nothing asked, flat
    assert driver.fill(Side.SELL, 1, 100, ct(2026, 11, 17, 8, 35)) == [] and not driver.position
    driver.feed([bar(17, 8, 35, 99, 90, 92), bar(17, 9, 0, 130, 90, 125)])  # below, above
    assert len(driver.entries()) == 1
    # Wednesday 18th: a new range (08:30-08:32, 200-210), a new trade
    wednesday = [bar(18, 8, 30 + i, 210, 200, 205) for i in range(3)]
    driver.feed([*wednesday, bar(18, 8, 33, 212, 205, 211)])
    assert [(s, stop, t) for _, s, stop, t in signals(driver)][1:] == [(Side.BUY, 11, 15)]


def test_flat_by_flat_minutes_before_the_session_end_and_no_entry_after() -> None:
    # flat_minutes=10: regular hours end at 15:00, so flat from the close of the 14:49 bar
    driver = Driver(orb(flat_minutes=10), ES).feed(LONG_AT_0834)
    driver.feed([bar(17, 14, 48, 110, 105, 108)])
    assert driver.position == 1 and driver.at(5) == []  # inside its time: the bracket's job
    driver.feed([bar(17, 14, 49, 110, 105, 108)])
    assert driver.at(6) == [TargetPosition(0, "flat: outside its trading time")]
    assert driver.position == 0
    driver.feed([bar(17, 14, 50, 130, 105, 125)])  # far above the range, after the flat time
    assert len(driver.entries()) == 1


def test_a_position_held_outside_its_trading_time_is_closed_at_the_next_bar() -> None:
    driver = Driver(orb(), ES, position=-2).feed(RANGE[:1])  # 08:30: the range is forming
    assert driver.at(0) == [TargetPosition(0, "flat: outside its trading time")]


def test_a_bracket_exit_filling_after_the_flat_time_is_closed_again() -> None:
    driver = Driver(orb(flat_minutes=10), ES).feed(LONG_AT_0834)
    driver.feed([bar(17, 14, 49, 110, 105, 108)])
    assert driver.position == 0
    out = driver.fill(Side.SELL, 1, 120, ct(2026, 11, 17, 14, 53))  # the target left working
    assert out == [TargetPosition(0, "flat: a fill outside its trading time")]
    assert driver.position == 0


def test_the_globex_open_is_17_00_the_evening_before_its_session_day() -> None:
    # Monday 16th 17:00-17:02 is the range of Tuesday's session; 17:03 breaks out; Tuesday's
    # 08:30 regular-hours break is the same session day: no second trade
    monday = [bar(16, 17, i, 110, 100, 105) for i in range(3)]
    driver = Driver(orb(session_open="globex"), ES)
    driver.feed([bar(16, 16, 59, 150, 140, 145), *monday, bar(16, 17, 3, 111, 104, 111)])
    assert signals(driver) == [(4, Side.BUY, 11, 15)]
    driver.position = 0
    driver.feed([bar(17, 8, 30 + i, 210, 200, 205) for i in range(4)])
    assert len(driver.entries()) == 1
    driver.feed([bar(17, 17, i, 300, 290, 295) for i in range(3)])  # Wednesday's session
    driver.feed([bar(17, 17, 3, 301, 289, 289)])
    assert [(s, stop) for _, s, stop, _ in signals(driver)] == [(Side.BUY, 11), (Side.SELL, 11)]


def test_summer_time_moves_the_open_to_13_30_utc() -> None:
    strategy = orb()
    july = strategy.session(ct(2026, 7, 14, 9, 0))
    assert utc_hhmm(july.open_ns) == "13:30" and utc_hhmm(july.end_ns) == "20:00"
    assert utc_hhmm(strategy.session(ct(2026, 11, 17, 9, 0)).open_ns) == "14:30"


def test_bad_parameters_are_refused_naming_them() -> None:
    with pytest.raises(
        StrategyError, match=r"^opening_range: range_minutes \(240\) \+ flat_minutes \(150\)"
    ):
        load("opening_range", ["range_minutes=240", "flat_minutes=150"])  # 390: all of rth
    with pytest.raises(StrategyError, match=r"^opening_range: session_open='eth': Input should be"):
        load("opening_range", ["session_open=eth"])
    assert load("opening_range", ["session_open=globex", "range_minutes=240", "flat_minutes=150"])


def test_esh0_rth_open_breaks_up_at_08_39_and_is_flat_at_14_50() -> None:
    """ESH0 2020-01-06 (a Monday, CST: 08:30 Chicago is 14:30 UTC), the whole day's bars,
    range_minutes=5, target_range=1, stop_cap_ticks=40, flat_minutes=10. In ticks (price x 4):

        14:30 h 12863 l 12853      14:35 c 12886      14:39 c 12888
        14:31 h 12877 l 12862      14:36 c 12887
        14:32 h 12887 l 12875      14:37 c 12886
        14:33 h 12886 l 12880      14:38 c 12884
        14:34 h 12887 l 12881

    The range (14:30-14:34) is 12853-12887, 34 ticks. 14:35-14:38 close at or below 12887;
    14:39 closes at 12888 > 12887: BUY, stop 12888 - 12853 = 35 ticks (under the cap of 40;
    with a cap of 20, 20), target 1 x 34. Bars before 14:35 (the night session and the range)
    trade nothing. Nothing else that day (one trade). The driver does not work the bracket, so
    the long is still held at the close of the 20:49 UTC bar (14:50 Chicago, 10 minutes before
    15:00): flat there. The bars after 21:00 UTC belong to Tuesday's session, before its range.
    """
    bars = esh0_bars()
    driver = Driver(orb(range_minutes=5, target_range=1), ESH0).feed(bars)
    got = [(utc_hhmm(bars[i].start_ns), intent) for i, intent in driver.emitted]
    assert [(t, _brief(i)) for t, i in got] == [
        ("14:39", (Side.BUY, 35, 34)),
        ("20:49", TargetPosition(0, "flat: outside its trading time")),
    ]
    capped = Driver(orb(range_minutes=5, target_range=1, stop_cap_ticks=20), ESH0).feed(bars)
    assert [(e.stop_ticks, e.target_ticks) for _, e in capped.entries()] == [(20, 34)]
    fills = [(utc_hhmm(bars[i].start_ns), quantity) for i, quantity in driver.fills]
    assert fills == [("14:40", 1), ("20:49", -1)]


def _brief(intent: object) -> object:
    if isinstance(intent, EntrySignal):
        return (intent.side, intent.stop_ticks, intent.target_ticks)
    return intent
