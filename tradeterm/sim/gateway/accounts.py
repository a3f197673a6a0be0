"""The simulated broker's books: executions, commissions, positions, cash and P&L per account.

This is the fake gateway's own ground truth, written independently of the engine's ledger
(the architecture forbids sharing P&L code), so that a bug on one side shows up as a
difference on the other. Quantities are whole contracts; prices are integer ticks; money is
kept exactly as integer ticks of value and Decimals, and only turned into floats on the wire.
"""

from __future__ import annotations

import itertools
import secrets
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

DEFAULT_COMMISSION = Decimal("2.25")  # per contract per side, like IB's tiered CME rate
DEFAULT_CASH = Decimal("1000000")


@dataclass(slots=True, frozen=True)
class InstrumentTerms:
    """What the books need to know of a contract: its id, tick size and multiplier."""

    con_id: int
    symbol: str
    local_symbol: str
    tick: Decimal
    multiplier: Decimal
    initial_margin: Decimal = Decimal("15000")
    maint_margin: Decimal = Decimal("13600")

    @property
    def tick_value(self) -> Decimal:
        return self.tick * self.multiplier

    def price(self, ticks: int) -> Decimal:
        return ticks * self.tick


@dataclass(slots=True, frozen=True)
class Execution:
    """One fill as IB reports it (execDetails + commissionReport)."""

    exec_id: str
    order_id: int
    client_id: int
    perm_id: int
    account: str
    con_id: int
    side: str  # "BOT" | "SLD"
    qty: int
    price_ticks: int
    time_ns: int
    cum_qty: int
    avg_price: Decimal
    order_ref: str
    liquidity: int  # 1 added, 2 removed
    commission: Decimal
    realized_pnl: Decimal | None  # None when the fill opened or added to a position


@dataclass(slots=True)
class PositionBook:
    """A position in one contract. ``cost_ticks`` is the exact sum of signed qty x entry price
    (in ticks) of the open contracts, so the average entry is ``cost_ticks / qty`` ticks."""

    qty: int = 0
    cost_ticks: Fraction = Fraction(0)
    realized_ticks: Fraction = Fraction(0)  # P&L in tick-units (x tick_value for money)
    commissions: Decimal = Decimal(0)
    last_ticks: int | None = None  # mark price

    def avg_ticks(self) -> Fraction:
        return self.cost_ticks / self.qty if self.qty else Fraction(0)

    def apply(self, signed_qty: int, price_ticks: int) -> tuple[int, Fraction]:
        """Book a fill; return (contracts it closed, realized tick-units)."""
        if self.qty == 0 or (self.qty > 0) == (signed_qty > 0):
            self.qty += signed_qty
            self.cost_ticks += signed_qty * price_ticks
            return 0, Fraction(0)
        closing = min(abs(signed_qty), abs(self.qty))
        direction = 1 if self.qty > 0 else -1
        closed_cost = self.cost_ticks * closing / abs(self.qty)
        realized = direction * closing * price_ticks - closed_cost
        self.cost_ticks -= closed_cost
        self.qty -= direction * closing
        opening = abs(signed_qty) - closing
        if opening:  # the fill reversed the position
            self.qty = -direction * opening
            self.cost_ticks = Fraction(-direction * opening * price_ticks)
        self.realized_ticks += realized
        return closing, realized

    def unrealized_ticks(self) -> Fraction:
        if not self.qty or self.last_ticks is None:
            return Fraction(0)
        return self.qty * self.last_ticks - self.cost_ticks


def money(ticks: Fraction, terms: InstrumentTerms) -> Decimal:
    """Tick-units to money, exact to the cent."""
    value = Decimal(ticks.numerator) * terms.tick_value / Decimal(ticks.denominator)
    return value.quantize(Decimal("0.01"))


@dataclass(slots=True)
class Account:
    account_id: str
    start_cash: Decimal = DEFAULT_CASH
    positions: dict[int, PositionBook] = field(default_factory=dict)
    executions: list[Execution] = field(default_factory=list)
    # realized money and commissions since the session started (for reqPnL's dailyPnL)
    day_start_realized: Decimal = Decimal(0)

    def position(self, con_id: int) -> PositionBook:
        """The position in a contract; a flat one, not kept, when the account never held it.

        Only a fill opens a position (:meth:`Books.book_fill`, which needs the contract's
        terms): every figure of the account is computed over its positions with their terms,
        so a look at a contract must not leave a position behind."""
        book = self.positions.get(con_id)
        return book if book is not None else PositionBook()


