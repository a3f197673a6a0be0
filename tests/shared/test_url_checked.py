"""``[shared] url``: a URL that cannot be read is refused when the settings load, in one line
naming the key; what is shown of a URL never raises; an empty value means none."""

from __future__ import annotations

from pathlib import Path

import pytest

from tradeterm.cli.main import main
from tradeterm.config import ConfigError, load_settings
from tradeterm.shared.target import Target

BAD = ["postgresql://u:p@[::1/db", "postgresql://u:p@h:99999/db", "postgresql://u:pa/ss@h/db"]


@pytest.mark.parametrize("url", BAD)
def test_a_url_that_cannot_be_read_is_refused_naming_the_key(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRADETERM_SHARED__URL", url)
    with pytest.raises(ConfigError) as refused:
        load_settings()
    said = str(refused.value)
    assert "shared.url" in said and "cannot be read" in said
    assert "pa/ss" not in said and "'pa'" not in said  # no part of the password


@pytest.mark.parametrize(
    ("url", "why"),
    [("postgresql://u:pa ss@h/db", "it holds a space (write %20)"),
     ("postgresql://u:pa%2@h/db", "a % not followed by two hex digits (write %25 for a %)")],
)  # fmt: skip
def test_a_url_libpq_cannot_read_is_refused_at_load_without_its_password(
    url: str, why: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A trial's URLs with a space or a stray % in the password loaded, and the instance then
    showed `DB down ?` retrying for ever; libpq's own words quote the password."""
    monkeypatch.setenv("TRADETERM_SHARED__URL", url)
    with pytest.raises(ConfigError) as refused:
        load_settings()
    said = str(refused.value)
    assert "shared.url" in said and said.endswith(why), said
    assert "pa ss" not in said and "pa%2" not in said


@pytest.mark.parametrize("url", BAD)
def test_what_is_shown_of_a_url_never_raises(url: str) -> None:
    assert "p@" not in Target(url).shown and "/ss" not in Target(url).shown


def test_shared_migrate_with_such_a_url_says_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["shared", "migrate", "--url", BAD[0]]) != 0
    said = capsys.readouterr()
    assert "unexpected error" not in said.out + said.err
    assert said.out.startswith("cannot migrate postgresql://")


def test_an_empty_url_or_instance_means_none(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TRADETERM_SHARED__URL", "")
    assert load_settings().settings.shared.url is None  # no shipping
    config = tmp_path / "tradeterm.toml"
    config.write_text('[shared]\nurl = ""\ninstance = ""\n')
    shared = load_settings(config).settings.shared
    assert shared.url is None and shared.instance is None  # the default name
