"""The --faults spec parser, and the fault runner against the objects its faults affect."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from tradeterm.sim.gateway.fake_gateway import FakeGateway, GatewayConfig
from tradeterm.sim.gateway.faults import (
    Fault,
    FaultRunner,
    FaultSpecError,
    parse_duration,
    parse_faults,
)
from tradeterm.sim.gateway.protocol.records import ContractRecord
from tradeterm.sim.gateway.protocol.request_types import ReqMktDepth, ReqTickByTickData


def test_full_spec_is_parsed_and_sorted_by_time() -> None:
    faults = parse_faults(
        "restart@90:4, farm@20:5,lost@40:3:1101,reject@60,delay:300ms:10s,drop@1m"
    )
    assert faults == [
        Fault("delay", 0.0, 0.3, span_s=10.0),
        Fault("farm", 20.0, 5.0),
        Fault("lost", 40.0, 3.0, "1101"),
        Fault("reject", 60.0),
        Fault("drop", 60.0),
        Fault("restart", 90.0, 4.0),
    ]


def test_defaults() -> None:
    assert parse_faults("lost@5:2") == [Fault("lost", 5.0, 2.0, "1102")]
    assert parse_faults("restart@3") == [Fault("restart", 3.0, 2.0)]
    assert parse_faults("offline-fill") == [Fault("offline-fill", 0.0)]
    assert parse_faults("") == []


@pytest.mark.parametrize(
    ("text", "seconds"), [("5", 5.0), ("2.5s", 2.5), ("300ms", 0.3), ("2m", 120.0)]
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("explode@3", "unknown fault 'explode'"),
        ("farm@3", "farm takes 1 argument"),
        ("drop@3:4", "drop takes 0 argument"),
        ("lost@3:2:1100", "lost ends with 1101 or 1102"),
        ("stall@soon:2", "'soon' is not a duration"),
    ],
)
def test_errors_name_the_bad_part(spec: str, message: str) -> None:
    with pytest.raises(FaultSpecError, match=message):
        parse_faults(spec)


def test_no_tbt_takes_no_argument() -> None:
    assert parse_faults("no-tbt@2s") == [Fault("no-tbt", 2.0)]
    with pytest.raises(FaultSpecError, match="no-tbt takes 0 argument"):
        parse_faults("no-tbt@2:5")


class _Session:
    """What the market desk's tick-by-tick handler uses of a client session."""

    def __init__(self) -> None:
        self.errors: list[tuple[int, int, str]] = []
        self.subscribed: list[tuple[str, int | str]] = []

    def send_error(self, error_id: int, code: int, message: str, advanced: str = "") -> None:
        self.errors.append((error_id, code, message))

    def subscribe(self, kind: str, key: int | str, request: object) -> None:
        self.subscribed.append((kind, key))


async def test_no_tbt_refuses_tick_by_tick_with_10190_and_no_stream() -> None:
    gateway = FakeGateway(GatewayConfig(port=0, rate=0.0, seed=7, today=date(2026, 11, 21)))
    feed = gateway.market.feed_for_symbol("ES")
    es = ContractRecord(conId=feed.con_id, exchange="CME")
    served: Any = _Session()  # stands in for a ClientSession
    refused: Any = _Session()
    await gateway.market.on_tick_by_tick(served, ReqTickByTickData(7, es, "AllLast"))
    assert served.errors == [] and served.subscribed == [("tbtAllLast", 7)]

    await gateway.faults.fire(Fault("no-tbt", 0.0))
    await gateway.market.on_tick_by_tick(refused, ReqTickByTickData(8, es, "AllLast"))
    assert refused.subscribed == [] and not any(key[1] == 8 for key in feed.watches)
    assert [(req_id, code) for req_id, code, _ in refused.errors] == [(8, 10190)]
    assert "tick-by-tick" in refused.errors[0][2]

    gateway.faults.refuse_tick_by_tick(False)
    await gateway.market.on_tick_by_tick(refused, ReqTickByTickData(9, es, "AllLast"))
    assert refused.subscribed == [("tbtAllLast", 9)]


