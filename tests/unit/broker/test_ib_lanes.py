"""The IB adapter's send lanes without a socket: urgent messages first within one rate budget,
an order's messages never reordered, queued orders dropped (never cancels), and what the lanes
rely on in ib_async 2.1.0 pinned."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from ib_async import IB, Client, Order

from tests.support.waiting import until
from tradeterm.broker.ib.lanes import URGENT_RESERVE, Kind, SendLanes

LIMIT, WINDOW, RESERVE = 6, 0.2, 2  # a small budget: 6 messages per 0.2 s, 2 kept for urgent


class Paced:
    """The part of ib_async's ``Client`` the lanes use; records what it is handed."""

    MaxRequests = LIMIT
    RequestsInterval = WINDOW

    def __init__(self) -> None:
        self.connected = True
        self.sent: list[tuple[str, float]] = []  # (message, loop time)

    def isConnected(self) -> bool:
        return self.connected

    def sendMsg(self, msg: str | None) -> None:
        assert msg is not None
        self.sent.append((msg, asyncio.get_running_loop().time()))

    def texts(self) -> list[str]:
        return [m for m, _ in self.sent]


def lanes() -> tuple[Paced, SendLanes]:
    client = Paced()
    return client, SendLanes(client, reserve=RESERVE)


def send(client: Paced, text: str) -> None:
    """What ib_async's ``Client.send`` does with an encoded request."""
    client.sendMsg(text)


def most_in_one_window(times: list[float]) -> int:
    """The most messages any send saw in its window, itself included (ib_async's rule: a
    send at ``t`` counts the ones with ``t - s <= window``)."""
    return max(sum(1 for s in times[: i + 1] if t - s <= WINDOW) for i, t in enumerate(times))


async def test_urgent_messages_go_ahead_of_queued_ones_within_one_rate_budget() -> None:
    client, lane = lanes()
    for i in range(10):
        send(client, f"o{i}")
    assert client.texts() == ["o0", "o1", "o2", "o3"]  # the reserve is left free
    with lane.priority():
        for i in range(3):
            send(client, f"u{i}")
    assert client.texts()[4:] == ["u0", "u1"]  # at once, from the reserve
    await until(lambda: lane.queued == 0, "the queue to drain")

    assert client.texts() == ["o0", "o1", "o2", "o3", "u0", "u1", "u2"] + [
        f"o{i}" for i in range(4, 10)
    ]
    assert most_in_one_window([t for _, t in client.sent]) <= LIMIT


async def test_urgent_is_the_sending_task_s_not_everyone_s() -> None:
    client, lane = lanes()
    for i in range(4):
        send(client, f"o{i}")
    other = asyncio.Event()

    async def ordinary() -> None:
        await other.wait()
        send(client, "late-ordinary")

    task = asyncio.create_task(ordinary())
    with lane.priority():
        await asyncio.sleep(0)
        other.set()
        await task  # sent while this task is inside priority: still ordinary
        send(client, "urgent")
    assert client.texts()[4:] == ["urgent"]
    await until(lambda: lane.queued == 0, "the queue to drain")
    assert client.texts()[5:] == ["late-ordinary"]


async def test_an_urgent_message_takes_its_order_s_queued_messages_with_it() -> None:
    client, lane = lanes()
    for i in range(4):
        send(client, f"o{i}")
    send(client, "other")
    with lane.about(7, Kind.NEW):
        send(client, "place 7")
    with lane.about(7, Kind.MODIFY):
        send(client, "modify 7")
    with lane.priority(), lane.about(7, Kind.CANCEL):
        send(client, "cancel 7")
    await until(lambda: lane.queued == 0, "the queue to drain")

    # the cancel never overtakes its order; all three go ahead of "other"
    assert client.texts()[4:] == ["place 7", "modify 7", "cancel 7", "other"]


async def test_dropping_orders_drops_queued_orders_and_modifications_never_cancels() -> None:
    client, lane = lanes()
    for i in range(4):
        send(client, f"o{i}")
    for order_id, kind in [
        (1, Kind.NEW), (2, Kind.MODIFY), (2, Kind.CANCEL), (3, Kind.NEW), (3, Kind.MODIFY),
        (2, Kind.MODIFY), (4, Kind.CANCEL),
    ]:  # fmt: skip
        with lane.about(order_id, kind):
            send(client, f"{kind.value} {order_id}")
    send(client, "positions")

    new, changed = lane.drop_orders()
    assert (new, changed) == ([1, 3], [2])
    await until(lambda: lane.queued == 0, "the queue to drain")
    assert client.texts()[4:] == ["cancel 2", "cancel 4", "positions"]


async def test_nothing_queued_for_a_lost_connection_is_sent_on_the_next() -> None:
    client, lane = lanes()
    for i in range(6):
        send(client, f"o{i}")
    client.connected = False  # the two queued ones wait for a window that never comes
    await asyncio.sleep(WINDOW * 2)
    assert lane.queued == 0 and client.texts() == ["o0", "o1", "o2", "o3"]
    client.connected = True
    lane.clear()  # what the adapter does at each connection
    send(client, "startApi")
    assert client.texts()[4:] == ["startApi"]


# ---- ib_async 2.1.0, as the lanes rely on it ------------------------------------------------


@pytest.fixture
def wire() -> Iterator[tuple[IB, list[bytes]]]:
    """An ``IB`` whose client believes it is connected and writes its frames to a list."""
    ib = IB()
    frames: list[bytes] = []
    ib.client.connState = Client.CONNECTED
    ib.client.conn.sendMsg = frames.append  # type: ignore[method-assign]
    yield ib, frames
    ib.client.connState = Client.DISCONNECTED


async def test_ib_async_hands_every_request_to_client_sendMsg_and_never_queues_them(
    wire: tuple[IB, list[bytes]],
) -> None:
    ib, frames = wire
    assert (Client.MaxRequests, Client.RequestsInterval) == (45, 1)  # IB allows about 50
    lane = SendLanes(ib.client)
    for _ in range(60):
        ib.client.reqCurrentTime()  # every request goes through Client.send -> self.sendMsg
    ordinary = Client.MaxRequests - URGENT_RESERVE
    assert len(frames) == ordinary and lane.queued == 60 - ordinary
    with lane.priority(), lane.about(5, Kind.CANCEL):
        ib.cancelOrder(Order(orderId=5))
    # passed on at once: ib_async's own queue (its backstop) holds nothing
    assert len(frames) == ordinary + 1 and frames[-1][4:].startswith(b"4\0")
    assert not ib.client._msgQ
