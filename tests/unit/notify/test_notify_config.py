"""The ``[notify]`` section: URLs from the file or the environment, a URL apprise cannot use
refused at start in one line (exit 2), and a URL's secrets never shown (config show, config
errors) nor logged (the log filter)."""

from __future__ import annotations

import contextlib
import io
import logging
from pathlib import Path

import pytest

from tradeterm.cli.main import main
from tradeterm.config import ConfigError, load_settings, redacted_url, url_secrets
from tradeterm.notify.channel import REDACT

SECRET = "tok_9Fq2SECRET"


@pytest.mark.parametrize(("url", "shown"), [
    (f"json://user:{SECRET}@127.0.0.1:8080/hook?x={SECRET}", "json://127.0.0.1:8080"),
    (f"ntfy://ntfy.sh/{SECRET}", "ntfy://ntfy.sh"),
    (f"ntfy://{SECRET}", "ntfy://…"),  # a topic alone: on ntfy.sh, and it is the secret
    (f"tgram://123456:{SECRET}/-1001", "tgram://…"),  # the bot token is the host
    (f"discord://4242/{SECRET}", "discord://…"),
    (f"slack://T1/B2/{SECRET}/#fills", "slack://…"),
    (f"mailto://me:{SECRET}@gmail.com?to=desk@example.com", "mailto://gmail.com"),
    ("not a url", "…"),
])  # fmt: skip
def test_a_url_is_shown_by_scheme_and_host_only(url: str, shown: str) -> None:
    assert redacted_url(url) == shown
    assert SECRET not in redacted_url(url)
    if shown != "…":
        assert any(SECRET in s for s in url_secrets(url))


def test_urls_from_the_environment_separated_by_spaces(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRADETERM_NOTIFY__URLS", f"ntfy://ntfy.sh/{SECRET}  json://127.0.0.1/x")
    monkeypatch.setenv("TRADETERM_NOTIFY__EVENTS", '["fill", "kill"]')
    notify = load_settings().settings.notify
    assert notify.urls == [f"ntfy://ntfy.sh/{SECRET}", "json://127.0.0.1/x"]
    assert notify.events == ["fill", "kill"]


def test_a_url_apprise_cannot_use_is_one_line_without_its_secret(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TRADETERM_NOTIFY__URLS", f"ntfy://ntfy.sh/x nosuch://{SECRET}@host/y")
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert "channel 2 (nosuch://…) is not one apprise can send to" in str(err.value)
    assert SECRET not in str(err.value)
    assert main(["config", "show"]) == 2
    printed = capsys.readouterr()
    assert "channel 2" in printed.err and SECRET not in printed.err + printed.out


def test_a_bad_value_under_urls_is_not_echoed(tmp_path: Path) -> None:
    path = tmp_path / "t.toml"
    path.write_text(f'[notify]\nurls = ["json://u:{SECRET}@h.example/x", 3]\n')
    with pytest.raises(ConfigError) as err:
        load_settings(path)
    assert "notify.urls.1 = (not shown: it holds secrets)" in str(err.value)
    assert SECRET not in str(err.value)


def test_config_show_prints_urls_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRADETERM_NOTIFY__URLS", f"json://u:{SECRET}@127.0.0.1:9/{SECRET}")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["config", "show"]) == 0
    assert 'notify.urls = ["json://127.0.0.1:9"]' in out.getvalue()
    assert SECRET not in out.getvalue()


def test_the_log_filter_blanks_secrets_out_of_library_lines(
    caplog: pytest.LogCaptureFixture,
) -> None:
    REDACT.hide(url_secrets(f"discord://4242/{SECRET}"))
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("urllib3.connectionpool").debug(
            '"POST /api/webhooks/4242/%s HTTP/1.1" 500', SECRET
        )
        try:
            raise OSError(f"cannot reach https://discord.com/api/webhooks/4242/{SECRET}")
        except OSError:
            logging.getLogger("apprise").exception("Discord send failed")
    assert "POST /api/webhooks/***/*** HTTP/1.1" in caplog.text
    assert SECRET not in caplog.text


def test_the_readmes_example_is_a_valid_notify_section(tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Notifications", 1)[1]
    example = section.split("```toml\n", 1)[1].split("```", 1)[0]
    notify = load_settings(write_toml(tmp_path, example)).settings.notify
    assert [url.split("://")[0] for url in notify.urls] == [
        "ntfys", "ntfys", "discord", "slack", "tgram", "mailtos", "jsons",
    ]  # fmt: skip


def write_toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "tradeterm.toml"
    path.write_text(text, encoding="utf-8")
    return path
