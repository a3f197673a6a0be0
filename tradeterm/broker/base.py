"""Kept for the screen's imports until it moves to :mod:`tradeterm.broker.port`, the broker
as the engine sees it (nothing else is here)."""

from tradeterm.broker.port import ConnectionState

__all__ = ["ConnectionState"]
