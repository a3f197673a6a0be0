"""``tradeterm serve`` in a real headless Chromium (Debian's chromium and chromedriver, driven
by selenium): the page with the token shows the screen, every address without it is 403, the
ladder shows prices, and in watch-only a trading key sends nothing to the gateway.

The screen is drawn by xterm.js (textual-serve's page) on a canvas: its text is read from
xterm's own buffer (``terminal.buffer.active``). The page keeps its terminal in a local
variable, so a script run before the page's own (``Page.addScriptToEvaluateOnNewDocument``)
catches the object that assigns ``fitAddon`` (textual-serve's terminal holder) as
``window.__tt``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tradeterm.control.place import Claim, control_dir, instance_name
from tradeterm.paths import log_dir, log_file
from tradeterm.sim.gateway.fake_gateway import FakeGateway, GatewayConfig

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="Debian's chromium and chromium-driver are not installed (apt-get install chromium "
    "chromium-driver)",
)
GUARD_S = 60.0  # only reached when something hangs

CATCH_TERMINAL = """
Object.defineProperty(Object.prototype, "fitAddon", {
  configurable: true,
  set(value) {
    window.__tt = this;
    Object.defineProperty(this, "fitAddon", {value, writable: true, configurable: true});
  },
});
"""
READ_ROWS = """
const t = window.__tt && window.__tt.terminal;
if (!t) return null;
const b = t.buffer.active, rows = [];
for (let i = 0; i < t.rows; i++) {
  const line = b.getLine(b.viewportY + i);
  rows.push(line ? line.translateToString(true) : "");
}
return rows.join("\\n");
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Gateway:
    """A fake gateway on its own loop in a thread: the test reads every order it received."""

    def __init__(self) -> None:
        self.gateway = FakeGateway(GatewayConfig(port=0, seed=3))
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.gateway.start(), self._loop).result(10)
        self.port = self.gateway.config.port

    def orders(self) -> int:
        return asyncio.run_coroutine_threadsafe(self._count(), self._loop).result(10)

    async def _count(self) -> int:
        return len(self.gateway.oms.orders)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.gateway.stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    gw = Gateway()
    yield gw
    gw.stop()


