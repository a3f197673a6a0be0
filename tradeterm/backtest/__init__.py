"""The backtester: recorded data through the live engine's own strategy, sizing and paper-fill
code (``tradeterm backtest``). See ``spec.py`` for what a run is asked and returns."""
