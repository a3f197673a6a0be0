"""Configuration: precedence of the four sources and every error path."""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import pytest

from tradeterm.config import ConfigError, ConnectionConfig, load_settings


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_any_file() -> None:
    loaded = load_settings()
    s = loaded.settings
    assert not loaded.file_found
    assert s.mode == "sim" and s.symbol == "ES"
    assert s.port() is None  # SIM with no port: the embedded gateway
    assert s.market().default_qty == 1
    assert s.logging.max_bytes == 100_000_000 and s.logging.backup_count == 10
    assert loaded.origin("connection.port") == "default"


def test_default_file_is_found_in_the_xdg_config_dir(isolated_user_dirs: Path) -> None:
    path = write(isolated_user_dirs / "config" / "tradeterm" / "tradeterm.toml", 'mode = "paper"\n')
    loaded = load_settings()
    assert loaded.file_found and loaded.config_file == path
    assert loaded.settings.mode == "paper"
    assert loaded.settings.port() == 4002
    assert loaded.origin("mode") == f"file {path}"


def test_precedence_default_file_env_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = write(
        tmp_path / "t.toml",
        """
        mode = "paper"
        [connection]
        host = "10.9.9.9"
        port = 7497
        client_id = 3
        """,
    )
    monkeypatch.setenv("TRADETERM_CONNECTION__PORT", "4002")
    monkeypatch.setenv("TRADETERM_CONNECTION__CLIENT_ID", "5")
    loaded = load_settings(cfg, {"connection.client_id": 9})
    s = loaded.settings
    assert s.connection.host == "10.9.9.9"  # file beats default
    assert s.connection.port == 4002  # env beats file
    assert s.connection.client_id == 9  # command line beats env
    assert s.connection.connect_timeout_s == 10.0  # default
    assert loaded.origin("connection.host") == f"file {cfg}"
    assert loaded.origin("connection.port") == "env TRADETERM_CONNECTION__PORT"
    assert loaded.origin("connection.client_id") == "command line"
    assert loaded.origin("connection.connect_timeout_s") == "default"


def test_per_market_sections_are_case_insensitive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = write(
        tmp_path / "t.toml",
        """
        [markets.es]
        default_qty = 2
        [markets.es.bracket]
        enabled = true
        stop_ticks = 6
        [markets.NQ.risk]
        daily_loss_limit = 2500.50
        """,
    )
    monkeypatch.setenv("TRADETERM_MARKETS__ES__RISK__MAX_POSITION", "4")
    s = load_settings(cfg).settings
    es = s.market("es")
    assert es.default_qty == 2 and es.bracket.enabled and es.bracket.stop_ticks == 6
    assert es.bracket.target_ticks == 16
    assert es.risk.max_position == 4
    assert s.market("NQ").risk.daily_loss_limit == Decimal("2500.50")
    assert s.market("CL").default_qty == 1  # unconfigured market: defaults


def test_mode_ports() -> None:
    assert load_settings(None, {"mode": "live"}).settings.port() == 4001
    assert load_settings(None, {"mode": "paper"}).settings.port() == 4002
    assert load_settings(None, {"mode": "live", "connection.port": 7496}).settings.port() == 7496


def error_of(*args: object, **kwargs: object) -> str:
    with pytest.raises(ConfigError) as info:
        load_settings(*args, **kwargs)  # type: ignore[arg-type]
    return str(info.value)


def test_bad_type_names_key_value_origin_and_expectation(tmp_path: Path) -> None:
    cfg = write(tmp_path / "t.toml", '[connection]\nport = "abc"\n')
    msg = error_of(cfg)
    assert "connection.port = 'abc'" in msg
    assert f"file {cfg}" in msg
    assert "expected a valid integer" in msg


def test_out_of_range_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRADETERM_UI__PAINT_HZ", "500")
    msg = error_of()
    assert "ui.paint_hz = '500'" in msg
    assert "env TRADETERM_UI__PAINT_HZ" in msg
    assert "less than or equal to 60" in msg


def test_out_of_range_from_cli() -> None:
    msg = error_of(None, {"connection.port": 70000})
    assert "connection.port = 70000 (command line): expected less than or equal to 65535" in msg


def test_bad_choice_lists_the_choices() -> None:
    msg = error_of(None, {"mode": "yolo"})
    assert "mode = 'yolo'" in msg and "'sim', 'shadow', 'paper', 'live' or 'replay'" in msg


def test_bad_symbol() -> None:
    assert "a root symbol such as ES" in error_of(None, {"symbol": "E S!"})


