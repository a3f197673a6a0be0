"""JSON-lines logging with rotation, and nothing on the terminal."""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path

import pytest

from tradeterm.config import LoggingConfig
from tradeterm.logs import hide, setup_logging


def test_json_lines_with_extra_fields(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = setup_logging(LoggingConfig(dir=tmp_path), "tradeterm-ES")
    assert path == tmp_path / "tradeterm-ES.jsonl"
    logging.getLogger("tradeterm.test").info("order sent %s", 42, extra={"order_id": 7})
    logging.getLogger("ib_async.client").warning("peer closed")
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn("deprecated thing", DeprecationWarning, stacklevel=1)
    for handler in logging.getLogger().handlers:
        handler.flush()
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert records[0]["msg"] == "order sent 42" and records[0]["order_id"] == 7
    assert records[0]["level"] == "INFO" and records[0]["logger"] == "tradeterm.test"
    assert records[0]["ts"].endswith("+00:00")
    assert records[1]["logger"] == "ib_async.client"
    assert "deprecated thing" in records[2]["msg"]
    out, err = capsys.readouterr()
    assert out == "" and err == ""  # nothing reaches the terminal
    assert path.stat().st_mode & 0o777 == 0o600


def test_rotation_by_size(tmp_path: Path) -> None:
    path = setup_logging(LoggingConfig(dir=tmp_path, max_bytes=10_000, backup_count=3), "g")
    log = logging.getLogger("tradeterm.rot")
    for i in range(2_000):
        log.info("line %d %s", i, "x" * 50)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["g.jsonl", "g.jsonl.1", "g.jsonl.2", "g.jsonl.3"]
    assert all((tmp_path / f).stat().st_size <= 10_200 for f in files)
    assert path.exists()


def test_a_log_dir_that_cannot_be_created_is_one_clear_line_and_exit_2(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    from tradeterm.cli.main import main

    (tmp_path / "a-file").write_text("")
    cfg = tmp_path / "t.toml"
    cfg.write_text(f'[logging]\ndir = "{tmp_path / "a-file" / "logs"}"\n')
    logs = tmp_path / "a-file" / "logs"
    for argv, name in (  # one file per market and mode: ES SIM and ES PAPER never share one
        (["console", "--for", "1"], "console-ES-sim"), (["gateway"], "gateway"),
        ([], "tradeterm-ES-sim"), (["console", "--for", "1", "--paper"], "console-ES-paper"),
        (["--paper"], "tradeterm-ES-paper"), (["NQ", "--paper"], "tradeterm-NQ-paper"),
    ):  # fmt: skip
        assert main([*argv, "--config", str(cfg)]) == 2
        out, err = capfd.readouterr()
        assert out == ""
        assert err.splitlines() == [
            f"tradeterm: cannot write the log file {logs / name}.jsonl: Not a directory; "
            "set logging.dir to a writable directory"
        ]


def test_an_unexpected_error_before_logging_is_set_up_prints_no_traceback(
    capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import tradeterm.cli.main as cli

    def boom(args: object) -> int:
        raise RuntimeError("disk on fire")

    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])  # as in a real process: nothing set up yet
    monkeypatch.setattr(cli, "_cmd_locate", boom)
    assert cli.main(["locate", "data"]) == 1
    err = capfd.readouterr().err
    assert err == "tradeterm: unexpected error: RuntimeError: disk on fire\n"


def test_a_hidden_secret_never_reaches_the_file_from_any_logger(tmp_path: Path) -> None:
    """What ``hide`` was given is blanked wherever a record carries it: its message, its
    arguments, its ``extra=`` fields (aiohttp's access log: the request line, the headers)
    and its traceback, whatever logger made it."""
    path = setup_logging(LoggingConfig(dir=tmp_path), "serve-ES")
    secret = "kje1DL3tLyIdXzww6doaib5Ja4UvjKp9"
    hide({secret})
    logging.getLogger("aiohttp.access").info(
        '"GET /?token=%s HTTP/1.1" 200', secret,
        extra={"first_request_line": f"GET /?token={secret} HTTP/1.1",
               "request_header": {"Referer": f"http://127.0.0.1:8000/?token={secret}"}},
    )  # fmt: skip
    try:
        raise OSError(f"bad request /ws?token={secret}")
    except OSError:
        logging.getLogger("textual-serve").exception("Bad Request")
    for handler in logging.getLogger().handlers:
        handler.flush()
    logged = path.read_text()
    records = [json.loads(line) for line in logged.splitlines()]
    assert records[0]["msg"] == '"GET /?token=*** HTTP/1.1" 200'
    assert records[0]["request_header"] == {"Referer": "http://127.0.0.1:8000/?token=***"}
    assert "OSError: bad request /ws?token=***" in records[1]["msg"]
    assert secret not in logged
