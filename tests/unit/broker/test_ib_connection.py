"""The IB connection state machine without a socket: how IB's messages move OK/DEGRADED,
which errors reach the adapter's hooks, the reconnect backoff, and the callback guard."""

from __future__ import annotations

import pytest

from tradeterm.broker.ib.codes import translate
from tradeterm.broker.ib.connection import IbConnection, guarded
from tradeterm.broker.port import ConnectionChanged, ConnectionState, FarmChanged, Notice
from tradeterm.config import ConnectionConfig


class Probe(IbConnection):
    """An IbConnection that records what it hands to the adapter's hooks."""

    def __init__(self, **config: object) -> None:
        super().__init__(
            ConnectionConfig(**{"client_id": 1, **config}), port=4002, clock=lambda: 1.5
        )
        self.resubscribed = 0
        self.request_errors: list[tuple[int, int]] = []

    def resubscribe_all(self) -> None:
        self.resubscribed += 1

    def _on_request_error(self, req_id: int, code: int) -> None:
        self.request_errors.append((req_id, code))

    @guarded
    def explode(self) -> int:
        raise RuntimeError("boom")

    def drain(self) -> list[object]:
        out: list[object] = []
        while not self._queue.empty():
            out.append(self._queue.get_nowait())
        return out

    def states(self) -> list[ConnectionState]:
        return [e.state for e in self.drain() if isinstance(e, ConnectionChanged)]


@pytest.fixture
def live() -> Probe:
    probe = Probe()
    probe._state = ConnectionState.OK
    return probe


def test_farms_degrade_until_every_broken_farm_is_ok_again(live: Probe) -> None:
    live._on_error(-1, 2103, "Market data farm connection is broken:usfarm", None)
    live._on_error(-1, 2105, "HMDS data farm connection is broken:ushmds", None)
    live._on_error(-1, 2104, "Market data farm connection is OK:usfarm", None)
    assert live.state is ConnectionState.DEGRADED
    live._on_error(-1, 2106, "HMDS data farm connection is OK:ushmds", None)
    assert live.state is ConnectionState.OK
    assert live.states() == [ConnectionState.DEGRADED, ConnectionState.OK]
    assert live.request_errors == [] and live.resubscribed == 0


def farm_events(probe: Probe) -> list[FarmChanged]:
    return [e for e in probe.drain() if isinstance(e, FarmChanged)]


async def test_the_market_data_farm_is_told_in_trading_terms(live: Probe) -> None:
    live._on_error(-1, 2105, "HMDS data farm connection is broken:ushmds", None)
    assert farm_events(live) == []  # historical data: no reason to stop entries
    live._on_error(-1, 2103, "Market data farm connection is broken:usfarm", None)
    live._on_error(-1, 2103, "Market data farm connection is broken:usfuture", None)
    live._on_error(-1, 2104, "Market data farm connection is OK:usfarm", None)
    [down] = farm_events(live)  # said once; usfuture is still broken
    assert not down.up and "usfarm" in down.reason and "2103" in down.reason
    live._on_error(-1, 2104, "Market data farm connection is OK:usfuture", None)
    [back] = farm_events(live)
    assert back.up and "2104" in back.reason
    # down again, then a new connection that is not told the farm is broken: back
    live._on_error(-1, 2103, "Market data farm connection is broken:usfarm", None)
    assert [e.up for e in farm_events(live)] == [False]
    live._broken_farms.clear()  # what every new connection starts from
    await live._synced("reconnected")
    assert [e.up for e in farm_events(live)] == [True]


@pytest.mark.parametrize(
    ("broken", "fixed"),
    [(2103, 2104), (1100, 1102), (1100, 1101)],
)
def test_the_new_state_comes_before_the_message_that_caused_it(
    live: Probe, broken: int, fixed: int
) -> None:
    """An engine refreshing its health on IB's "OK" message must already see the state it
    brings, not the broken one (a DEGRADED line after "farm is back" said what was over)."""
    live._on_error(-1, broken, "broken:usfarm", None)
    live.drain()
    live._on_error(-1, fixed, "OK:usfarm", None)
    events = live.drain()
    kinds = [type(e).__name__ for e in events]
    assert isinstance(events[-1], Notice) and "ConnectionChanged" in kinds
    (changed,) = [e for e in events if isinstance(e, ConnectionChanged)]
    assert changed.state is ConnectionState.OK


def test_1100_then_1101_resubscribes_and_1102_does_not(live: Probe) -> None:
    live._on_error(-1, 1100, "Connectivity between IB and TWS has been lost.", None)
    assert live.state is ConnectionState.DEGRADED
    live._on_error(-1, 1101, "restored - data lost.", None)
    assert live.state is ConnectionState.OK and live.resubscribed == 1
    live._on_error(-1, 1100, "lost", None)
    live._on_error(-1, 1102, "restored - data maintained.", None)
    assert live.state is ConnectionState.OK and live.resubscribed == 1
    assert live.states() == [ConnectionState.DEGRADED, ConnectionState.OK] * 2


def test_1102_while_a_farm_is_broken_stays_degraded(live: Probe) -> None:
    live._on_error(-1, 2103, "Market data farm connection is broken:usfarm", None)
    live._on_error(-1, 1100, "lost", None)
    live._on_error(-1, 1102, "restored - data maintained.", None)
    assert live.state is ConnectionState.DEGRADED


@pytest.mark.parametrize("code", [10147, 10148, 317, 10190, 200])
def test_other_errors_are_notices_for_the_adapter_and_leave_the_state(
    live: Probe, code: int
) -> None:
    live._on_error(17, code, "text", None)
    assert live.state is ConnectionState.OK
    assert live.request_errors == [(17, code)]
    [notice] = live.drain()
    assert notice == translate(code, "text", 1_500_000_000, 17)


def test_a_failing_callback_becomes_a_notice_not_an_exception(live: Probe) -> None:
    assert live.explode() is None
    [notice] = live.drain()
    assert type(notice) is Notice and notice.code == 0 and "boom" in notice.text
