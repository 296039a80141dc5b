"""Codes of PROTOCOL.md section 1: generation, parsing, check symbols."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contract import codes
from contract.codes import ALPHABET, CHECK_ALPHABET, CodeError, Kind

bodies = st.text(alphabet=ALPHABET, min_size=6, max_size=16)
kinds = st.sampled_from(list(Kind))


def make(kind: Kind, body: str) -> str:
    return str(codes.Code(kind, body))


def test_known_check_symbols() -> None:
    # Worked by hand: value("000001") = 1 -> "1"; value("00000Z") = 31 -> "Z"; 32 -> "*".
    assert codes.check_symbol("000001") == "1"
    assert codes.check_symbol("00000Z") == "Z"
    assert codes.check_symbol("000010") == "*"
    assert codes.check_symbol("000014") == "U"  # 36, the last check symbol
    assert make(Kind.ASSET, "000010") == "A-000010*"


@given(kinds, bodies)
def test_roundtrip_bare_url_and_case(kind: Kind, body: str) -> None:
    code = make(kind, body)
    assert codes.normalize(code) == code
    assert codes.normalize(code.lower()) == code
    assert codes.normalize(f"https://assets.example.gov/c/{code}") == code
    assert codes.normalize(f"http://x/c/{code.lower()}/") == code
    assert codes.parse(code, expect=kind).kind is kind


@given(kinds, bodies, st.data())
def test_every_single_substitution_is_detected(kind: Kind, body: str, data: st.DataObject) -> None:
    code = make(kind, body)
    tail = code[2:]  # BODY + CHECK
    pos = data.draw(st.integers(0, len(tail) - 1))
    pool = CHECK_ALPHABET if pos == len(tail) - 1 else ALPHABET
    new = data.draw(st.sampled_from([c for c in pool if c != tail[pos]]))
    bad = code[:2] + tail[:pos] + new + tail[pos + 1:]
    with pytest.raises(CodeError) as err:
        codes.parse(bad)
    assert err.value.reason in {"bad_check", "bad_code"}


@given(kinds, bodies, st.data())
def test_every_adjacent_transposition_is_detected(kind: Kind, body: str, data: st.DataObject) -> None:
    code = make(kind, body)
    tail = code[2:]
    pos = data.draw(st.integers(0, len(tail) - 2))
    if tail[pos] == tail[pos + 1]:
        return  # swapping equal symbols changes nothing
    bad = code[:2] + tail[:pos] + tail[pos + 1] + tail[pos] + tail[pos + 2:]
    with pytest.raises(CodeError):
        codes.parse(bad)


@pytest.mark.parametrize("text,reason", [
    ("", "bad_code"), ("A-12345", "bad_code"), ("X-000010*", "bad_code"), ("A000010*", "bad_code"),
    ("A-00I010*", "bad_code"), ("A-000010A", "bad_check"), ("https://x/c/A-000010A", "bad_check"),
    ("A-000010* ; drop table", "bad_code"),
])
def test_bad_codes_name_their_reason(text: str, reason: str) -> None:
    with pytest.raises(CodeError) as err:
        codes.parse(text)
    assert err.value.reason == reason


def test_wrong_kind() -> None:
    with pytest.raises(CodeError) as err:
        codes.parse(make(Kind.LOCATION, "000010"), expect=Kind.ASSET)
    assert err.value.reason == "wrong_kind"


def test_new_codes_are_valid_and_distinct() -> None:
    made = {str(codes.new_code(Kind.ASSET)) for _ in range(2000)}
    assert len(made) == 2000
    assert all(codes.is_valid(c, Kind.ASSET) for c in made)


def test_label_text() -> None:
    assert codes.label_text("A-000010*", None) == "A-000010*"
    assert codes.label_text("A-000010*", "https://x.gov/") == "https://x.gov/c/A-000010*"


def test_the_parse_cache_does_not_grow_with_junk() -> None:
    """Issue 15: 1,500 requests with 60 kB junk added ~100 MB; the cache key is now the bounded code."""
    import tracemalloc

    code = str(codes.new_code("A"))
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for i in range(1500):
        junk = f"https://x.example/c/{code}?{i}{'j' * 60_000}"
        codes.normalize(junk)  # a valid code inside a huge URL
        assert not codes.is_valid(f"A-{'0' * 60_000}{i}")
    grown = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert grown < 2_000_000, grown
