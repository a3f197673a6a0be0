"""The replay's one clock: the recording's own time, paced on a wall clock the test moves."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

import pytest

from tests.support.waiting import until
from tradeterm.sim.market_events import TradePrint
from tradeterm.sim.replay_clock import NS, ReplayClock, play

T0 = 1_703_545_200.0  # 2023-12-25 23:00:00 UTC: a recorded time, not the wall clock's


class Wall:
    """Wall time that moves only when the clock sleeps on it (or the test moves it)."""

    def __init__(self) -> None:
        self.t = 50.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds
        await asyncio.sleep(0)


def clock(wall: Wall, speed: float | str = 1.0) -> ReplayClock:
    return ReplayClock(T0, speed, wall=wall, wall_sleep=wall.sleep)


def trades(*offsets: float) -> list[TradePrint]:
    return [TradePrint(round((T0 + o) * NS), 100, 1, None) for o in offsets]


def test_reads_the_recordings_time_at_its_speed() -> None:
    wall = Wall()
    c = clock(wall, 10)
    assert c.now() == T0
    wall.t += 1.5
    assert c.now() == pytest.approx(T0 + 15)
    c.set_speed("max")
    assert c.speed == math.inf and c.now() == pytest.approx(T0 + 15)  # does not run by itself
    wall.t += 100
    assert c.now() == pytest.approx(T0 + 15)


def test_pause_holds_time_and_resume_continues_from_there() -> None:
    wall = Wall()
    c = clock(wall, 2)
    wall.t += 1
    c.pause()
    assert c.paused
    wall.t += 60
    assert c.now() == pytest.approx(T0 + 2)
    c.resume()
    wall.t += 1
    assert not c.paused and c.now() == pytest.approx(T0 + 4)


def test_set_speed_keeps_the_time_and_refuses_zero() -> None:
    wall = Wall()
    c = clock(wall)
    wall.t += 3
    c.set_speed(10)
    assert c.speed == 10 and c.now() == pytest.approx(T0 + 3)
    wall.t += 1
    assert c.now() == pytest.approx(T0 + 13)
    with pytest.raises(ValueError):
        c.set_speed(0)
    with pytest.raises(ValueError):
        c.set_speed(-1)


async def test_events_play_at_their_own_time_and_stamps_never_move() -> None:
    wall = Wall()
    c = clock(wall, 10)
    got = [(c.now_ns(), ev.ts_ns) async for ev in play(trades(0, 1, 3, 3603), c, max_gap=2)]
    assert [now for now, _ in got] == [ts for _, ts in got]  # the clock reads each event's stamp
    # the hour-long quiet gap is cut to 2 market seconds (0.2 s of wall time at speed 10)
    assert [round(s, 6) for s in wall.sleeps] == [0.1, 0.2, 0.2]


async def test_pause_stops_the_replay_until_resumed() -> None:
    wall = Wall()
    c = clock(wall)
    seen: list[TradePrint] = []

    async def run() -> None:
        async for ev in play(trades(0, 1), c):
            seen.append(ev)

    c.pause()
    task = asyncio.create_task(run())
    for _ in range(20):
        await asyncio.sleep(0)
    assert len(seen) == 1  # the first event is due at the clock's time; the next waits
    c.resume()
    await asyncio.wait_for(task, 5)
    assert len(seen) == 2 and c.now() == pytest.approx(T0 + 1)


async def test_jump_plays_the_skipped_events_at_once_then_lands() -> None:
    wall = Wall()
    c = clock(wall)
    landed: list[float] = []
    c.on_landed(lambda: landed.append(c.now()))
    order: list[tuple[float, bool]] = []
    async for ev in play(trades(0, 10, 20, 30, 100), c):
        order.append((ev.ts_ns / NS - T0, c.jumping))
        if ev.ts_ns / NS == T0:
            c.jump(25)  # to T0 + 25: the events at 10 and 20 are due at once, quietly
    assert order == [(0, False), (10, True), (20, True), (30, False), (100, False)]
    assert landed == [pytest.approx(T0 + 25)]  # the book is shown once, at the jump's end
    with pytest.raises(ValueError):
        c.jump(-1)


async def test_max_speed_follows_the_events_without_waiting() -> None:
    wall = Wall()
    c = clock(wall, "max")
    stamps = [c.now_ns() async for _ in play(trades(0, 5, 3600), c)]
    assert stamps == [ev.ts_ns for ev in trades(0, 5, 3600)] and wall.sleeps == []


def test_an_ended_replay_stands_still_at_its_end_and_jumps_nowhere() -> None:
    wall = Wall()
    c = clock(wall, 10)
    wall.t += 1.0
    c.end()  # the file is played to its end (the gateway's replay desk says so)
    assert c.ended and c.now() == pytest.approx(T0 + 10)
    wall.t += 60  # time running on would only age the last event
    assert c.now() == pytest.approx(T0 + 10)
    c.pause()
    c.resume()
    c.set_speed(100)
    wall.t += 60
    assert c.now() == pytest.approx(T0 + 10)
    with pytest.raises(ValueError, match="ended"):
        c.jump(60)
    assert not c.jumping


@pytest.mark.parametrize("speed", [1.0, "max"])
async def test_a_held_clock_plays_nothing_until_released_and_keeps_a_pause_set_meanwhile(
    speed: float | str,
) -> None:
    wall = Wall()
    c = ReplayClock(T0, speed, held=True, wall=wall, wall_sleep=wall.sleep)
    got: list[int] = []

    async def consume() -> None:
        async for ev in play(trades(0, 1), c):
            got.append(ev.ts_ns)

    task = asyncio.create_task(consume())
    for _ in range(20):
        await asyncio.sleep(0)
    wall.t += 30
    assert got == [] and c.now() == T0  # not even the trade due at its time: held
    assert c.held and not c.paused
    c.pause()  # the trainer's pause while the instance starts: kept after the release
    c.release()
    for _ in range(20):
        await asyncio.sleep(0)
    wall.t += 30
    assert c.paused and not c.held and c.now() == T0  # paused: time stands at the start...
    assert got == [round(T0 * NS)]  # ...where what is due plays (a paused replay's book)
    c.resume()
    await asyncio.wait_for(task, 5)
    assert got == [round(T0 * NS), round((T0 + 1) * NS)]


async def test_the_gateway_ends_the_clock_when_the_file_is_played() -> None:
    from pathlib import Path

    from tradeterm.sim.gateway.fake_gateway import FakeGateway, GatewayConfig
    from tradeterm.sim.replay_csv import parse_ts

    book = Path(__file__).parents[1] / "trainer" / "book.csv"
    c = ReplayClock(speed="max")
    gw = FakeGateway(GatewayConfig(port=0, replay=book, replay_clock=c, rate=0.0))
    await gw.start()
    try:
        gw.market.feed_for_symbol("ES")
        for _ in range(500):
            if gw.market.replay_state() == "ended":
                break
            await asyncio.sleep(0.01)
        assert gw.market.replay_state() == "ended"
        assert c.ended and c.now_ns() == parse_ts("2024-07-01T23:58:30Z")  # its last event
    finally:
        await gw.stop()


async def test_a_file_that_cannot_be_read_on_ends_the_clock_and_says_why(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from tradeterm.sim.gateway.fake_gateway import FakeGateway, GatewayConfig

    book = Path(__file__).parents[1] / "trainer" / "book.csv"
    bad = tmp_path / "bad.csv"  # the book, then a row the reader refuses (a price off the tick)
    bad.write_text(book.read_text() + "2024-07-01T23:58:40Z,trade,5528.30,1,S\n")
    c = ReplayClock(speed="max")
    gw = FakeGateway(GatewayConfig(port=0, replay=bad, replay_clock=c, rate=0.0))
    await gw.start()
    try:
        gw.market.feed_for_symbol("ES")
        await until(lambda: gw.market.replay_state() != "playing", "the replay to stop")
        assert gw.market.replay_state() == "failed"
        assert c.ended and c.failure is not None
        assert c.failure.startswith("bad.csv could not be read on") and "5528.3" in c.failure
        (record,) = [r for r in caplog.records if r.name.endswith("replay_desk")]
        assert record.levelname == "ERROR" and not record.exc_info  # one line
    finally:
        await gw.stop()
