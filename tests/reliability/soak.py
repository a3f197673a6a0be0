"""The long soak (issue 20; ``scripts/soak.py`` runs it, ``test_soak.py`` a short one in CI).

One fake gateway in this process (a slow synthetic market, master client id 99) and the
master client outlive many ``tradeterm console`` processes, all on one journal. A cycle:

1. a console starts (the latch, the journal and IB's orders are read again);
2. once it has reconciled (or before: some are killed while starting), random commands are
   typed: market, limit and stop orders, brackets, modifications and cancels of the orders
   it printed, cancel all, flatten, reverse, status, and sometimes the kill switch (then
   ``rearm`` in a later cycle, the cooldown being 0);
3. a random gateway fault (any row of the matrix but the control) may begin at a random
   moment and lasts its window;
4. the console is killed with SIGKILL at a random moment (sometimes in the middle of its kill
   switch), or quits as typed;
5. after every crash: nothing sent twice and every order at IB journaled before it was sent;
   a kill switch that said it halted had left IB flat with nothing of ours working.

Every ``check_every`` cycles and at the end, tradeterm starts in this process on the same
journal and, once settled, every invariant of the matrix is read (every fill journaled once,
the journal's position and open orders IB's, the engine's position, orders and trading state
IB's, no bracket leg working without its entry); then its kill switch runs and must leave IB
flat, nothing working, HALTED; it rearms and quits.

A violation stops the soak with the seed, the cycle and the timeline of that cycle.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.integration.journal_helpers import (
    GatewayState,
    check_after_kill,
    query,
    read_journal,
)
from tests.integration.kill_helpers import Console, Failed, wait_for
from tests.reliability.harness import (
    CONFIG_TOML,
    FAULTS,
    SETTLE_S,
    Fault,
    Instance,
    OnGateway,
    hold,
    open_gateway,
    settle,
)
from tests.reliability.observe import OURS, Expect, Master, Timeline
from tradeterm.sim.gateway.fake_gateway import FakeGateway

SOAK_TOML = CONFIG_TOML + "rearm_cooldown_s = 0\n"  # the risk table is CONFIG_TOML's last
ORDER_ID = re.compile(r"\btt\.ES\.[0-9]+\.[0-9]+\b")
FAULT_ROWS = [f for f in FAULTS if f.name != "none"]


class Violation(Exception):
    """An invariant that did not hold (the soak stops)."""


@dataclass
class Figures:
    cycles: int = 0
    kills: int = 0  # SIGKILLs of a console
    quits: int = 0
    kill_switches: int = 0  # typed in a console
    halted: int = 0  # of those, how many the console saw end halted before its SIGKILL
    checks: int = 0  # full checks by an instance in this process (each ends in a kill switch)
    start_refused: int = 0  # consoles started while the gateway was down (exit 1, one line)
    faults: dict[str, int] = field(default_factory=dict)

    def line(self, orders: int, fills: int, started: float) -> str:
        return (f"{self.cycles} cycles, {time.monotonic() - started:.0f} s: {self.kills} kill -9, "
                f"{self.quits} quits, {orders} orders, {fills} fills, {self.kill_switches} kill "
                f"switches typed ({self.halted} seen halted), {self.checks} full checks, "
                f"{sum(self.faults.values())} faults, {self.start_refused} starts refused "
                "(gateway down)")  # fmt: skip


class Soak(OnGateway):
    def __init__(self, workdir: Path, seed: int, *, check_every: int = 25,
                 max_cycle_s: float = 8.0, say: Callable[[str], None] = print) -> None:  # fmt: skip
        self.workdir, self.seed, self.check_every = workdir, seed, check_every
        self.max_cycle_s, self.say = max_cycle_s, say
        self.rng = random.Random(seed)
        self.timeline = Timeline()
        self.figures = Figures()
        self.gateway: FakeGateway | None = None
        self.master: Master | None = None
        self.orders = 0
        self.fills = 0
        self.started = time.monotonic()

    @property
    def journal_dir(self) -> Path:
        return self.workdir / "j"

    async def __aenter__(self) -> Soak:
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "tradeterm.toml").write_text(SOAK_TOML.format(journal=self.journal_dir))
        self.gateway, _, self.master = await open_gateway(self.seed, self.timeline)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.master is not None:
            self.master.close()
        if self.gateway is not None:
            await self.gateway.stop()

    async def view(self) -> GatewayState:
        assert self.master is not None
        return await self.master.view()

    # ---- the run -------------------------------------------------------------------------

    async def run(self, *, kills: int, orders: int, max_s: float | None = None) -> None:
        """Cycle until ``kills`` SIGKILLs and ``orders`` orders at IB (or ``max_s``), with a
        full check every ``check_every`` cycles and at the end. Raises :class:`Violation`."""
        while self.figures.kills < kills or self.orders < orders:
            if max_s is not None and time.monotonic() - self.started > max_s:
                break
            await self._guarded(self.cycle, f"cycle {self.figures.cycles + 1}")
            if self.figures.cycles % self.check_every == 0:
                await self._guarded(self.check, f"full check after cycle {self.figures.cycles}")
        await self._guarded(self.check, "the final full check")

    async def _guarded(self, step: Callable[[], Any], what: str) -> None:
        self.timeline.rows.clear()
        self.timeline.t0 = time.monotonic()
        try:
            await step()
        except (Failed, TimeoutError) as exc:
            raise Violation(f"seed {self.seed}, {what}: {exc!r}\n"
                            f"timeline (s since it began):\n{self.timeline.render()}") from None  # fmt: skip

    async def cycle(self) -> None:
        n = self.figures.cycles = self.figures.cycles + 1
        console = Console(self.workdir, self.gw.config.port, n % 10)  # output files reused
        tail = asyncio.create_task(self.timeline.follow_file(console.out, f"console#{n}"))
        fault: asyncio.Task[None] | None = None
        try:
            await console.start()
            end = time.monotonic() + self.rng.uniform(0.3, self.max_cycle_s)
            if self.rng.random() < 0.5:
                row = self.rng.choice(FAULT_ROWS)
                self.figures.faults[row.name] = self.figures.faults.get(row.name, 0) + 1
                fault = asyncio.create_task(self._fault(row, self.rng.uniform(0, self.max_cycle_s)))
            killed_switch = await self._type(console, end)
            await self._end(console, killed_switch)
        finally:
            if console.proc is not None and console.proc.returncode is None:
                await console.kill9()
            if fault is not None:
                await asyncio.wait_for(fault, SETTLE_S)
            tail.cancel()
        await wait_for(lambda: self.gw.desk.pending_acks == 0, "the gateway's held requests",
                       SETTLE_S)  # fmt: skip
        gw, journal = await self.view(), read_journal(self.journal_dir)
        problems = check_after_kill(gw, journal)
        if problems:
            raise Failed("after the console ended: " + "; ".join(problems))
        self.orders = sum(1 for r in gw.refs if r.startswith(OURS))
        self.fills = len(gw.exec_ids)
        if n % 10 == 0:
            self.say(self.figures.line(self.orders, self.fills, self.started))

    async def _fault(self, row: Fault, after_s: float) -> None:
        await asyncio.sleep(after_s)
        self.timeline.add("soak", f"fault {row.name} begins")
        await row.begin(self.gw).end()
        self.timeline.add("soak", f"fault {row.name} ends")

    async def _type(self, console: Console, end: float) -> bool:
        """Random commands until ``end`` once the console has reconciled; True when the last
        one was the kill switch."""
        while time.monotonic() < end:
            if console.proc is not None and console.proc.returncode is not None:
                if _start_refused(console.proc.returncode, console.text()):
                    self.figures.start_refused += 1
                    return False
                raise Failed(f"the console exited by itself ({console.proc.returncode}):\n"
                             f"{console.text()[-2000:]}")  # fmt: skip
            if "RECONCILED" in console.text():
                line = self._command(console.text())
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    await console.type(line)
                if line.startswith("kill"):
                    self.figures.kill_switches += 1
                    return True
            await asyncio.sleep(self.rng.uniform(0.02, 0.15))
        return False

    def _command(self, text: str) -> str:
        rng = self.rng
        feed = self.gw.market.feed_for_symbol("ES")
        tick = feed.tick
        bid = (feed.engine.best_bid or 0) * tick
        ask = (feed.engine.best_ask or 0) * tick or bid + tick

        def px(base: Decimal, ticks: int) -> str:
            return f"{base + ticks * tick:.2f}"

        side = rng.choice(("buy", "sell"))
        away = rng.randint(2, 40)
        below, above = px(bid, -away), px(ask, away)
        qty = rng.randint(1, 2)
        ids = ORDER_ID.findall(text[-20000:])
        own = rng.choice(ids) if ids else "tt.ES.1.1"
        choices = [
            (8, f"{side} {qty}"),
            (10, f"{side} {qty} limit {below if side == 'buy' else above}"),
            (4, f"{side} {qty} stop {above if side == 'buy' else below}"),
            (8, f"bracket {side} {qty} stop {rng.randint(4, 40)} target {rng.randint(4, 80)}"),
            (5, f"bracket {side} 1 stop {rng.randint(4, 40)} target {rng.randint(4, 80)} "
                f"limit {below if side == 'buy' else above}"),
            (5, f"modify {own} {rng.choice(('limit', 'stop'))} "
                f"{rng.choice((below, above))}"),
            (2, f"modify {own} qty {qty}"),
            (5, f"cancel {own}"),
            (3, "cancel all"),
            (3, "flatten"),
            (1, "reverse"),
            (1, "status"),
            (2, "rearm soak"),
            (1, "kill soak"),
        ]  # fmt: skip
        return rng.choices([c for _, c in choices], weights=[w for w, _ in choices])[0]

    async def _end(self, console: Console, kill_switch: bool) -> None:
        if console.proc is not None and console.proc.returncode is not None:
            await console.kill9()  # it could not start (the gateway was down): closes its output
            return
        if kill_switch:
            # SIGKILL in the middle of the kill switch, or once it has said how it ended
            deadline = time.monotonic() + (self.rng.uniform(0.05, 3.0) if self.rng.random() < 0.4
                                           else SETTLE_S)  # fmt: skip
            while time.monotonic() < deadline and not _kill_outcome(console.text()):
                await asyncio.sleep(0.05)
            if _kill_outcome(console.text()) == "halted":
                self.figures.halted += 1
                await self._flat_at_ib("the console's kill switch said halted")
        if self.rng.random() < 0.9:
            await console.kill9()
            self.figures.kills += 1
        else:
            await console.quit()
            self.figures.quits += 1
            if console.proc is not None and console.proc.returncode != 0:
                raise Failed(f"quit ended with status {console.proc.returncode}:\n"
                             f"{console.text()[-2000:]}")  # fmt: skip

    async def _flat_at_ib(self, why: str) -> None:
        gw = await self.view()
        working = sorted(r for r in gw.working if r.startswith(OURS))
        if gw.position or working:
            raise Failed(f"{why}, but IB has position {gw.position}, working {working}")

    async def check(self) -> None:
        """Every invariant, by tradeterm in this process once settled; then its kill switch."""
        assert self.master is not None
        self.figures.checks += 1
        instance = Instance(self.settings, self.timeline, 0)
        await instance.start()
        try:
            engine = instance.engine
            await settle(self.gw, engine)
            book = set((await self.view()).refs)
            state = engine.snapshot().trading_state
            await hold(self.master, self.journal_dir, engine, Expect(trading_state=state), book,
                       self.timeline)  # fmt: skip
            orphans = stranded_legs(await self.view(), self.journal_dir)
            if orphans:
                raise Failed(f"bracket legs working without their entry: {orphans}")
            result = await engine.kill("soak check")
            self.timeline.add("soak", f"kill switch: {result}")
            await settle(self.gw, engine)
            await hold(self.master, self.journal_dir, engine,
                       Expect(flat=True, trading_state="HALTED", new_orders=(0, 1),
                              new_type="MKT"), book, self.timeline)  # fmt: skip
            refusal = engine.rearm("soak check")
            if refusal:
                raise Failed(f"rearm refused: {refusal}")
        finally:
            unwritten = await instance.stop()
        if unwritten:
            raise Failed(f"quitting lost journal rows: {unwritten}")
        self.say(f"full check {self.figures.checks} after cycle {self.figures.cycles}: "
                 "every invariant holds, the kill switch left IB flat")  # fmt: skip


def _start_refused(status: int, text: str) -> bool:
    """Whether a console ended as it must when IB is not there at its start: status 1 and
    one line saying it cannot connect."""
    said = [line for line in text.splitlines() if line.startswith("tradeterm: ")]
    return status == 1 and len(said) == 1 and said[0].startswith("tradeterm: cannot start: "
                                                                 "cannot connect to IB")  # fmt: skip


def _kill_outcome(text: str) -> str | None:
    found = re.findall(r"KILL (halted|done|failed):", text)
    return found[-1] if found else None


def stranded_legs(gw: GatewayState, journal_dir: Path) -> list[str]:
    """Our bracket legs working at IB whose entry is neither working nor filled (its entry
    cancelled, rejected or never sent: the leg protects nothing)."""
    parents = dict(query(journal_dir, "SELECT order_id, parent_id FROM order_intents "
                                      "WHERE parent_id IS NOT NULL"))  # fmt: skip
    filled = {r[0] for r in query(journal_dir, "SELECT DISTINCT order_id FROM fills "
                                               "WHERE order_id IS NOT NULL")}  # fmt: skip
    return sorted(
        ref for ref in gw.working
        if ref in parents and parents[ref] not in gw.working and parents[ref] not in filled
    )  # fmt: skip
