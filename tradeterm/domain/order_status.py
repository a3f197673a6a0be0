"""Order states and how a broker report moves an order between them.

Two kinds of input change an order's state:

* our own commands (submit, cancel, modify): checked strictly by ``Order``, an impossible
  command is a bug and raises;
* reports from the broker (IB ``orderStatus``): facts, applied by ``after_report`` below. They
  never raise for a known status, because the broker is the final word, but they cannot
  resurrect a finished order and a stale "Submitted" does not undo a cancel or modify that is
  still in flight.

``PENDING_CANCEL`` is not terminal: fills can still arrive (docs/ib-facts.md).
"""

from __future__ import annotations

from enum import StrEnum


class OrderStatus(StrEnum):
    NEW = "NEW"
    """Created here, never sent."""
    PENDING_SUBMIT = "PENDING_SUBMIT"
    """Sent; the broker has not confirmed it is working (IB PendingSubmit, ApiPending)."""
    SUBMITTED = "SUBMITTED"
    """Working at the broker (IB Submitted, PreSubmitted)."""
    PENDING_MODIFY = "PENDING_MODIFY"
    """Working, and a modification was sent and is not confirmed yet."""
    PENDING_CANCEL = "PENDING_CANCEL"
    """Working, and a cancel was sent; it can still fill."""
    INACTIVE = "INACTIVE"
    """Known to the broker but not working right now (IB Inactive); may come back or end."""
    FILLED = "FILLED"
    CANCELLED = "CANCELLED"
    REJECTED = "REJECTED"

    @property
    def is_terminal(self) -> bool:
        """Finished: no fill, cancel or modify can follow."""
        return self in _TERMINAL

    @property
    def is_open(self) -> bool:
        """Sent and not finished: it may still fill, so a kill switch must cancel it."""
        return self is not OrderStatus.NEW and self not in _TERMINAL

    @classmethod
    def from_ib(cls, status: str) -> OrderStatus:
        """Map an IB ``orderStatus`` string. Raises ``ValueError`` for an unknown one."""
        try:
            return _FROM_IB[status]
        except KeyError:
            raise ValueError(f"unknown IB order status: {status!r}") from None


_TERMINAL = frozenset({OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED})

_FROM_IB = {
    "PendingSubmit": OrderStatus.PENDING_SUBMIT,
    "ApiPending": OrderStatus.PENDING_SUBMIT,
    "PreSubmitted": OrderStatus.SUBMITTED,
    "Submitted": OrderStatus.SUBMITTED,
    "PendingCancel": OrderStatus.PENDING_CANCEL,
    "ApiCancelled": OrderStatus.CANCELLED,
    "Cancelled": OrderStatus.CANCELLED,
    "Filled": OrderStatus.FILLED,
    "Inactive": OrderStatus.INACTIVE,
}

_LOCAL_ONLY = frozenset({OrderStatus.NEW, OrderStatus.PENDING_MODIFY})
_AWAITING_US = frozenset({OrderStatus.PENDING_CANCEL, OrderStatus.PENDING_MODIFY})


def after_report(current: OrderStatus, reported: OrderStatus) -> OrderStatus:
    """The state an order in ``current`` is in after the broker reports ``reported``.

    * a terminal order stays as it is;
    * FILLED, CANCELLED, REJECTED, INACTIVE and PENDING_CANCEL are taken as reported (a cancel
      may come from elsewhere: TWS, a global cancel);
    * SUBMITTED moves a new, pending or inactive order to SUBMITTED, but leaves a pending cancel
      or modify pending (it may predate our request; the broker adapter confirms or rejects
      the request explicitly);
    * PENDING_SUBMIT only moves a NEW order.

    NEW and PENDING_MODIFY are never reported by a broker: ``ValueError``.
    """
    if reported in _LOCAL_ONLY:
        raise ValueError(f"{reported} is a local state, not a broker report")
    if current in _TERMINAL:
        return current
    if reported is OrderStatus.SUBMITTED:
        return current if current in _AWAITING_US else reported
    if reported is OrderStatus.PENDING_SUBMIT:
        return reported if current is OrderStatus.NEW else current
    return reported
