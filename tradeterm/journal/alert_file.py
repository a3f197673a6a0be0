"""The price alerts kept between runs: a small file beside the journal, ``<journal>.alerts``,
``{"prices": ["5012.25", ...]}`` (prices as the instrument writes them). Written atomically
(a temporary file renamed over it) on every change; a file that cannot be read is logged and
taken as no alerts (an alert is a reminder, never a reason to refuse a start)."""

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

    def load(self) -> list[str]:
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
            prices = doc["prices"]
            if not isinstance(prices, list):
                raise TypeError("prices is not a list")
            return [str(p) for p in prices]
        except FileNotFoundError:
            return []
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("price alerts in %s cannot be read (%s): none restored", self.path, exc)
            return []

    def save(self, prices: Sequence[str]) -> None:
        ensure_dir(self.path.parent)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps({"prices": list(prices)}), encoding="utf-8")
        os.replace(tmp, self.path)
