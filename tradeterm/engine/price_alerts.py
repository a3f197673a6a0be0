"""Price alerts: one-shot levels the trader sets at a price (the ladder's cursor). They send
no orders, so they work armed or not, watch-only too.

An alert remembers which side of the market it was set on: above the last trade it fires on
the first trade at or above its price, below it at or below (a gap through the level fires it
too). Before any trade the bid and ask stand in for the last trade (at or above the ask is
above the market). Set at the last trade's price (or inside the spread before any trade), its
side is taken from the next trade (which fires it if it prints at the price). It fires once:
:meth:`PriceAlerts.on_trade` returns the alerts that fired, gone from the set.

``store`` keeps them across restarts (``tradeterm.journal.alert_file``): prices as the
instrument writes them with the side each was set on, saved on every change (a side learned
from a trade too), loaded when the contract is known. The side is kept, not taken again from
the first trade after a start: a level the market crossed while the app was down fires on
that trade instead of turning into an alert on the other side.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


class AlertStore(Protocol):
    """Where alerts are kept between runs: price texts (``5012.25``), each with its side
    (:attr:`PriceAlert.side`). ``save`` may raise ``OSError``; ``load`` never does (nothing
    kept: empty)."""

    def load(self) -> list[tuple[str, int]]: ...

    def save(self, alerts: Sequence[tuple[str, int]]) -> None: ...


@dataclass(frozen=True, slots=True)
class PriceAlert:
    """An alert at ``price`` (ticks); ``side``: +1 fires at or above it, -1 at or below, 0
    not known yet (only a trade at the price fires it)."""

    price: int
    side: int

    def fires(self, traded: int) -> bool:
        return traded == self.price or (traded - self.price) * self.side > 0


class PriceAlerts:
    """The alerts of one market (see the module notes), by price."""

    def __init__(self) -> None:
        self._alerts: dict[int, PriceAlert] = {}

    @property
    def prices(self) -> tuple[int, ...]:
        return tuple(sorted(self._alerts))

    @property
    def alerts(self) -> tuple[PriceAlert, ...]:
        """Every alert, by price."""
        return tuple(self._alerts[p] for p in self.prices)

    def toggle(
        self, price: int, last: int | None, bid: int | None = None, ask: int | None = None
    ) -> bool:
        """Set an alert at ``price``, or remove the one there; True when it was set. Its side
        is from ``last`` (the last trade's price), else from the ``bid`` and ``ask`` (at or
        above the ask: above, at or below the bid: below)."""
        if self._alerts.pop(price, None) is not None:
            return False
        if last is None:
            side = (
                1
                if ask is not None and price >= ask
                else -1
                if bid is not None and price <= bid
                else 0
            )
        else:
            side = _side(price, last)
        self._alerts[price] = PriceAlert(price, side)
        return True

    def restore(self, alerts: Sequence[PriceAlert]) -> None:
        """Alerts kept by an earlier run, with the sides they were set on (one not known yet
        takes it from the next trade)."""
        for alert in alerts:
            self._alerts.setdefault(alert.price, alert)

    def clear(self) -> int:
        """Remove every alert; how many there were."""
        n = len(self._alerts)
        self._alerts.clear()
        return n

    @property
    def unsided(self) -> bool:
        """Whether an alert's side is not known yet (the next trade gives it one)."""
        return any(not a.side for a in self._alerts.values())

    def on_trade(self, traded: int) -> list[PriceAlert]:
        """The alerts a trade at ``traded`` fires, removed (one-shot)."""
        fired = [a for a in self._alerts.values() if a.fires(traded)]
        for a in fired:
            del self._alerts[a.price]
        for a in [a for a in self._alerts.values() if not a.side]:
            self._alerts[a.price] = PriceAlert(a.price, _side(a.price, traded))
        return fired


def _side(price: int, last: int | None) -> int:
    return 0 if last is None else (price > last) - (price < last)
