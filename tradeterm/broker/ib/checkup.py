"""A check-up of an IB Gateway / TWS for ``tradeterm doctor``: what a market's instance will
meet when it connects, found out with the adapter's own connection and the requests its
screen makes, and told in trading terms (:class:`GatewayReport`); IB's codes stay here and in
:mod:`~tradeterm.broker.ib.codes`.

Each network step has its own timeout and the check-up always returns: a step that fails
says why in its field and the steps that need it are not tried. It never places, modifies
or cancels an order; it disconnects before returning.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ib_async import TickByTickAllLast, Ticker

from tradeterm.broker.ib import codes
from tradeterm.broker.ib.adapter import DEPTH_ROWS, IbBroker
from tradeterm.broker.ib.connection import ClientIdsInUse
from tradeterm.broker.port import BrokerError, ConnectError
from tradeterm.config import ConnectionConfig

log = logging.getLogger(__name__)

POLL_S = 0.05


@dataclass(frozen=True, slots=True)
class FeedCheck:
    """One market-data feed of the contract: data arrived, IB refused it, or neither."""

    feed: str  # codes.QUOTES, codes.DEPTH or codes.TRADES
    seen: str | None = None  # what arrived ("bid 5000.25 ask 5000.5"), None if nothing
    refused: str | None = None  # IB's message ("IB 354: ...") when it refused the request
    refusal: codes.DataRefusal | None = None  # what the refusal means, and what to do


@dataclass(slots=True)
class GatewayReport:
    """What the check-up found; a field left None was not reached (see the ``*_error``)."""

    address: str
    client_id: int
    timeout_s: float
    tcp_error: str | None = None  # why nothing answered at the address
    connect_error: str | None = None  # why the API handshake failed
    client_id_in_use: bool | None = None  # error 326 on client_id; None: not learned
    connected_as: int | None = None  # the client id the checks ran with
    server_version: int | None = None
    accounts: list[str] = field(default_factory=list)
    skew_s: float | None = None  # gateway's clock minus this machine's
    skew_error: str | None = None
    contract: str | None = None  # "ESZ6 (CME)"
    contract_error: str | None = None
    feeds: list[FeedCheck] = field(default_factory=list)
    lost: str | None = None  # the gateway closed the connection: the checks after stopped


async def check_gateway(
    config: ConnectionConfig,
    port: int,
    symbol: str,
    *,
    spare_client_id: int,
    roll_days: int = 8,
    timeout_s: float = 5.0,
    clock: Callable[[], float] = time.time,
) -> GatewayReport:
    """Check the gateway at ``config.host``:``port`` for ``symbol``'s instance, which
    connects as ``config.client_id``: when another connection holds that id, the other checks
    run as ``spare_client_id``."""
    assert config.client_id is not None
    report = GatewayReport(f"{config.host}:{port}", config.client_id, timeout_s)
    report.tcp_error = await _tcp_error(config.host, port, timeout_s)
    if report.tcp_error is not None:
        return report
    broker = await _connect(config, port, spare_client_id, report, clock)
    if broker is None:
        return report
    ib = broker.ib
    closed: list[bool] = []  # the gateway closed the connection (the checks stop there)

    def on_closed() -> None:
        closed.append(True)

    def lost(step: str) -> bool:
        if closed:
            report.lost = f"the gateway closed the API connection during the {step} check"
        return bool(closed)

    ib.disconnectedEvent += on_closed
    try:
        report.server_version = ib.client.serverVersion()
        report.accounts = list(ib.managedAccounts())
        await _clock_skew(broker, report, clock)
        if lost("clock"):
            report.skew_error = None  # not the clock's fault; a skew measured before stays
            return report
        try:
            instrument = await broker.resolve(symbol, roll_days=roll_days)
        except BrokerError as exc:
            if not lost("contract"):
                report.contract_error = str(exc)
            return report
        report.contract = f"{instrument.local_symbol or instrument.root} ({instrument.exchange})"
        try:
            report.feeds = await broker.watch_feeds(
                instrument.con_id, instrument.exchange, timeout_s
            )
        except ConnectionError:  # ib_async refuses a request on a closed socket
            closed.append(True)
        lost("market-data")
    finally:
        ib.disconnectedEvent -= on_closed
        await broker.stop()
    return report


async def _tcp_error(host: str, port: int, timeout_s: float) -> str | None:
    """Why nothing accepts a TCP connection at ``host``:``port`` within ``timeout_s``; None
    when something does."""
    try:
        async with asyncio.timeout(timeout_s):
            _, writer = await asyncio.open_connection(host, port)
    except TimeoutError:
        return f"no answer from {host}:{port} within {timeout_s:g}s (a firewall, or the wrong host)"
    except ConnectionRefusedError:
        return f"nothing is listening at {host}:{port} (connection refused)"
    except socket.gaierror as exc:
        return f"unknown host {host!r} ({exc.strerror})"
    except OSError as exc:
        return f"cannot reach {host}:{port}: {exc.strerror or exc}"
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return None


async def _connect(
    config: ConnectionConfig,
    port: int,
    spare_client_id: int,
    report: GatewayReport,
    clock: Callable[[], float],
) -> _CheckupBroker | None:
    """The connected broker (as ``spare_client_id`` if the configured id is taken), or None
    with the reason in ``report``."""
    timeouts = {"connect_timeout_s": report.timeout_s, "request_timeout_s": report.timeout_s}
    ids = [report.client_id, spare_client_id]
    for cid in ids:
        settings = config.model_copy(update={"client_id": cid, "auto_client_id": False,
                                             **timeouts})  # fmt: skip
        broker = _CheckupBroker(settings, port=port, clock=clock)
        try:
            await broker.start()
        except ClientIdsInUse:
            await broker.stop()
            if cid == report.client_id:
                report.client_id_in_use = True
            continue
        except ConnectError as exc:
            await broker.stop()
            report.connect_error = _handshake_failure(exc, report.timeout_s)
            return None
        if cid == report.client_id:
            report.client_id_in_use = False  # only a finished handshake says it is free
        report.connected_as = cid
        return broker
    report.connect_error = f"client ids {ids[0]} and {ids[1]} are both in use (error 326)"
    return None


def _handshake_failure(exc: ConnectError, timeout_s: float) -> str:
    cause = exc.__cause__
    if isinstance(cause, TimeoutError):
        return f"the API handshake did not finish within {timeout_s:g}s"
    if isinstance(cause, ConnectionError) and not isinstance(cause, ConnectionRefusedError):
        return "the gateway closed the API connection as it opened"
    return str(cause or exc)


async def _clock_skew(
    broker: _CheckupBroker, report: GatewayReport, clock: Callable[[], float]
) -> None:
    before = clock()
    try:
        async with asyncio.timeout(report.timeout_s):
            server = await broker.ib.reqCurrentTimeAsync()
    except TimeoutError:
        report.skew_error = f"IB did not answer reqCurrentTime within {report.timeout_s:g}s"
        return
    except ConnectionError as exc:
        report.skew_error = f"connection lost: {exc}"
        return
    after = clock()
    # IB sends whole seconds, cut down: the gateway's time was half a second later on average
    report.skew_s = server.timestamp() + 0.5 - (before + after) / 2


class _CheckupBroker(IbBroker):
    """The adapter, plus what only the check-up asks of IB."""

    @property
    def ib(self) -> Any:
        return self._ib

    async def watch_feeds(
        self, con_id: int | None, exchange: str, timeout_s: float
    ) -> list[FeedCheck]:
        """Request the contract's quotes, depth and tick-by-tick trades as the screen does
        and wait up to ``timeout_s`` until each has sent data or been refused; cancel them."""
        ib = self._ib
        contract = self._contracts[con_id or 0]
        errors: dict[int, tuple[int, str]] = {}
        trades: list[str] = []
        quoted = False  # a tick of the reqMktData stream came (tick-by-tick sets ``last`` too)

        def on_error(req_id: int, code: int, text: str, _contract: Any) -> None:
            errors.setdefault(req_id, (code, text))

        def on_tickers(tickers: set[Ticker]) -> None:
            nonlocal quoted
            for ticker in tickers:
                quoted = quoted or (ticker.contract is contract and bool(ticker.ticks))
                for tick in ticker.tickByTicks if ticker.contract is contract else ():
                    if isinstance(tick, TickByTickAllLast) and not trades:
                        trades.append(f"{tick.size:g} at {tick.price}")

        ib.errorEvent += on_error
        ib.pendingTickersEvent += on_tickers
        try:
            ticker = ib.reqMktData(contract, "", False, False)
            ib.reqTickByTickData(contract, "AllLast", 0, False)
            ib.reqMktDepth(contract, DEPTH_ROWS, False)
            req_ids = {
                feed: ib.wrapper.ticker2ReqId[kind].get(ticker)
                for feed, kind in (
                    (codes.QUOTES, "mktData"), (codes.DEPTH, "mktDepth"), (codes.TRADES, "AllLast")
                )
            }  # fmt: skip

            def seen() -> dict[str, str | None]:
                bids, asks = len(ticker.domBids), len(ticker.domAsks)
                book = f"{bids} bid and {asks} ask levels" if bids or asks else None
                return {
                    codes.QUOTES: _quote(ticker) if quoted else None,
                    codes.DEPTH: book,
                    codes.TRADES: f"last trade {trades[0]}" if trades else None,
                }

            deadline = asyncio.get_running_loop().time() + timeout_s
            while asyncio.get_running_loop().time() < deadline:
                now = seen()
                if all(now[f] or errors.get(req_ids[f] or 0) for f in req_ids):
                    break
                if not ib.isConnected():  # nothing more can come
                    break
                await asyncio.sleep(POLL_S)
            now = seen()
            checks = []
            for feed, req_id in req_ids.items():
                error = errors.get(req_id or 0)
                refusal = None if error is None else codes.data_refusal(feed, error[0], exchange)
                if refusal is None or (now[feed] is not None and not refusal.usable):
                    checks.append(FeedCheck(feed, seen=now[feed]))  # data despite a message
                else:
                    assert error is not None
                    checks.append(FeedCheck(feed, now[feed], f"IB {error[0]}: {error[1]}", refusal))
            return checks
        finally:
            ib.errorEvent -= on_error
            ib.pendingTickersEvent -= on_tickers
            if ib.isConnected():
                for cancel in (
                    lambda: ib.cancelMktData(contract),
                    lambda: ib.cancelTickByTickData(contract, "AllLast"),
                    lambda: ib.cancelMktDepth(contract),
                ):
                    with contextlib.suppress(Exception):
                        cancel()


def _quote(ticker: Ticker) -> str:
    """The top of book as received, or the last/close price when there is no book (a closed
    market)."""
    parts = [
        f"{name} {value}"
        for name, value in (("bid", ticker.bid), ("ask", ticker.ask))
        if value is not None and not math.isnan(value) and value > 0
    ]
    if parts:
        return " ".join(parts)
    for name, value in (("last", ticker.last), ("close", ticker.close)):
        if value is not None and not math.isnan(value):
            return f"{name} {value} (no bid or ask: market closed?)"
    return "quotes arrive, with no prices yet"
