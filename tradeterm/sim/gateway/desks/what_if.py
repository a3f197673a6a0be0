"""whatIf orders: the margin and commission an order would bring, without placing it.

TWS answers a whatIf placeOrder with one openOrder (whatIf=1) whose OrderState carries the
margins before / change / after and the commission, and no orderStatus. ib_async parses the
margin fields as floats, so they are always numbers here.
"""

from __future__ import annotations

from decimal import Decimal

from tradeterm.sim.gateway.accounts import Books, InstrumentTerms
from tradeterm.sim.gateway.oms import SUPPORTED_TYPES, to_ticks
from tradeterm.sim.gateway.protocol.records import OrderRecord, OrderStateRecord
from tradeterm.sim.gateway.protocol.request_types import PlaceOrder

TEXT_110 = "The price does not conform to the minimum price variation for this contract."


class WhatIfError(ValueError):
    """A whatIf TWS would refuse: ``code`` and ``text`` of the error message."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(text)
        self.code = code
        self.text = text


def what_if_reply(
    books: Books, terms: InstrumentTerms, account: str, client_id: int, req: PlaceOrder
) -> tuple[OrderRecord, OrderStateRecord]:
    """The openOrder record and OrderState of a whatIf; :class:`WhatIfError` if invalid."""
    kind = req.orderType.upper()
    if kind not in SUPPORTED_TYPES:
        raise WhatIfError(387, f"Unsupported order type {req.orderType!r} in the simulator")
    if req.totalQuantity <= 0 or req.action.upper() not in ("BUY", "SELL"):
        raise WhatIfError(321, "Error validating request.-'totalQuantity/action' : invalid")
    for price, needed in ((req.lmtPrice, kind in ("LMT", "STP LMT")),
                          (req.auxPrice, kind in ("STP", "STP LMT"))):  # fmt: skip
        if needed and (price is None or to_ticks(price, terms.tick) is None):
            raise WhatIfError(110, TEXT_110)
    qty = req.totalQuantity
    signed = qty if req.action.upper() == "BUY" else -qty
    held = books.accounts[account].positions.get(terms.con_id)
    pos = held.qty if held is not None else 0
    contracts_change = abs(pos + signed) - abs(pos)
    init_before, maint_before = books.margin(account)
    init_change = contracts_change * terms.initial_margin
    maint_change = contracts_change * terms.maint_margin
    values = books.account_values(account)
    equity_before = values["EquityWithLoanValue"]
    commission = books.commission_per_contract * qty
    equity_change = -commission
    state = OrderStateRecord(
        initMarginBefore=_f(init_before),
        maintMarginBefore=_f(maint_before),
        equityWithLoanBefore=_f(equity_before),
        initMarginChange=_f(init_change),
        maintMarginChange=_f(maint_change),
        equityWithLoanChange=_f(equity_change),
        initMarginAfter=_f(init_before + init_change),
        maintMarginAfter=_f(maint_before + maint_change),
        equityWithLoanAfter=_f(equity_before + equity_change),
        commission=_f(commission),
        minCommission=_f(commission),
        maxCommission=_f(commission),
        commissionCurrency="USD",
    )
    record = OrderRecord(
        orderId=req.orderId,
        clientId=client_id,
        action=req.action.upper(),
        totalQuantity=qty,
        orderType=kind,
        lmtPrice=req.lmtPrice if kind in ("LMT", "STP LMT") else None,
        auxPrice=req.auxPrice if kind in ("STP", "STP LMT") else None,
        tif=req.tif.upper() or "DAY",
        account=account,
        orderRef=req.orderRef,
        whatIf=True,
        status="PreSubmitted",
    )
    return record, state


def _f(value: Decimal | int) -> float:
    return float(value)