def serve(*args: str) -> tuple[subprocess.Popen[str], str]:
    """``tradeterm serve ARGS`` on a free port; the process and the URL it printed."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tradeterm.cli", "serve", "--port", str(port), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = re.search(r"(http://\S+\?token=\S+)", line)
    if match is None:
        proc.kill()
        pytest.fail(f"no URL printed: {line!r} {proc.stderr.read() if proc.stderr else ''}")
    url = match.group(1)
    deadline = time.monotonic() + GUARD_S
    while time.monotonic() < deadline:  # listening?
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            break
        time.sleep(0.1)
    return proc, url


@contextlib.contextmanager
def served(*args: str) -> Iterator[str]:
    proc, url = serve(*args)
    try:
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGINT)  # the server and every tab's screen
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def status(url: str | urllib.request.Request) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.fixture
def browser() -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})  # its requests
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                "--window-size=1400,1000"):  # fmt: skip
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": CATCH_TERMINAL})
    try:
        yield driver
    finally:
        driver.quit()


def screen_text(driver: Any) -> str:
    return str(driver.execute_script(READ_ROWS) or "")


def wait_for(driver: Any, predicate: Callable[[str], bool], what: str) -> str:
    deadline = time.monotonic() + GUARD_S
    while time.monotonic() < deadline:
        text = screen_text(driver)
        if predicate(text):
            return text
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}; the page's terminal shows:\n{screen_text(driver)}")


def press(driver: Any, *keys: str) -> None:
    from selenium.webdriver.common.by import By

    field = driver.find_element(By.CSS_SELECTOR, ".xterm-helper-textarea")
    for key in keys:
        field.send_keys(key)
        time.sleep(0.2)  # a person's pace


def test_without_the_token_every_address_is_refused(gateway: Gateway) -> None:
    with served("ES", "--sim", "--ib-port", str(gateway.port), "--watch-only") as url:
        base = url.split("?")[0]
        for path in ("", "ws", "static/js/textual.js", "download/x"):
            assert status(base + path) == 403, path
            assert status(f"{base}{path}?token=wrong") == 403, path
        assert status(url) == 200


def test_the_watch_only_page_shows_the_ladder_and_trades_nothing(
    gateway: Gateway, browser: Any
) -> None:
    with served("ES", "--sim", "--ib-port", str(gateway.port), "--watch-only") as url:
        browser.get(url)
        price = re.compile(r"\b\d{4}\.\d{2}\b")  # ES prices on the ladder
        shown = wait_for(browser, lambda s: "IB OK" in s and len(price.findall(s)) >= 5,
                         "the ladder with prices, connected")  # fmt: skip
        assert "WATCH-ONLY" in shown and "ARMED" not in shown
        press(browser, "a", "b", "s", "B", "f", "r", "c")  # arm, buy, sell, join, flatten...
        from selenium.webdriver.common.action_chains import ActionChains
        from selenium.webdriver.common.keys import Keys

        ActionChains(browser).key_down(Keys.CONTROL).send_keys("k").key_up(Keys.CONTROL).perform()
        time.sleep(1.0)  # what a key would have sent has reached the gateway by now
        shown = screen_text(browser)
        assert gateway.orders() == 0
        assert "ARMED" not in shown and "KILL" not in shown.replace("tradeterm kill", "")
        assert "WATCH-ONLY" in shown


def test_the_token_never_reaches_the_log(gateway: Gateway, browser: Any) -> None:
    """aiohttp logs every request (its line, its Referer) and textual-serve every failure:
    the page, its files and websocket in a browser, and a bad websocket request, leave the
    log without the token (it is a password)."""
    with served("ES", "--sim", "--ib-port", str(gateway.port), "--watch-only") as url:
        token = url.split("token=")[1]
        browser.get(url)
        wait_for(browser, lambda s: "WATCH-ONLY" in s, "the screen")
        base = url.split("?")[0]
        for path in ("ws", "static/css/xterm.css", "nowhere"):  # not a websocket: an error
            request = urllib.request.Request(f"{base}{path}?token={token}",
                                             headers={"Referer": url})  # fmt: skip
            with contextlib.suppress(OSError):  # the websocket's answer: none
                status(request)
    logged = log_file("serve-ES-sim", log_dir()).read_text()
    assert "GET /?token=***" in logged  # the requests are there, the token is not
    assert token not in logged


def requested(driver: Any) -> set[str]:
    """Every URL the browser asked for so far (Chrome's network log)."""
    urls = set()
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.add(message["params"]["request"]["url"])
    return urls


def test_the_page_asks_nothing_of_any_other_host(gateway: Gateway, browser: Any) -> None:
    """A loopback tool makes no outside request: the page names no other host (textual-serve's
    asks Google for its font), the browser asks none, and the page says so (CSP), sending no
    Referer (the URL holds the token)."""
    with served("ES", "--sim", "--ib-port", str(gateway.port), "--watch-only") as url:
        host = urllib.parse.urlsplit(url).netloc
        with urllib.request.urlopen(url, timeout=10) as response:
            html = response.read().decode()
            headers = response.headers
        named = re.findall(r"""(?:href|src)="([^"]*)"|url\(["']?([^"')]*)""", html)
        hosts = {urllib.parse.urlsplit(a or b).netloc for a, b in named} - {""}
        assert hosts == {host}, hosts
        assert "default-src 'self'" in headers["Content-Security-Policy"]
        assert headers["Referrer-Policy"] == "no-referrer"
        browser.get(url)
        wait_for(browser, lambda s: "WATCH-ONLY" in s, "the screen")
        asked = {urllib.parse.urlsplit(u).netloc for u in requested(browser)} - {""}
        assert asked == {host}, asked


def test_a_tab_whose_screen_cannot_start_says_why(browser: Any) -> None:
    """ES SIM already runs: the tab's screen is refused (one instance per market and mode),
    and the page shows the reason, as a terminal would, until a key closes it."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    claim = Claim(control_dir(), instance_name("ES", "sim"))
    claim.acquire()  # this test process is the ES SIM instance
    try:
        with served("ES", "--sim") as url:
            browser.get(url)
            shown = wait_for(browser, lambda s: "already running" in s, "the reason")
            assert f"ES SIM is already running (pid {os.getpid()})" in shown
            press(browser, Keys.ENTER)
            deadline = time.monotonic() + GUARD_S
            while "-closed" not in browser.find_element(By.TAG_NAME, "body").get_attribute(
                "class"
            ):  # the session ends with the key
                assert time.monotonic() < deadline, "the session did not end"
                time.sleep(0.2)
    finally:
        claim.release()


def test_the_page_with_the_token_shows_the_trading_screen(browser: Any) -> None:
    """Without --watch-only a tab is the trading screen (SIM: its own embedded gateway)."""
    with served("ES", "--sim") as url:
        browser.get(url)
        shown = wait_for(browser, lambda s: "IB OK" in s and "POSITION" in s, "the ladder")
        assert "DISARMED" in shown and "WATCH-ONLY" not in shown
