"""Client order ids.

Every order tradeterm sends carries its client order id in IB's ``orderRef``. The id names the
tradeterm instance (one per market) and a session, so that after a restart the orders found
at IB can be matched to the journal, and a per-market kill switch cancels only its own
orders, never another instance's or a manual TWS order.

Form: ``tt.<instance>.<session>.<seq>`` with session and seq in lower-case hex.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tradeterm.domain.errors import DomainError

PREFIX = "tt"
_INSTANCE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_ID = re.compile(r"^tt\.([A-Za-z0-9_-]{1,32})\.([0-9a-f]+)\.([0-9a-f]+)$")


@dataclass(frozen=True, slots=True)
class ClientOrderId:
    """A parsed client order id."""

    instance: str
    session: int
    seq: int

    def __str__(self) -> str:
        return f"{PREFIX}.{self.instance}.{self.session:x}.{self.seq:x}"

    @classmethod
    def parse(cls, text: str) -> ClientOrderId | None:
        """The id in ``text`` (an IB ``orderRef``), or None if it is not one of ours."""
        m = _ID.match(text)
        if m is None:
            return None
        return cls(m.group(1), int(m.group(2), 16), int(m.group(3), 16))


class ClientOrderIds:
    """Issues ``tt.<instance>.<session>.<seq>`` ids, seq counting from 1.

    ``session`` must differ between runs of the same instance (the start time in seconds is a
    good choice) so that ids never repeat across restarts.
    """

    __slots__ = ("_instance", "_seq", "_session")

    def __init__(self, instance: str, session: int) -> None:
        if not _INSTANCE.match(instance):
            raise DomainError(f"instance name must be 1-32 of [A-Za-z0-9_-], got {instance!r}")
        if session < 0:
            raise DomainError(f"session must not be negative, got {session}")
        self._instance = instance
        self._session = session
        self._seq = 0

    @property
    def instance(self) -> str:
        return self._instance

    def next(self) -> str:
        self._seq += 1
        return str(ClientOrderId(self._instance, self._session, self._seq))

    def owns(self, order_ref: str) -> bool:
        """Whether ``order_ref`` was issued by this instance (in any session)."""
        parsed = ClientOrderId.parse(order_ref)
        return parsed is not None and parsed.instance == self._instance
