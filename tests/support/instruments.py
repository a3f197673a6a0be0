"""The contracts the tests trade: the front months on the test clock's day (2026-11-17).
The con_ids are made up and distinct, as IB's are."""

from __future__ import annotations

from tradeterm.domain import ContractMonth, Instrument

ES = Instrument.from_spec("ES", ContractMonth(2026, 12), con_id=495512563)
NQ = Instrument.from_spec("NQ", ContractMonth(2026, 12), con_id=495512564)
CL = Instrument.from_spec("CL", ContractMonth(2027, 1), con_id=1)

PX_5000 = 20000  # 5000.00 in ES ticks
