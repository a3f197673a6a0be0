"""The paper broker: our orders filled in-process against the market the engine sees.

``fill_model`` is the pure, queue-aware fill model (SHADOW mode and the backtester share it);
``paper_broker`` puts it behind the broker port (``tradeterm.broker.port.Broker``).
"""
