"""Turn the simulated broker's state (OMS orders, book executions, catalog contracts) into the
wire records the encoders take. Pure functions, no I/O."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tradeterm.sim.catalog import ContractEntry
from tradeterm.sim.gateway.accounts import Execution, InstrumentTerms
from tradeterm.sim.gateway.oms import OrderChanged, SimOrder
from tradeterm.sim.gateway.protocol.encode import tws_datetime
from tradeterm.sim.gateway.protocol.records import (
    CommissionReportRecord,
    ContractRecord,
    ExecutionRecord,
    OrderRecord,
)

NS = 1_000_000_000
CHICAGO = ZoneInfo("America/Chicago")


def contract_record(entry: ContractEntry) -> ContractRecord:
    """The contract as TWS reports it in order, execution and position messages."""
    return ContractRecord(
        conId=entry.conId,
        symbol=entry.symbol,
        secType=entry.secType,
        lastTradeDateOrContractMonth=entry.lastTradeDateOrContractMonth,
        strike=entry.strike,
        right=entry.right,
        multiplier=entry.multiplier,
        exchange=entry.exchange,
        primaryExchange=entry.primaryExchange,
        currency=entry.currency,
        localSymbol=entry.localSymbol,
        tradingClass=entry.tradingClass,
    )


def ns_datetime(time_ns: int) -> datetime:
    return datetime.fromtimestamp(time_ns / NS, UTC)


def _f(value: Decimal | None) -> float:
    return 0.0 if value is None else float(value)


def order_record(
    order: SimOrder, change: OrderChanged | None = None, parent_perm_id: int | None = None
) -> OrderRecord:
    """An order's terms plus its state: the snapshot of ``change`` when given (the state it had
    when the change happened), else its current state."""
    req = order.req
    if change is None:
        change = OrderChanged.of(order)
    completed = order.done and order.completed_ns > 0
    return OrderRecord(
        orderId=req.order_id,
        clientId=req.client_id,
        permId=order.perm_id,
        parentId=req.parent_id,
        parentPermId=parent_perm_id,
        action=req.action,
        totalQuantity=req.total_qty,
        orderType=req.order_type,
        lmtPrice=req.lmt_price if req.order_type in ("LMT", "STP LMT") else None,
        auxPrice=req.aux_price if req.order_type in ("STP", "STP LMT", "TRAIL") else None,
        trailStopPrice=None
        if order.trail_stop_ticks is None
        else _f(order.price(order.trail_stop_ticks)),
        tif=req.tif,
        outsideRth=req.outside_rth,
        ocaGroup=req.oca_group,
        ocaType=req.oca_type,
        transmit=req.transmit,
        account=req.account,
        openClose="",
        orderRef=req.order_ref,
        status=change.status,
        filled=change.filled,
        remaining=change.remaining,
        avgFillPrice=_f(change.avg_fill_price),
        lastFillPrice=_f(change.last_fill_price),
        completedTime=tws_datetime(ns_datetime(order.completed_ns)) if completed else "",
        completedStatus=order.status if completed else "",
    )


def execution_record(e: Execution, terms: InstrumentTerms, exchange: str) -> ExecutionRecord:
    return ExecutionRecord(
        execId=e.exec_id,
        orderId=e.order_id,
        clientId=e.client_id,
        permId=e.perm_id,
        time=ns_datetime(e.time_ns),
        acctNumber=e.account,
        exchange=exchange,
        side=e.side,
        shares=e.qty,
        price=float(terms.price(e.price_ticks)),
        cumQty=e.cum_qty,
        avgPrice=float(e.avg_price),
        orderRef=e.order_ref,
        lastLiquidity=e.liquidity,
    )


def commission_record(e: Execution) -> CommissionReportRecord:
    return CommissionReportRecord(
        execId=e.exec_id,
        commission=float(e.commission),
        currency="USD",
        realizedPNL=None if e.realized_pnl is None else float(e.realized_pnl),
    )


def money(value: Decimal) -> str:
    """An account value as IB writes it: two decimals."""
    return f"{value:.2f}"


def trading_day(epoch_s: float) -> date:
    """The CME trading day a moment belongs to: a new one starts at the 16:00 CT close."""
    return (datetime.fromtimestamp(epoch_s, CHICAGO) + timedelta(hours=8)).date()


def parse_filter_time(text: str) -> int | None:
    """reqExecutions' ``time`` filter as epoch ns: ``"yyyymmdd hh:mm:ss"`` (UTC, the zone the
    gateway reports execution times in), ``"yyyymmdd-hh:mm:ss"`` (UTC) or
    ``"yyyymmdd hh:mm:ss <IANA zone>"``; "" -> None (no filter)."""
    text = text.strip()
    if not text:
        return None
    zone: Any = UTC
    if "-" in text[:9]:
        stamp = text.replace("-", " ", 1)
    else:
        parts = text.split()
        if len(parts) == 3:
            try:
                zone = ZoneInfo(parts[2])
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise ValueError(f"unknown time zone {parts[2]!r}") from exc
        stamp = " ".join(parts[:2])
    moment = datetime.strptime(stamp, "%Y%m%d %H:%M:%S").replace(tzinfo=zone)
    return int(moment.timestamp()) * NS
