"""Errors raised by the domain model.

All of them are ``ValueError`` subclasses: they mean "this value or this request does not make
sense", never "the network failed".
"""

from __future__ import annotations


class DomainError(ValueError):
    """Base class for every error the domain model raises."""


class OffTickError(DomainError):
    """A price is not a whole number of ticks and the caller asked for an exact conversion."""


class InvalidOrderError(DomainError):
    """An order (or a change to one) is malformed: wrong quantity, missing price, bad bracket."""


class InvalidTransitionError(DomainError):
    """A command was given to an order in a state that does not allow it."""


class UnknownInstrumentError(DomainError):
    """A futures root that the built-in spec table does not know."""


class FillConflict(DomainError):
    """One execution id reported with different facts: the ledger can no longer be trusted."""
