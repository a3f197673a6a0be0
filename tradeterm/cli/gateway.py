"""``tradeterm gateway``: run the fake IB Gateway as a process.

It prints exactly one line, ``listening on HOST:PORT``, once it accepts connections (scripts and
tests wait for it), logs to ``gateway.jsonl`` in the log directory, and stops cleanly on Ctrl-C
or SIGTERM. Every bad option ends in one clear line and exit status 2.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from decimal import Decimal
from pathlib import Path

from tradeterm.cli.errors import UserError
from tradeterm.sim import products
from tradeterm.sim.gateway.fake_gateway import FakeGateway, GatewayConfig
from tradeterm.sim.gateway.faults import FaultSpecError, parse_faults
from tradeterm.sim.replay import ReplayError, load_replay, parse_speed

HELP = "run the fake IB Gateway (market simulator, matching engine, replay, faults)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (loopback)")
    parser.add_argument("--port", type=int, default=4002, help="port (4002 like IB Gateway paper)")
    parser.add_argument("--symbols", default="ES", help="comma-separated roots, e.g. ES,NQ")
    parser.add_argument("--seed", type=int, default=1, help="seed of the synthetic market")
    parser.add_argument("--replay", type=Path, metavar="FILE",
                        help="replay recorded data (.dbn/.dbn.zst or CSV) for the first symbol")  # fmt: skip
    parser.add_argument("--speed", default="1", help="replay speed: 1, 10, 10x or max")
    parser.add_argument("--rate", type=float, default=50.0, metavar="MSGS_PER_S",
                        help="synthetic market events per second per symbol")  # fmt: skip
    parser.add_argument("--account", default="DU0000001", help="the simulated account id")
    parser.add_argument("--master-client-id", type=int, metavar="N",
                        help="this client id sees every client's orders and executions")  # fmt: skip
    parser.add_argument("--faults", default="", metavar="SPEC",
                        help="fault plan, e.g. 'farm@20:5,lost@40:3:1101' (see README)")  # fmt: skip
    parser.add_argument("--commission", type=_amount, default=Decimal("2.25"),
                        help="commission per contract per side")  # fmt: skip


def _amount(text: str) -> Decimal:
    """An argparse ``type``: a finite amount. ``Decimal()`` raises ``InvalidOperation`` for
    text that is not a number, which argparse does not catch, and takes "nan" and "inf",
    which no comparison takes."""
    try:
        value = Decimal(text)
    except ArithmeticError:
        value = Decimal("NaN")
    if not value.is_finite():
        raise argparse.ArgumentTypeError(f"not a finite number: {text!r}")
    return value


def config_from_args(args: argparse.Namespace) -> GatewayConfig:
    """Validate the options into a GatewayConfig; raises UserError."""
    symbols = tuple(s.strip().upper() for s in args.symbols.split(",") if s.strip())
    if not symbols:
        raise UserError("--symbols needs at least one root symbol")
    for symbol in symbols:
        if products.spec_for(symbol) is None:
            known = ", ".join(sorted(products.PRODUCTS))
            raise UserError(f"unknown symbol {symbol!r} (known: {known})")
    if not 0 <= args.port <= 65535:
        raise UserError(f"--port {args.port} is not a TCP port (0-65535)")
    if not 0 < args.rate <= 1_000_000:
        raise UserError(f"--rate {args.rate:g} must be above 0 and at most 1000000")
    try:
        speed = parse_speed(args.speed)
    except ValueError as exc:
        raise UserError(f"--speed: {exc}") from None
    try:
        parse_faults(args.faults)
    except FaultSpecError as exc:
        raise UserError(f"--faults: {exc}") from None
    if args.replay is not None:
        spec = products.spec_for(symbols[0])
        assert spec is not None
        try:
            next(iter(load_replay(args.replay, tick_size=spec.tick)), None)
        except ReplayError as exc:
            raise UserError(f"--replay: {exc}") from None
    if args.commission < 0:
        raise UserError("--commission cannot be negative")
    return GatewayConfig(
        host=args.host,
        port=args.port,
        symbols=symbols,
        seed=args.seed,
        replay=args.replay,
        speed=speed,
        rate=args.rate,
        account=args.account,
        master_client_id=args.master_client_id,
        faults=args.faults,
        commission=args.commission,
    )


async def serve(config: GatewayConfig) -> None:
    gateway = FakeGateway(config)
    try:
        host, port = await gateway.start()
    except OSError as exc:
        raise UserError(
            f"cannot listen on {config.host}:{config.port}: {exc.strerror or exc}"
        ) from None
    print(f"listening on {host}:{port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await gateway.stop()


def run(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    try:
        asyncio.run(serve(config))
    except KeyboardInterrupt:
        pass
    print("gateway stopped", file=sys.stderr)
    return 0
