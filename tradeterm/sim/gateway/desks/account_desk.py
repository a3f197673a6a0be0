"""The account half of the order desk: positions (61), account updates (6/7/8), account updates
multi (73), account summary (63) and P&L (94/95), all computed from the simulated broker's
:class:`~tradeterm.sim.gateway.accounts.Books`.

Pushes: after fills (:meth:`AccountDesk.after_fills`) every "positions" subscriber gets the
changed positions, "accountUpdates" subscribers of the account get the changed portfolio lines,
every account value and the update time, "accountUpdatesMulti" subscribers the values, and P&L
subscribers their new figures. :meth:`AccountDesk.tick` (about once a second) re-marks open
positions to the market's last price and pushes what changed; it costs a few dictionary
lookups when nobody holds a position.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal

from tradeterm.sim.gateway.accounts import Books
from tradeterm.sim.gateway.desks.context import DeskContext, MarketLink
from tradeterm.sim.gateway.desks.wire_records import contract_record, money
from tradeterm.sim.gateway.protocol import encode
from tradeterm.sim.gateway.protocol.client_session import ClientSession
from tradeterm.sim.gateway.protocol.records import ContractRecord
from tradeterm.sim.gateway.protocol.request_types import (
    CancelPnL,
    CancelPnLSingle,
    CancelPositions,
    ReqAccountUpdates,
    ReqAccountUpdatesMulti,
    ReqPnL,
    ReqPnLSingle,
    ReqPositions,
)
from tradeterm.sim.gateway.protocol.server import GatewayServer

AccountCon = tuple[str, int]  # (account, conId)


class AccountDesk:
    def __init__(self, context: DeskContext, books: Books, market: MarketLink) -> None:
        self.context = context
        self.books = books
        self.market = market
        self._contracts: dict[int, ContractRecord] = {}
        self._last_pnl: dict[tuple[int, str, int], tuple[float, ...]] = {}

    def install(self, server: GatewayServer) -> None:
        server.register(ReqPositions, self.handle_req_positions)
        server.register(CancelPositions, self.handle_cancel_positions)
        server.register(ReqAccountUpdates, self.handle_req_account_updates)
        server.register(ReqPnL, self.handle_req_pnl)
        server.register(CancelPnL, self.handle_cancel_pnl)
        server.register(ReqPnLSingle, self.handle_req_pnl_single)
        server.register(CancelPnLSingle, self.handle_cancel_pnl_single)

    @property
    def server(self) -> GatewayServer:
        return self.context.server

    def contract(self, con_id: int) -> ContractRecord:
        record = self._contracts.get(con_id)
        if record is None:
            entry = self.context.contract(con_id)
            if entry is None:
                raise KeyError(con_id)
            record = self._contracts[con_id] = contract_record(entry)
        return record

    # ---- figures ----------------------------------------------------------------------------

    def account_values(self, account: str) -> list[tuple[str, str, str]]:
        """(key, value, currency) of an account as IB reports them (money with 2 decimals)."""
        values = [
            ("AccountCode", account, ""),
            ("AccountType", "INDIVIDUAL", ""),
            ("AccountReady", "true", ""),
            ("Currency", "USD", "USD"),
            ("RealCurrency", "USD", "USD"),
        ]
        if account not in self.books.accounts:
            return values
        figures = self.books.account_values(account)
        values += [(key, money(value), "USD") for key, value in figures.items()]
        values.append(("TotalCashBalance", money(figures["TotalCashValue"]), "USD"))
        return values

    def open_positions(self, account: str) -> list[int]:
        acct = self.books.accounts[account]
        return [con_id for con_id, pos in acct.positions.items() if pos.qty]

    def _position_msg(self, account: str, con_id: int) -> list[str]:
        pos = self.books.account(account).position(con_id)
        avg = self.books.average_cost(account, con_id) if pos.qty else Decimal(0)
        return encode.position(account, self.contract(con_id), pos.qty, float(avg))

    def _portfolio_msg(self, account: str, con_id: int) -> list[str]:
        books = self.books
        terms = books.terms[con_id]
        pos = books.account(account).position(con_id)
        avg = books.average_cost(account, con_id) if pos.qty else Decimal(0)
        if pos.last_ticks is not None:
            price = terms.price(pos.last_ticks)
        else:
            price = avg / terms.multiplier
        return encode.update_portfolio(
            self.contract(con_id),
            pos.qty,
            float(price),
            float(pos.qty * price * terms.multiplier),
            float(avg),
            float(books.unrealized(account, con_id)),
            float(books.realized(account, con_id)),
            account,
        )

    def _pnl_single(self, account: str, con_id: int) -> tuple[float, ...]:
        books = self.books
        acct = books.accounts[account]
        pos = acct.positions.get(con_id)
        terms = books.terms.get(con_id)
        if pos is None or terms is None:
            return (0.0, 0.0, 0.0, 0.0, 0.0)
        unrealized = books.unrealized(account, con_id)
        realized = books.realized(account, con_id)
        last = pos.last_ticks
        value = pos.qty * terms.price(last) * terms.multiplier if last is not None else 0
        return (
            float(pos.qty),
            float(realized + unrealized),
            float(unrealized),
            float(realized),
            float(value),
        )

    def _pnl(self, account: str) -> tuple[float, ...]:
        books = self.books
        return (
            float(books.daily_pnl(account)),
            float(books.unrealized(account)),
            float(books.realized(account)),
        )

    def _hh_mm(self) -> str:
        return datetime.fromtimestamp(self.context.clock(), UTC).strftime("%H:%M")

    # ---- marks ------------------------------------------------------------------------------

    def refresh_marks(self) -> set[AccountCon]:
        """Mark every position to its feed's last trade; the (account, conId) whose mark moved."""
        changed: set[AccountCon] = set()
        for acct in self.books.accounts.values():
            for con_id, pos in acct.positions.items():
                last = self.market.last_trade(con_id)
                if last is not None and last != pos.last_ticks:
                    pos.last_ticks = last
                    changed.add((acct.account_id, con_id))
        return changed

    # ---- pushes -----------------------------------------------------------------------------

    def after_fills(self, fills: dict[AccountCon, int]) -> None:
        """Positions changed by fills (the value is the last fill's price in ticks)."""
        for (account, con_id), price in fills.items():
            pos = self.books.account(account).position(con_id)
            if pos.last_ticks is None:
                pos.last_ticks = price
        touched = set(fills) | self.refresh_marks()
        for session, _sub in self.server.subscribers("positions"):
            for account, con_id in sorted(fills):
                session.send(self._position_msg(account, con_id))
        self.push_account(touched)
        self.push_pnl()

    def tick(self) -> None:
        """Periodic: re-mark positions, push what moved."""
        changed = self.refresh_marks()
        if changed:
            self.push_account(changed)
        self.push_pnl()

    def push_account(self, touched: Iterable[AccountCon]) -> None:
        by_account: dict[str, list[int]] = {}
        for account, con_id in sorted(touched):
            by_account.setdefault(account, []).append(con_id)
        for account, con_ids in by_account.items():
            values = self.account_values(account)
            for session, sub in self.server.subscribers("accountUpdates"):
                if sub.key != account:
                    continue
                for con_id in con_ids:
                    session.send(self._portfolio_msg(account, con_id))
                for key, value, currency in values:
                    session.send(encode.update_account_value(key, value, currency, account))
                session.send(encode.update_account_time(self._hh_mm()))
            for session, sub in self.server.subscribers("accountUpdatesMulti"):
                req = sub.request
                assert isinstance(req, ReqAccountUpdatesMulti)
                if req.account not in ("", "All", account):
                    continue
                for key, value, currency in values:
                    session.send(
                        encode.account_update_multi(
                            req.reqId, account, req.modelCode, key, value, currency
                        )
                    )

    def push_pnl(self, *, force: bool = False) -> None:
        """Send P&L / P&L single to subscribers whose figures changed (all with ``force``)."""
        live: set[tuple[int, str, int]] = set()
        for kind in ("pnl", "pnlSingle"):
            for session, sub in self.server.subscribers(kind):
                key = (id(session), kind, int(sub.key))
                live.add(key)
                self._send_pnl(session, kind, sub.request, key, force)
        for key in set(self._last_pnl) - live:
            del self._last_pnl[key]

    def _send_pnl(
        self, session: ClientSession, kind: str, req: object, key: tuple[int, str, int], force: bool
    ) -> None:
        if isinstance(req, ReqPnL):
            figures = self._pnl(req.account)
            message = encode.pnl(req.reqId, *figures)
        elif isinstance(req, ReqPnLSingle):
            figures = self._pnl_single(req.account, req.conId)
            message = encode.pnl_single(req.reqId, *figures)
        else:
            return
        if force or self._last_pnl.get(key) != figures:
            self._last_pnl[key] = figures
            session.send(message)

    # ---- handlers ---------------------------------------------------------------------------

    async def handle_req_positions(self, session: ClientSession, req: ReqPositions) -> None:
        session.subscribe("positions", 0, req)
        for account in self.books.accounts:
            for con_id in self.open_positions(account):
                session.send(self._position_msg(account, con_id))
        session.send(encode.position_end())

    async def handle_cancel_positions(self, session: ClientSession, req: CancelPositions) -> None:
        session.unsubscribe("positions", 0)

    async def handle_req_account_updates(
        self, session: ClientSession, req: ReqAccountUpdates
    ) -> None:
        account = req.acctCode or self.context.account
        if not req.subscribe:
            session.unsubscribe("accountUpdates", account)
            return
        if account not in self.books.accounts:
            session.send_validation_error(req, f"unknown account {account!r}")
            session.send(encode.account_download_end(account))
            return
        session.subscribe("accountUpdates", account, req)
        self.refresh_marks()
        for key, value, currency in self.account_values(account):
            session.send(encode.update_account_value(key, value, currency, account))
        for con_id in self.open_positions(account):
            session.send(self._portfolio_msg(account, con_id))
        session.send(encode.update_account_time(self._hh_mm()))
        session.send(encode.account_download_end(account))

    async def handle_req_pnl(self, session: ClientSession, req: ReqPnL) -> None:
        if req.account not in self.books.accounts:
            session.send_validation_error(req, f"unknown account {req.account!r}")
            return
        session.subscribe("pnl", req.reqId, req)
        self.refresh_marks()
        self._send_pnl(session, "pnl", req, (id(session), "pnl", req.reqId), True)

    async def handle_cancel_pnl(self, session: ClientSession, req: CancelPnL) -> None:
        session.unsubscribe("pnl", req.reqId)

    async def handle_req_pnl_single(self, session: ClientSession, req: ReqPnLSingle) -> None:
        if req.account not in self.books.accounts:
            session.send_validation_error(req, f"unknown account {req.account!r}")
            return
        session.subscribe("pnlSingle", req.reqId, req)
        self.refresh_marks()
        self._send_pnl(session, "pnlSingle", req, (id(session), "pnlSingle", req.reqId), True)

    async def handle_cancel_pnl_single(self, session: ClientSession, req: CancelPnLSingle) -> None:
        session.unsubscribe("pnlSingle", req.reqId)
