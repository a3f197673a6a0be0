"""The --faults spec parser."""

from __future__ import annotations

import pytest

from tradeterm.sim.gateway.faults import Fault, FaultSpecError, parse_duration, parse_faults


def test_full_spec_is_parsed_and_sorted_by_time() -> None:
    faults = parse_faults(
        "restart@90:4, farm@20:5,lost@40:3:1101,reject@60,delay:300ms:10s,drop@1m"
    )
    assert faults == [
        Fault("delay", 0.0, 0.3, span_s=10.0),
        Fault("farm", 20.0, 5.0),
        Fault("lost", 40.0, 3.0, "1101"),
        Fault("reject", 60.0),
        Fault("drop", 60.0),
        Fault("restart", 90.0, 4.0),
    ]


def test_defaults() -> None:
    assert parse_faults("lost@5:2") == [Fault("lost", 5.0, 2.0, "1102")]
    assert parse_faults("restart@3") == [Fault("restart", 3.0, 2.0)]
    assert parse_faults("offline-fill") == [Fault("offline-fill", 0.0)]
    assert parse_faults("") == []


@pytest.mark.parametrize(
    ("text", "seconds"), [("5", 5.0), ("2.5s", 2.5), ("300ms", 0.3), ("2m", 120.0)]
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("explode@3", "unknown fault 'explode'"),
        ("farm@3", "farm takes 1 argument"),
        ("drop@3:4", "drop takes 0 argument"),
        ("lost@3:2:1100", "lost ends with 1101 or 1102"),
        ("stall@soon:2", "'soon' is not a duration"),
    ],
)
def test_errors_name_the_bad_part(spec: str, message: str) -> None:
    with pytest.raises(FaultSpecError, match=message):
        parse_faults(spec)
