"""``tradeterm SYMBOL --replay FILE [--speed N]``: the trading screen on the embedded gateway
replaying a recorded file (the trainer), in REPLAY mode (its own journal, ``runtime.py``).

The file is checked before the terminal is taken over, so a missing, unreadable or foreign
file, or a file of another market, ends in one line and exit status 2."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from tradeterm.cli.errors import UserError

if TYPE_CHECKING:
    from tradeterm.config import Settings
    from tradeterm.embedded import ReplaySource


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--replay", type=Path, metavar="FILE",
                        help="trade on recorded CME data (.dbn/.dbn.zst: MBO, MBP-1, trades; "
                        "CSV) replayed by the embedded gateway, in REPLAY mode (own journal)")  # fmt: skip
    parser.add_argument("--speed", metavar="N",
                        help="replay speed: 1 (real time), 10, 10x or max (default 1)")  # fmt: skip


def chosen(args: argparse.Namespace) -> ReplaySource | None:
    """The replay the command line asks for, its mode checked (None without ``--replay``);
    sets ``args.mode`` to REPLAY. A :class:`UserError` for a speed without a file, another
    mode beside it, or a bad speed."""
    path: Path | None = getattr(args, "replay", None)
    speed_text: str | None = getattr(args, "speed", None)
    if path is None:
        if speed_text is not None:
            raise UserError("--speed sets the speed of a replay: give --replay FILE too")
        return None
    mode = getattr(args, "mode", None)
    if mode not in (None, "replay"):
        raise UserError(f"--replay runs in its own REPLAY mode (own journal): leave out --{mode}")
    if getattr(args, "watch_only", False):
        raise UserError("--replay trades on its own embedded gateway: there is no --watch-only")
    from tradeterm.embedded import ReplaySource
    from tradeterm.sim.replay import parse_speed

    try:
        speed = parse_speed(speed_text if speed_text is not None else "1")
    except ValueError as exc:
        raise UserError(f"--speed: {exc}") from None
    args.mode = "replay"
    return ReplaySource(path, speed)


def check(source: ReplaySource, settings: Settings) -> None:
    """The file can be played for ``settings``' market: it exists, is readable, is a replay
    format whose first event reads, and holds the market (the one contract of it it plays, of
    a file of several instruments: ``sim.replay.instrument_of``). A :class:`UserError`."""
    from tradeterm.sim import products
    from tradeterm.sim.replay import ReplayError, instrument_of, load_replay

    path = source.path
    symbol = settings.symbol
    spec = products.spec_for(symbol)
    if spec is None:
        raise UserError(f"--replay: the fake gateway has no contract for {symbol}")
    try:
        own = instrument_of(path, symbol, settings.market().contract)
        next(iter(load_replay(path, symbol=own, tick_size=spec.tick)), None)
    except ReplayError as exc:
        raise UserError(f"--replay: {exc}") from None
    except OSError as exc:
        raise UserError(f"--replay: cannot read {path}: {exc.strerror or exc}") from None
