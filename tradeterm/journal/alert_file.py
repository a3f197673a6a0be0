"""The price alerts kept between runs: a small file beside the journal, ``<journal>.alerts``,
``{"alerts": [{"price": "5012.25", "side": 1}, ...]}`` (prices as the instrument writes them;
the side of the market each was set on: 1 above, -1 below, 0 not known yet). A file of the
earlier form, ``{"prices": ["5012.25", ...]}``, is read with every side unknown. Written
atomically (a temporary file renamed over it) on every change; a file that cannot be read is
logged and taken as no alerts (an alert is a reminder, never a reason to refuse a start)."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path

from tradeterm.paths import ensure_dir

log = logging.getLogger(__name__)


def alert_file(journal: Path) -> Path:
    """The alerts of the journal at ``journal``: ``<SYMBOL>.sqlite.alerts`` beside it."""
    return journal.with_name(journal.name + ".alerts")


class AlertFile:
    """The price alerts kept at ``path`` (``engine.price_alerts.AlertStore``)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> list[tuple[str, int]]:
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
            if "alerts" in doc:
                return [_alert(a) for a in _list(doc["alerts"])]
            return [(str(p), 0) for p in _list(doc["prices"])]  # the form before sides were kept
        except FileNotFoundError:
            return []
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("price alerts in %s cannot be read (%s): none restored", self.path, exc)
            return []

    def save(self, alerts: Sequence[tuple[str, int]]) -> None:
        ensure_dir(self.path.parent)
        tmp = self.path.with_name(self.path.name + ".tmp")
        doc = {"alerts": [{"price": price, "side": side} for price, side in alerts]}
        tmp.write_text(json.dumps(doc), encoding="utf-8")
        os.replace(tmp, self.path)


def _list(value: object) -> list[object]:
    if not isinstance(value, list):
        raise TypeError(f"{value!r} is not a list")
    return value


def _alert(entry: object) -> tuple[str, int]:
    if not isinstance(entry, dict):
        raise TypeError(f"alert {entry!r} is not an object")
    side = entry.get("side", 0)
    if side not in (-1, 0, 1) or isinstance(side, bool):
        raise ValueError(f"alert side {side!r} is not 1, -1 or 0")
    return str(entry["price"]), int(side)
