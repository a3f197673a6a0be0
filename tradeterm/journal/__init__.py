"""The SQLite journal: one file per market, written by a task beside the engine (see
``journal.py`` for the durability rules, ``schema.py`` for the tables)."""

from tradeterm.journal.journal import IntentRecord, Journal
from tradeterm.journal.store import JournalError

__all__ = ["IntentRecord", "Journal", "JournalError"]
