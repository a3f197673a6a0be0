"""Contract details from IB: the contracts the IB adapter resolved and what IB said of them.

:class:`IbContracts` sits between the connection state machine
(:class:`~tradeterm.broker.ib.connection.IbConnection`) and the adapter
(:class:`~tradeterm.broker.ib.adapter.IbBroker`): it resolves a symbol to a contract through
IB's contract details (a month, a local symbol, or the front month of a root with
``roll_days``) and keeps, per conId, the instrument made of them, IB's contract and its trading
hours, for the market data and the orders of the adapter built on it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import time
from collections.abc import Callable
from zoneinfo import ZoneInfo

from ib_async import Contract, Future

from tradeterm.broker.ib import convert as cv
from tradeterm.broker.ib.connection import IB_GATEWAY_HELP, IbConnection
from tradeterm.broker.port import BrokerError, UnknownContract
from tradeterm.config import ConnectionConfig
from tradeterm.domain import DomainError, Instrument, parse_local_symbol, spec_for

log = logging.getLogger(__name__)

CHICAGO = ZoneInfo("America/Chicago")


class IbContracts(IbConnection):
    """The contracts of an IB connection, resolved through IB's contract details."""

    def __init__(self, config: ConnectionConfig, *, port: int,
                 clock: Callable[[], float] = time.time,
                 gateway_help: str = IB_GATEWAY_HELP) -> None:  # fmt: skip
        super().__init__(config, port=port, clock=clock, gateway_help=gateway_help)
        self._instruments: dict[int, Instrument] = {}
        self._contracts: dict[int, Contract] = {}
        self._hours: dict[int, tuple[str, str]] = {}  # conId -> (tradingHours, timeZoneId)

    def _lookup(self, con_id: int) -> Instrument | None:
        return self._instruments.get(con_id)

    def _today(self) -> dt.date:
        return dt.datetime.fromtimestamp(self._clock(), CHICAGO).date()

    async def resolve(self, symbol: str, *, roll_days: int = 8) -> Instrument:
        self._require_connected()
        text = symbol.strip().upper()
        parts = text.split()
        exchange = ""
        if len(parts) == 2 and parts[1].isdigit():  # "ES 202612"
            root = parts[0]
            query: Contract = Future(symbol=root, lastTradeDateOrContractMonth=parts[1])
        else:
            try:
                root, _month = parse_local_symbol(text, self._today())
                query = Contract(secType="FUT", localSymbol=text)
            except DomainError:
                root = text
                query = Future(symbol=root)
        with contextlib.suppress(DomainError):
            exchange = spec_for(root).exchange
        query.exchange = exchange
        query.currency = "USD"
        details = await self._request(
            f"contract details for {symbol}", self._ib.reqContractDetailsAsync(query)
        )
        if not details:
            raise UnknownContract(
                f"IB knows no futures contract {symbol!r} (error 200: no security definition)"
            )
        if query.localSymbol or query.lastTradeDateOrContractMonth:
            chosen = details[0]
        else:
            chosen = cv.pick_front_month(details, self._today(), roll_days)
            if chosen is None:
                raise BrokerError(f"no {symbol} contract expires more than {roll_days} days out")
        instrument = cv.instrument_from_details(chosen)
        if (differs := cv.differs_from_table(instrument)) is not None:
            log.warning("%s", differs)
        if instrument.con_id is not None and chosen.contract is not None:
            self._instruments[instrument.con_id] = instrument
            self._contracts[instrument.con_id] = chosen.contract
            self._hours[instrument.con_id] = (chosen.tradingHours or "", chosen.timeZoneId or "")
        return instrument

    def trading_hours(self, instrument: Instrument) -> tuple[str, str] | None:
        hours = self._hours.get(instrument.con_id or 0)
        return hours if hours and hours[0] else None

    def _contract(self, instrument: Instrument) -> Contract:
        if instrument.con_id is None:
            raise BrokerError(f"{instrument} has no IB contract id: resolve it first")
        contract = self._contracts.get(instrument.con_id)
        if contract is None:
            contract = Contract(conId=instrument.con_id, exchange=instrument.exchange)
            self._contracts[instrument.con_id] = contract
            self._instruments.setdefault(instrument.con_id, instrument)
        return contract
