"""Inputs the fuzz tests share: junk text of every kind, and numbers as a user might mistype
them (the right shape, the wrong shape, too big, not finite, another script's digits)."""

from __future__ import annotations

from hypothesis import strategies as st

# Any character a str can hold and a terminal or a file can carry (surrogates cannot be
# encoded), control characters, line separators and other scripts included.
CHARS = st.characters(exclude_categories=["Cs"])
JUNK = st.text(CHARS, max_size=12)
LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"  # what str.splitlines() splits on

ODD_NUMBERS = (
    "", "0", "-0", "+0", "00", "0.0", "-1", "+1", "-5000.25", "1.", ".5", "5000.", "5000.0000001",
    "0.0001", "4999.999999999999999999999999999999", "1" + "0" * 30, "9" * 5000, "1e3", "1E3",
    "5_000", "1,000", "0x10", "nan", "NaN", "-nan", "snan", "inf", "-inf", "Infinity",
    "\u0663", "\uff13", "\u00b2", "\u0967\u0966", "5000\u00a0", "\u2212" + "1", "1/2", "½",
)  # fmt: skip


def numbers() -> st.SearchStrategy[str]:
    """Number-like text: valid ones, near misses and plain junk."""
    return st.one_of(
        st.integers(1, 3).map(str),
        st.integers(-(10**6), 10**6).map(str),
        st.integers(min_value=10**15).map(str),
        st.decimals("4980", "5020", places=2).map(str),  # on and off the tick, near the market
        st.from_regex(r"[+-]?[0-9]{1,30}(\.[0-9]{0,30})?", fullmatch=True),
        st.floats().map(str),  # "nan", "inf", "1e+300", "-0.0"
        st.sampled_from(ODD_NUMBERS),
        JUNK,
    )


def mangled_case(word: str) -> st.SearchStrategy[str]:
    """``word`` as typed: lower, upper, capitalised, or mixed."""
    return st.lists(st.booleans(), min_size=len(word), max_size=len(word)).map(
        lambda ups: "".join(c.upper() if up else c for c, up in zip(word, ups, strict=True))
    )
