"""``tradeterm serve [SYMBOL]``: the trading screen in a web browser, for when SSH is not at hand.

textual-serve runs a small web server; each browser tab that opens the page starts its own
``tradeterm SYMBOL ...`` process (the same screen, drawn by xterm.js in the page) and ends it
when the tab closes. The server listens on 127.0.0.1 unless ``--host`` says otherwise (then
with a warning: anyone who can reach the port and has the URL gets the screen). Every request,
the page, its files and its websocket, needs the access token printed with the URL (a new
random one each start): the page's request carries it in the URL and gets it back as a
same-site cookie for the rest; without it the answer is 403. The token never reaches the log
(``logs.hide``), and the page loads nothing from any other host (:func:`own_page`).

``--watch-only`` serves a screen that trades nothing (``tradeterm SYMBOL --watch-only``):
every tab connects with its market's watch client id (never the trading screen's), writes no
journal, and its broker refuses every order message, so any number of tabs (up to five per
market) can watch beside the trading instance. Its ``--ib-host`` and ``--ib-port`` are the
gateway's (``--host`` and ``--port`` are the web server's here).
"""

from __future__ import annotations

import argparse
import ipaddress
import re
import secrets
import shlex
import socket
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from tradeterm.cli.errors import UserError
from tradeterm.cli.options import load, whole_arg
from tradeterm.config import Settings
from tradeterm.paths import log_name

if TYPE_CHECKING:
    from aiohttp import web

TOKEN_COOKIE = "tradeterm_token"
DEFAULT_PORT = 8000
# the page and everything it loads come from this server alone (a loopback tool asks nothing
# of anyone else); inline: textual-serve's page has its script and style in the HTML
PAGE_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'"
)
# a link of the page to another host (textual-serve's asks Google for its font)
ELSEWHERE = re.compile(r"""<link\b[^>]*?\bhref=["'](?:https?:)?//(?P<host>[^/"']+)[^>]*>""",
                       re.IGNORECASE)  # fmt: skip
# the same font from textual-serve's own files
LOCAL_FONT = (
    '<style>@font-face { font-family: "Roboto Mono"; '
    'src: url("/static/fonts/RobotoMono-VariableFont_wght.ttf"); }</style>'
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("symbol", nargs="?", metavar="SYMBOL", help="root symbol (default ES)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address the web server listens on (default 127.0.0.1; any "
                        "other is reachable from elsewhere: a warning is printed)")  # fmt: skip
    parser.add_argument("--port", type=whole_arg, default=DEFAULT_PORT,
                        help=f"web server port (default {DEFAULT_PORT})")  # fmt: skip
    parser.add_argument("--watch-only", action="store_true", dest="watch_only",
                        help="a screen that trades nothing: no order, cancel, flatten, arm, "
                        "kill switch or strategy key (its own client id, no journal)")  # fmt: skip
    group = parser.add_argument_group("the screen's configuration (overrides file and environment)")
    group.add_argument("--config", metavar="FILE", type=_absolute, help="TOML config file to use")
    modes = group.add_mutually_exclusive_group()
    for mode in ("sim", "shadow", "paper", "live"):
        modes.add_argument(f"--{mode}", dest="mode", action="store_const", const=mode,
                           help=f"{mode.upper()} mode (as tradeterm --{mode})")  # fmt: skip
    group.add_argument("--ib-host", dest="ib_host", metavar="HOST", help="IB Gateway / TWS host")
    group.add_argument("--ib-port", dest="ib_port", type=whole_arg, metavar="PORT",
                       help="IB Gateway / TWS API port (SIM: a running tradeterm gateway's)")  # fmt: skip
    group.add_argument("--client-id", type=whole_arg, dest="client_id",
                       help="API client id (default: the market's own; watch-only: its watch id)")  # fmt: skip
    group.add_argument("--theme", help="colour theme name")


def _absolute(text: str) -> Any:
    from pathlib import Path

    return Path(text).absolute()  # each tab's process is started from the server's directory


def screen_argv(args: argparse.Namespace) -> list[str]:
    """The command line of the screen each tab starts: this Python, this tradeterm, the same
    market and configuration flags (the gateway's host and port as the screen names them)."""
    argv = [sys.executable, "-m", "tradeterm.cli"]
    if args.symbol:
        argv.append(args.symbol)
    for flag, value in (("--config", args.config), ("--host", args.ib_host),
                        ("--port", args.ib_port), ("--client-id", args.client_id),
                        ("--theme", args.theme)):  # fmt: skip
        if value is not None:
            argv += [flag, str(value)]
    if args.mode:
        argv.append(f"--{args.mode}")
    if args.watch_only:
        argv.append("--watch-only")
    return argv


def _settings(args: argparse.Namespace) -> Settings:
    """What each tab's screen will run with, checked here: bad input is one line before
    anything listens."""
    from tradeterm.cli import screen

    screen_args = argparse.Namespace(
        config=args.config, mode=args.mode, host=args.ib_host, port=args.ib_port,
        client_id=args.client_id, theme=args.theme, symbol=args.symbol,
    )  # fmt: skip
    settings = load(screen_args).settings
    screen.check_screen(settings)
    if args.watch_only:
        screen.check_watch_only(settings, None)
    return settings


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def command(args: argparse.Namespace) -> int:
    from tradeterm import logs

    if not 0 < args.port < 65536:
        raise UserError(f"--port must be 1-65535, got {args.port}")
    settings = _settings(args)
    logs.setup_logging(settings.logging, log_name("serve", settings.symbol, settings.mode))
    token = secrets.token_urlsafe(24)
    logs.hide({token})  # aiohttp logs each request's line and Referer: the token is in both
    what = f"{settings.symbol} in {settings.mode.upper()}" + (
        " (watch-only)" if args.watch_only else ""
    )
    server = build_server(shlex.join(screen_argv(args)), args.host, args.port, token, what)
    if not is_loopback(args.host):
        print(f"tradeterm: warning: serving on {args.host}, not on this machine alone: anyone "
              "who can reach it and has the URL gets the screen", file=sys.stderr)  # fmt: skip
    host = socket.gethostname() if args.host in ("0.0.0.0", "::") else args.host  # every address
    host = f"[{host}]" if ":" in host else host
    print(f"tradeterm serve: {what} at http://{host}:{args.port}/?token={token}", flush=True)
    print("each browser tab starts its own screen; Ctrl+C stops the server", flush=True)
    try:
        server.serve()
    except OSError as exc:
        raise UserError(
            f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}"
        ) from None
    return 0