class Books:
    """All accounts of the simulated broker, plus execution ids and the commission schedule.

    Execution ids are unique across gateway runs, as IB's are: each ``Books`` draws its own
    random prefix (the books survive a simulated restart, so the ids just go on counting)."""

    def __init__(
        self,
        accounts: list[str],
        *,
        commission_per_contract: Decimal = DEFAULT_COMMISSION,
        start_cash: Decimal = DEFAULT_CASH,
    ) -> None:
        if not accounts:
            raise ValueError("at least one account")
        self.accounts = {a: Account(a, start_cash) for a in accounts}
        self.commission_per_contract = commission_per_contract
        self.terms: dict[int, InstrumentTerms] = {}
        self._exec_seq = itertools.count(1)
        self._exec_prefix = secrets.token_hex(8)  # this gateway's own: never seen before

    def register(self, terms: InstrumentTerms) -> None:
        self.terms[terms.con_id] = terms

    def account(self, account_id: str) -> Account:
        return self.accounts[account_id]

    def book_fill(
        self,
        *,
        account: str,
        con_id: int,
        order_id: int,
        client_id: int,
        perm_id: int,
        buy: bool,
        qty: int,
        price_ticks: int,
        time_ns: int,
        cum_qty: int,
        avg_price: Decimal,
        order_ref: str,
        liquidity: int,
    ) -> Execution:
        terms = self.terms[con_id]
        acct = self.accounts[account]
        pos = acct.positions.setdefault(con_id, PositionBook())
        closed, realized_ticks = pos.apply(qty if buy else -qty, price_ticks)
        commission = self.commission_per_contract * qty
        pos.commissions += commission
        seq = next(self._exec_seq)
        execution = Execution(
            exec_id=f"{self._exec_prefix}.{perm_id:08x}.{seq:02x}.01",
            order_id=order_id,
            client_id=client_id,
            perm_id=perm_id,
            account=account,
            con_id=con_id,
            side="BOT" if buy else "SLD",
            qty=qty,
            price_ticks=price_ticks,
            time_ns=time_ns,
            cum_qty=cum_qty,
            avg_price=avg_price,
            order_ref=order_ref,
            liquidity=liquidity,
            commission=commission,
            realized_pnl=(money(realized_ticks, terms) - commission) if closed else None,
        )
        acct.executions.append(execution)
        return execution

    def mark(self, con_id: int, last_ticks: int) -> None:
        for acct in self.accounts.values():
            pos = acct.positions.get(con_id)
            if pos is not None:
                pos.last_ticks = last_ticks

    # ---- figures IB reports -----------------------------------------------------------------

    def realized(self, account: str, con_id: int | None = None) -> Decimal:
        """Realized P&L net of commissions (IB's RealizedPnL includes commissions)."""
        acct = self.accounts[account]
        total = Decimal(0)
        for cid, pos in acct.positions.items():
            if con_id is None or cid == con_id:
                total += money(pos.realized_ticks, self.terms[cid]) - pos.commissions
        return total

    def unrealized(self, account: str, con_id: int | None = None) -> Decimal:
        acct = self.accounts[account]
        total = Decimal(0)
        for cid, pos in acct.positions.items():
            if con_id is None or cid == con_id:
                total += money(pos.unrealized_ticks(), self.terms[cid])
        return total

    def average_cost(self, account: str, con_id: int) -> Decimal:
        """IB's averageCost for futures: average price x multiplier."""
        pos = self.accounts[account].position(con_id)
        terms = self.terms[con_id]
        avg = pos.avg_ticks()
        return Decimal(avg.numerator) / Decimal(avg.denominator) * terms.tick * terms.multiplier

    def margin(self, account: str) -> tuple[Decimal, Decimal]:
        acct = self.accounts[account]
        init = maint = Decimal(0)
        for cid, pos in acct.positions.items():
            terms = self.terms[cid]
            init += abs(pos.qty) * terms.initial_margin
            maint += abs(pos.qty) * terms.maint_margin
        return init, maint

    def cash(self, account: str) -> Decimal:
        return self.accounts[account].start_cash + self.realized(account)

    def account_values(self, account: str) -> dict[str, Decimal]:
        cash = self.cash(account)
        unrealized = self.unrealized(account)
        net_liq = cash + unrealized
        init, maint = self.margin(account)
        return {
            "NetLiquidation": net_liq,
            "TotalCashValue": cash,
            "CashBalance": cash,
            "EquityWithLoanValue": net_liq,
            "InitMarginReq": init,
            "MaintMarginReq": maint,
            "FullInitMarginReq": init,
            "FullMaintMarginReq": maint,
            "AvailableFunds": net_liq - init,
            "ExcessLiquidity": net_liq - maint,
            "BuyingPower": (net_liq - init) * 4,
            "UnrealizedPnL": unrealized,
            "RealizedPnL": self.realized(account),
        }

    def daily_pnl(self, account: str) -> Decimal:
        return (
            self.realized(account)
            + self.unrealized(account)
            - self.accounts[account].day_start_realized
        )