class _Recorder:
    """Stands for the server, the market desk and the order desk at once: records each call
    the fault runner makes through its protocols."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def broadcast(self, fields: Any) -> None:
        self.calls.append(("broadcast", list(fields)))

    def broadcast_error(self, code: int, text: str) -> None:
        self.calls.append(("error", code))

    def drop(self, client_ids: Any = None) -> int:
        self.calls.append(("drop", client_ids))
        return 1

    def replace_farm_message(self, old: int, new: int, text: str) -> None:
        self.calls.append(("farm", old, new))

    def add_pacing_violations(self, count: int) -> None:
        self.calls.append(("pacing", count))

    def stall(self, seconds: float) -> None:
        self.calls.append(("stall", seconds))

    def hold(self) -> float:
        self.calls.append(("hold",))
        return 12.5

    def release(self, before: float) -> None:
        self.calls.append(("release", before))

    def drop_all_subscriptions(self) -> None:
        self.calls.append(("unsubscribe all",))

    def set_hmds_down(self, down: bool) -> None:
        self.calls.append(("hmds down", down))

    def refuse_tick_by_tick(self, refuse: bool) -> None:
        self.calls.append(("refuse tbt", refuse))

    def refuse_data(self, feed: str, code: int | None) -> None:
        self.calls.append(("refuse data", feed, code))

    def reject_next(self, reason: str) -> None:
        self.calls.append(("reject next",))

    def set_ack_delay(self, seconds: float, *, hide: bool = False) -> None:
        self.calls.append(("ack delay", seconds, hide))

    def clients_with_working_orders(self) -> set[int]:
        return {3, 4}

    def force_fill_working(self, client_ids: Any) -> int:
        self.calls.append(("force fill", set(client_ids)))
        return 2

    async def restart(self, down_s: float) -> None:
        self.calls.append(("restart", down_s))


def _runner(spec: str = "") -> tuple[FaultRunner, _Recorder]:
    target = _Recorder()
    runner = FaultRunner(
        spec,
        clock=lambda: 1000.0,
        connections=target,
        market=target,
        orders=target,
        restart=target.restart,
    )
    return runner, target


async def test_faults_act_only_through_the_objects_they_affect() -> None:
    """The runner needs no gateway: each fault is a call on the object it affects."""
    runner, target = _runner()
    await runner.connectivity_lost(0.0, data_lost=True)
    assert target.calls == [
        ("error", 1100),
        ("hold",),
        ("unsubscribe all",),
        ("error", 1101),
        ("release", 12.5),
    ]
    target.calls.clear()
    await runner.farm_outage(0.0)
    assert target.calls == [
        ("error", 2103),
        ("farm", 2104, 2103),
        ("hold",),
        ("farm", 2103, 2104),
        ("error", 2104),
        ("release", 12.5),
    ]
    target.calls.clear()
    assert runner.fill_while_disconnected() == 2
    runner.pacing_violation(2)
    await runner.delay_acks(0.5, 0.0, hide=True)
    assert target.calls == [
        ("drop", {3, 4}),
        ("force fill", {3, 4}),
        ("pacing", 2),
        ("ack delay", 0.5, True),
        ("ack delay", 0.0, False),
    ]


async def test_a_planned_restart_calls_the_restart_it_was_given() -> None:
    runner, target = _runner("restart:3")
    await runner.fire(runner.plan[0])
    assert target.calls == [("restart", 3.0)]


def test_refuse_data_names_a_feed_and_an_ib_code() -> None:
    assert parse_faults("refuse-data:depth:10092") == [
        Fault("refuse-data", 0.0, option="depth", code=10092)
    ]
    assert parse_faults("refuse-data@3:quotes") == [
        Fault("refuse-data", 3.0, option="quotes", code=354)
    ]
    with pytest.raises(FaultSpecError, match="the feed is one of quotes, depth, trades"):
        parse_faults("refuse-data:book")
    with pytest.raises(FaultSpecError, match="the error code is one of 354, "):
        parse_faults("refuse-data:quotes:999")


class _BookSession(_Session):
    """A session the depth handler can send its opening book to."""

    version = 178

    def send(self, fields: object) -> None:
        pass


async def test_refuse_data_answers_each_request_of_its_feed_with_the_code() -> None:
    gateway = FakeGateway(GatewayConfig(port=0, rate=0.0, seed=7, today=date(2026, 11, 21)))
    feed = gateway.market.feed_for_symbol("ES")
    es = ContractRecord(conId=feed.con_id, exchange="CME")
    session: Any = _BookSession()
    await gateway.faults.fire(Fault("refuse-data", 0.0, option="depth", code=309))
    await gateway.market.on_mkt_depth(session, ReqMktDepth(4, es, 10, False))
    await gateway.market.on_tick_by_tick(session, ReqTickByTickData(5, es, "AllLast"))
    assert [(req_id, code) for req_id, code, _ in session.errors] == [(4, 309)]
    assert session.subscribed == [("tbtAllLast", 5)]  # the other feeds are served
    gateway.faults.refuse_data("depth", None)
    await gateway.market.on_mkt_depth(session, ReqMktDepth(6, es, 10, False))
    assert session.subscribed[-1] == ("depth", 6)