def test_unknown_key_in_file_is_reported_with_a_suggestion(tmp_path: Path) -> None:
    cfg = write(tmp_path / "t.toml", "[markets.ES.risk]\ndaily_loss_limt = 500\n")
    msg = error_of(cfg)
    assert "unknown key 'markets.ES.risk.daily_loss_limt'" in msg
    assert "did you mean 'daily_loss_limit'" in msg


def test_unknown_section_in_file(tmp_path: Path) -> None:
    msg = error_of(write(tmp_path / "t.toml", "[conection]\nport = 1\n"))
    assert "unknown key 'conection'" in msg and "did you mean 'connection'" in msg


def test_unknown_env_variable_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRADETERM_CONECTION__PORT", "4002")
    msg = error_of()
    assert "TRADETERM_CONECTION__PORT" in msg and "did you mean 'connection'" in msg


def test_unknown_nested_env_variable_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRADETERM_CONNECTION__PROT", "4002")
    assert "unknown key 'connection.prot'" in error_of()


def test_several_problems_are_all_listed(tmp_path: Path) -> None:
    cfg = write(tmp_path / "t.toml", '[connection]\nport = 0\nclient_id = "x"\n')
    msg = error_of(cfg)
    assert "connection.port = 0" in msg and "connection.client_id = 'x'" in msg


def test_missing_explicit_file(tmp_path: Path) -> None:
    assert "does not exist" in error_of(tmp_path / "nope.toml")