def own_page(html: str, host: str) -> str:
    """textual-serve's page with nothing loaded from anywhere but ``host`` (this server)."""
    html = ELSEWHERE.sub(lambda link: link[0] if link["host"] == host else "", html)
    return html.replace("</head>", LOCAL_FONT + "</head>", 1)


def build_server(command: str, host: str, port: int, token: str, title: str) -> Any:
    """textual-serve's server for ``command``, every request checked for ``token``."""
    from aiohttp import web
    from textual_serve.server import Server

    Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

    @web.middleware
    async def require_token(request: web.Request, handler: Handler) -> web.StreamResponse:
        given = request.query.get("token") or request.cookies.get(TOKEN_COOKIE) or ""
        if not secrets.compare_digest(given.encode(), token.encode()):
            raise web.HTTPForbidden(text="tradeterm serve: this address needs the access "
                                    "token printed when the server started\n")  # fmt: skip
        response = await handler(request)
        if "token" in request.query and not response.prepared:  # the page's other requests
            response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="Strict")
        return response

    class TokenServer(Server):
        """textual-serve's Server (aiohttp) with the token check as a middleware, run before
        every route (page, static files, websocket, downloads), the page's own URLs
        (static files, websocket) taken from the address the browser used, and the page
        loading nothing from elsewhere (:func:`own_page`, a CSP saying so, no Referer)."""

        async def _make_app(self) -> web.Application:
            app = await super()._make_app()
            app.middlewares.append(require_token)
            return app

        async def handle_index(self, request: web.Request) -> Any:
            self.public_url = f"{request.scheme}://{request.host}"  # read before any await
            response = await super().handle_index(request)
            assert isinstance(response, web.Response)  # aiohttp_jinja2's rendered page
            response.text = own_page(response.text or "", request.host)
            response.headers["Content-Security-Policy"] = PAGE_POLICY
            response.headers["Referrer-Policy"] = "no-referrer"  # its URL holds the token
            return response

        def initialize_logging(self) -> None:
            pass  # tradeterm's own log file (setup_logging), never the terminal

        async def on_startup(self, app: web.Application) -> None:
            pass  # the command prints the URL with its token

    return TokenServer(command, host=host, port=port, title=f"tradeterm {title}")
