"""A backtest result made by hand, for the report's tests (statistics, equity curve, text, the
journal): ES, 2.25 per contract per side, 100,000 start equity, three CME session days.

Session days (17:00 Chicago to 16:00 the next day): Thursday 2026-11-19 (bars on Thursday
morning), Friday 2026-11-20 (its first bar Thursday 17:00, across the daily break), Monday
2026-11-23 (its first bar Sunday 17:00, across the weekend).

Fills (ES 5000.00 = 20000 ticks, tick value 12.50):

====  =================  ====================  =========================================
 F1   Thu 10:00          BUY 2 @ 20000         long 2
 F2   Thu 10:01          SELL 1 @ 20008        partial exit: trade 1, +8 ticks, +100.00
 F3   Thu 10:02          SELL 3 @ 20004        reversal: trade 2, +4 ticks, +50.00; short 2
 F4   Fri 09:00          BUY 2 @ 20009         trade 3 (2 contracts), -5 ticks, -125.00
 F5   Mon 10:00          BUY 1 @ 20000         long 1, open at the end (last price 20002)
====  =================  ====================  =========================================

Bars (one price each) and the account marked at their close (commissions 2.25 a contract):

====  ===============  =====  ==========================================  ===========
 B1   Thu 10:00        20004  long 2 @ 20000: +8 ticks (100) - 4.50        100,095.50
 B2   Thu 10:01        20006  +8 realised, long 1: +6; 14 ticks - 6.75     100,168.25
 B3   Thu 10:02        20002  +12 realised, short 2 @ 20004: +4 - 13.50    100,186.50
 B4   Thu 15:59        20012  +12, short 2: -16; -4 ticks - 13.50           99,936.50
 B5   Thu 17:00 (Fri)  20010  +12, short 2: -12; 0 ticks - 13.50           99,986.50
 B6   Fri 09:00        20008  +2 realised, flat; 25.00 - 18.00             100,007.00
 B7   Sun 17:00 (Mon)  20000  flat                                         100,007.00
 B8   Mon 10:00        20003  +2, long 1 @ 20000: +3; 5 ticks - 20.25      100,042.25
====  ===============  =====  ==========================================  ===========
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from tests.support.clock import ct
from tests.support.instruments import ES
from tradeterm.backtest.spec import BacktestResult, BacktestSpec
from tradeterm.domain import Bar, Fill, Side

COMMISSION = Decimal("2.25")
THU_10 = ct(2026, 11, 19, 10)
FRI_9 = ct(2026, 11, 20, 9)
MON_10 = ct(2026, 11, 23, 10)
MINUTE = 60 * 1_000_000_000

FILLS = [
    Fill("bt-1", "bt.1", ES, Side.BUY, 2, 20000, THU_10),
    Fill("bt-2", "bt.2", ES, Side.SELL, 1, 20008, THU_10 + MINUTE),
    Fill("bt-3", "bt.3", ES, Side.SELL, 3, 20004, THU_10 + 2 * MINUTE),
    Fill("bt-4", "bt.4", ES, Side.BUY, 2, 20009, FRI_9),
    Fill("bt-5", "bt.5", ES, Side.BUY, 1, 20000, MON_10),
]

BAR_CLOSES = [
    (THU_10, 20004),
    (THU_10 + MINUTE, 20006),
    (THU_10 + 2 * MINUTE, 20002),
    (ct(2026, 11, 19, 15, 59), 20012),
    (ct(2026, 11, 19, 17), 20010),
    (FRI_9, 20008),
    (ct(2026, 11, 22, 17), 20000),
    (MON_10, 20003),
]
MARKS = [
    Decimal(v)
    for v in (
        "100095.50", "100168.25", "100186.50", "99936.50", "99986.50", "100007.00",
        "100007.00", "100042.25",
    )
]  # fmt: skip


def bars() -> list[Bar]:
    return [Bar(start, px, px, px, px, 10) for start, px in BAR_CLOSES]


def sample(*, complete: bool = True, strategy: str = "sma_cross") -> BacktestResult:
    spec = BacktestSpec(
        data=Path("ES_1min.csv"), strategy=strategy, params=(("fast", "10"), ("slow", "30")),
        commission=COMMISSION,
    )  # fmt: skip
    return BacktestResult(
        spec=spec, instrument=ES, kind="bars", count=len(BAR_CLOSES), commission=COMMISSION,
        fills=list(FILLS), bars=bars(), last_price=20002, seconds=0.5, complete=complete,
    )  # fmt: skip
