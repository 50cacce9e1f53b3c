"""PiiGuard: detectors with structure checks, hard negatives, and the three modes."""

from __future__ import annotations

import pytest

from dbx_native.errors import GuardrailError, InvalidRequestError
from dbx_native.gateway import PiiGuard


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("write to jane.doe+fraud@example.co.uk today", "EMAIL"),
        ("call +1 415 555 0134", "PHONE"),
        ("call (415) 555-0134", "PHONE"),
        ("card 4111 1111 1111 1111", "CREDIT_CARD"),
        ("card 5500-0000-0000-0004", "CREDIT_CARD"),
        ("ssn 123-45-6789", "US_SSN"),
        ("iban GB82 WEST 1234 5698 7654 32", "IBAN"),
        ("iban DE89370400440532013000", "IBAN"),
        ("from 192.168.10.4", "IPV4"),
        ("from 2001:db8::ff00:42:8329", "IPV6"),
        ("token dapi0123456789abcdef0123456789abcdef", "DATABRICKS_TOKEN"),
        ("key AKIAIOSFODNN7EXAMPLE", "AWS_ACCESS_KEY"),
        ("gh ghp_" + "A1b2" * 9, "GITHUB_TOKEN"),
    ],
)
def test_each_detector_finds_its_kind(text: str, kind: str) -> None:
    assert [f.kind for f in PiiGuard().find(text)] == [kind]
    assert f"[{kind}]" in PiiGuard().mask(text)


@pytest.mark.parametrize(
    "text",
    [
        "card 4111 1111 1111 1112",  # fails Luhn
        "order 1234567890123456",  # no issuer prefix / Luhn
        "at 2026-11-26 12:30:45",
        "version 1.2.3.4",
        "v10.0.0.1 released",
        "999.1.1.1",
        "ssn 000-12-3456",
        "GB00 WEST 1234 5698 7654 32",  # bad IBAN check digits
        "ts 20261126123045",
        "build 12:30:45",
        "call 555-555-5555",
    ],
)
def test_hard_negatives_are_not_flagged(text: str) -> None:
    assert PiiGuard().find(text) == []


def test_block_mode_raises_without_echoing_the_pii() -> None:
    guard = PiiGuard(input="block")
    with pytest.raises(GuardrailError) as info:
        guard.apply(["my card is 4111 1111 1111 1111"], stage="input")
    assert info.value.stage == "input"
    assert info.value.reason == "pii:CREDIT_CARD"
    assert "4111" not in str(info.value)


def test_off_mode_passes_text_through() -> None:
    assert PiiGuard(input="off").apply(["jane@example.com"], stage="input") == ["jane@example.com"]


def test_kinds_can_be_restricted() -> None:
    guard = PiiGuard(kinds=["EMAIL"])
    assert guard.mask("jane@example.com 4111 1111 1111 1111") == "[EMAIL] 4111 1111 1111 1111"


@pytest.mark.parametrize("kwargs", [{"input": "redact"}, {"output": "x"}, {"kinds": ["PASSPORT"]}])
def test_bad_guard_settings_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidRequestError):
        PiiGuard(**kwargs)  # type: ignore[arg-type]
