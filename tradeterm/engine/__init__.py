"""The engine: pure, fast consumers of the broker's events (no I/O, no Textual, no ib_async).

* :mod:`tradeterm.engine.calendar` — the CME Globex session calendar (17:00 CT rollover, daily
  break, weekends, DST; IB ``tradingHours`` when known).
* :mod:`tradeterm.engine.marketdata` — ``MarketState`` (quote, depth, trades, session volume,
  volume at price, VWAP, time & sales; dirty ladder rows per event; immutable snapshots) and
  ``StalenessWatchdog`` (per-feed silence detection).
* :mod:`tradeterm.engine.bar_builder` — ``BarBuilder``: history backfill + live 5-second bars and
  trades into 1-minute (or any period) bars, without gap, duplicate or double counting.
"""