def test_directory_instead_of_file(tmp_path: Path) -> None:
    assert "is a directory" in error_of(tmp_path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read any file")
def test_unreadable_file(tmp_path: Path) -> None:
    cfg = write(tmp_path / "t.toml", "mode = 'sim'\n")
    cfg.chmod(0)
    assert "cannot read config file" in error_of(cfg)


def test_unreadable_file_as_root_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = write(tmp_path / "t.toml", "mode = 'sim'\n")

    def deny(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", deny)
    msg = error_of(cfg)
    assert msg == f"cannot read config file {cfg}: Permission denied"


def test_invalid_toml_names_file_and_line(tmp_path: Path) -> None:
    cfg = write(tmp_path / "t.toml", "[connection]\nport = = 4\n")
    msg = error_of(cfg)
    assert str(cfg) in msg and "not valid TOML" in msg and "line 2" in msg


def test_non_utf8_file(tmp_path: Path) -> None:
    cfg = tmp_path / "t.toml"
    cfg.write_bytes(b"mode = '\xff'\n")
    assert "not UTF-8" in error_of(cfg)


def test_rows_cover_every_leaf_and_the_current_market() -> None:
    loaded = load_settings(None, {"symbol": "nq"})
    keys = {key for key, _, _ in loaded.rows()}
    assert loaded.settings.symbol == "NQ"
    assert {"connection.port", "markets.NQ.risk.max_position", "logging.max_bytes"} <= keys


def test_every_market_has_its_own_client_ids_for_screen_and_console() -> None:
    from tradeterm.config import DEFAULT_CLIENT_IDS
    from tradeterm.domain import CME_ROOTS

    assert set(DEFAULT_CLIENT_IDS) == set(CME_ROOTS)  # every known market has its row
    ids = [load_settings(None, {"symbol": root}).settings for root in CME_ROOTS]
    taken = [s.client_id(p) for s in ids for p in ("screen", "console")]
    assert len(set(taken)) == len(taken)  # ES and NQ, screen and console: none shares one
    assert min(taken) > 99  # clear of 0 (TWS) and of the small ids other API tools use
    es = load_settings(None, {"symbol": "ES"}).settings
    assert (es.client_id(), es.client_id("console")) == (110, 115)
    nq = load_settings(None, {"symbol": "NQ"}).settings
    assert (nq.client_id(), nq.client_id("console")) == (130, 135)


def test_a_configured_client_id_overrides_the_markets_own(monkeypatch: pytest.MonkeyPatch) -> None:
    s = load_settings(None, {"symbol": "NQ", "connection.client_id": 7}).settings
    assert s.client_id() == 7 and s.client_id("console") == 7
    monkeypatch.setenv("TRADETERM_CONNECTION__CLIENT_ID", "0")  # TWS's own id, if one insists
    assert load_settings(None, {"symbol": "CL"}).settings.client_id() == 0


def test_a_root_without_a_row_gets_a_stable_block_of_its_own() -> None:
    """The same on every run and machine: not Python's salted ``hash``."""
    import subprocess
    import sys

    from tradeterm.config import DEFAULT_CLIENT_IDS, default_client_id

    code = "from tradeterm.config import default_client_id as d; print(d('ZF'), d('ZF', 'console'))"
    seen = {
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                       env={**os.environ, "PYTHONHASHSEED": seed}).stdout
        for seed in ("1", "2")
    }  # fmt: skip
    assert seen == {f"{default_client_id('ZF')} {default_client_id('ZF', 'console')}\n"}
    zf = default_client_id("ZF")
    assert zf % 10 == 0 and 1_000 <= zf < 101_000 and zf not in DEFAULT_CLIENT_IDS.values()
    assert default_client_id("ZF", "console") == zf + 5


def test_config_show_names_the_markets_own_client_id() -> None:
    rows = {k: (v, o) for k, v, o in load_settings(None, {"symbol": "gc"}).rows()}
    assert rows["connection.client_id"] == (180, "default for GC's screen (its console: 185)")
    rows = {k: (v, o) for k, v, o in load_settings(None, {"connection.client_id": 3}).rows()}
    assert rows["connection.client_id"] == (3, "command line")


def test_quantity_presets_come_from_the_risk_limits() -> None:
    def presets(**cli: object) -> list[int]:
        return load_settings(None, cli).settings.market().presets()

    assert presets() == [1, 2]  # 1, 2, 3, 5, 10 up to the default max_order_qty 2
    assert presets(**{"markets.ES.risk.max_order_qty": 5, "markets.ES.risk.max_position": 5}) == [
        1, 2, 3, 5,
    ]  # fmt: skip
    # max_position below max_order_qty: an order above it could only open past the limit
    assert presets(**{"markets.ES.risk.max_order_qty": 5, "markets.ES.risk.max_position": 3}) == [
        1, 2, 3,
    ]  # fmt: skip
    assert presets(**{"markets.ES.quantities": [2, 1]}) == [2, 1]  # as given, in that order


def test_a_quantity_the_risk_limits_always_refuse_is_a_config_error(tmp_path: Path) -> None:
    cfg = write(tmp_path / "t.toml", "[markets.ES]\nquantities = [1, 2, 5, 10]\n")
    assert error_of(cfg) == (
        "invalid configuration:\n"
        f"  markets.ES.quantities = [1, 2, 5, 10] (file {cfg}): expected each at most "
        "risk.max_order_qty = 2: 5, 10 would always be refused"
    )
    assert error_of(None, {"markets.ES.default_qty": 2, "markets.ES.risk.max_position": 1}) == (
        "invalid configuration:\n"
        "  markets.ES.default_qty = 2 (command line): expected at most risk.max_position = 1: "
        "every order of 2 would be refused"
    )


def test_a_watch_only_screen_never_takes_a_trading_id() -> None:
    """Each market's watch slot (``--watch-only``, a browser tab of ``tradeterm serve``) and
    its auto_client_id's next four ids stay clear of every screen's and console's block."""
    from tradeterm.broker.ib.connection import AUTO_CLIENT_IDS
    from tradeterm.config import default_client_id
    from tradeterm.domain import CME_ROOTS

    roots = [*CME_ROOTS, "ZF", "HG", "M6E"]
    trading = {default_client_id(r, p) + n for r in roots for p in ("screen", "console")
               for n in range(AUTO_CLIENT_IDS)}  # fmt: skip
    watching = {default_client_id(r, "watch") + n for r in roots
                for n in range(AUTO_CLIENT_IDS)}  # fmt: skip
    assert not trading & watching
    assert len(watching) == len(roots) * AUTO_CLIENT_IDS  # no two markets share one
    es = load_settings(None, {"symbol": "ES"}).settings
    assert es.client_id("watch") == 200_110
    mine = load_settings(None, {"symbol": "ES", "connection.client_id": 7}).settings
    assert mine.client_id("watch") == 200_007 and mine.client_id() == 7


def test_the_backoff_doubles_with_jitter_between_the_bounds() -> None:
    """The one policy of a reconnect and of a start waiting for the gateway."""
    conn = ConnectionConfig(reconnect_min_s=1.0, reconnect_max_s=10.0)
    for attempt, base in [(0, 1.0), (1, 2.0), (2, 4.0), (3, 8.0)]:
        for _ in range(50):
            delay = conn.backoff_s(attempt)
            assert max(1.0, base * 0.8) <= delay <= min(10.0, base * 1.2)
    assert all(8.0 <= conn.backoff_s(attempt) <= 10.0 for attempt in range(4, 40))


def test_the_backoff_stays_bounded_however_long_the_gateway_stays_away() -> None:
    """Attempt 1100 (a gateway away for a long weekend at 60 s apart): 2 ** 1100 as a float
    overflowed, which would have ended the reconnect task and a waiting start."""
    conn = ConnectionConfig(reconnect_min_s=1.0, reconnect_max_s=60.0)
    assert all(48.0 <= conn.backoff_s(attempt) <= 60.0 for attempt in (1100, 10**6))
