"""A client-side PII guard: find personal data and secrets in text, then mask it, block the call, or let it be.

Detectors check structure, not just shape, to keep false positives down: card numbers must pass the Luhn
check, IBANs the ISO 7064 mod-97 check, IPv4 octets must be <= 255, SSNs must use valid area/group/serial
numbers. Order numbers, timestamps and version strings are the hard negatives the benchmark measures.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from dbx_native.errors import BadRequestError, GuardrailError, InvalidRequestError

__all__ = ["PiiFinding", "PiiGuard", "guardrail_error", "is_guardrail_block"]

Mode = Literal["mask", "block", "off"]
_MODES = ("mask", "block", "off")


@dataclass(frozen=True)
class PiiFinding:
    """One piece of PII found in a text (the value itself is not kept, so findings are safe to log)."""

    kind: str
    start: int
    end: int


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


# Issuer prefix -> the card lengths it issues (Visa, Mastercard, Amex, Diners, JCB, Discover).
_CARD_ISSUERS: list[tuple[re.Pattern[str], frozenset[int]]] = [
    (re.compile(r"4"), frozenset({13, 16, 19})),
    (re.compile(r"5[1-5]|2(2[2-9]|[3-6]\d|7[01]|720)"), frozenset({16})),
    (re.compile(r"3[47]"), frozenset({15})),
    (re.compile(r"3(0[0-5]|[68])"), frozenset({14, 16})),
    (re.compile(r"35"), frozenset({16})),
    (re.compile(r"6(011|5|4[4-9])"), frozenset({16, 19})),
]


def _card_ok(text: str) -> bool:
    digits = re.sub(r"[ -]", "", text)
    if len(set(digits)) == 1:
        return False
    if not any(prefix.match(digits) and len(digits) in lengths for prefix, lengths in _CARD_ISSUERS):
        return False
    return _luhn_ok(digits)


def _iban_ok(text: str) -> bool:
    iban = text.replace(" ", "").upper()
    if not 15 <= len(iban) <= 34:
        return False
    rearranged = iban[4:] + iban[:4]
    number = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(number) % 97 == 1


def _ssn_ok(text: str) -> bool:
    area, group, serial = text.split("-")
    return area not in ("000", "666") and not area.startswith("9") and group != "00" and serial != "0000"


_VERSION_BEFORE = re.compile(r"(?i)(?:version|release|build|ver\.?|\bv)\s*[:=]?\s*$")


def _ipv4_ok(text: str, before: str = "") -> bool:
    if _VERSION_BEFORE.search(before):
        return False  # "version 1.2.3.4" is a version string, not an address
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True


def _ipv6_ok(text: str) -> bool:
    if text.count(":") < 2:
        return False
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


def _phone_ok(text: str) -> bool:
    digits = re.sub(r"\D", "", text)
    return 10 <= len(digits) <= 15 and len(set(digits)) > 2


_DETECTORS: list[tuple[str, re.Pattern[str], Callable[..., bool] | None]] = [
    ("DATABRICKS_TOKEN", re.compile(r"\bdapi[0-9a-f]{32}(?:-\d)?\b"), None),
    ("AWS_ACCESS_KEY", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), None),
    ("GITHUB_TOKEN", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{60,})\b"), None),
    ("EMAIL", re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"), None),
    ("IBAN", re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b"), _iban_ok),
    ("CREDIT_CARD", re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])"), _card_ok),
    ("US_SSN", re.compile(r"(?<![\d-])\d{3}-\d{2}-\d{4}(?![\d-])"), _ssn_ok),
    (
        "IPV6",
        re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{1,4}:){2,7}[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{1,4})*(?![\w:])"),
        _ipv6_ok,
    ),
    ("IPV4", re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])"), _ipv4_ok),
    (
        "PHONE",
        re.compile(
            r"(?<![\w.+-])(?:"
            r"\+\d{1,3}[ .-]?(?:\(\d{1,4}\)|\d{1,4})[ .-]?\d{3,4}[ .-]?\d{3,4}"  # +44 20 7946 0958
            r"|\(\d{2,4}\)[ .-]?\d{3,4}[ .-]\d{4}"  # (415) 555-0134
            r"|\d{3}[ .-]\d{3,4}[ .-]\d{4}"  # 415-555-0134, 020 7946 0958
            r")(?![\w.-])"
        ),
        _phone_ok,
    ),
]
_KINDS = frozenset(kind for kind, _, _ in _DETECTORS)


class PiiGuard:
    """Masks or blocks PII in what goes to the model (input) and what comes back (output).

    Args:
        input: What to do with PII in prompts: `"mask"`, `"block"` (raise `GuardrailError` before sending)
            or `"off"`.
        output: The same for replies.
        kinds: Which detectors to run (all by default): EMAIL, PHONE, CREDIT_CARD, US_SSN, IBAN, IPV4, IPV6,
            DATABRICKS_TOKEN, AWS_ACCESS_KEY, GITHUB_TOKEN.

    Example:
        >>> PiiGuard().mask("mail jane.doe@example.com or call +1 415 555 0134")
        'mail [EMAIL] or call [PHONE]'
    """

    def __init__(self, *, input: Mode = "mask", output: Mode = "off", kinds: Iterable[str] | None = None) -> None:
        for name, mode in (("input", input), ("output", output)):
            if mode not in _MODES:
                raise InvalidRequestError(f"PiiGuard {name} must be one of {_MODES}, not {mode!r}")
        chosen = frozenset(kinds) if kinds is not None else _KINDS
        unknown = chosen - _KINDS
        if unknown:
            raise InvalidRequestError(f"unknown PII kinds {sorted(unknown)}; known: {sorted(_KINDS)}")
        self.input: Mode = input
        self.output: Mode = output
        self._detectors = [d for d in _DETECTORS if d[0] in chosen]

    def __repr__(self) -> str:
        return f"PiiGuard(input={self.input!r}, output={self.output!r})"

    def find(self, text: str) -> list[PiiFinding]:
        """Every PII span in `text`, earliest first; overlapping matches keep the first detector's."""
        findings: list[PiiFinding] = []
        taken: list[tuple[int, int]] = []
        for kind, pattern, check in self._detectors:
            for m in pattern.finditer(text):
                start, end = m.span()
                if any(start < e and s < end for s, e in taken):
                    continue
                if check is not None:
                    ok = check(m.group(0), text[max(0, start - 16) : start]) if kind == "IPV4" else check(m.group(0))
                    if not ok:
                        continue
                findings.append(PiiFinding(kind, start, end))
                taken.append((start, end))
        findings.sort(key=lambda f: f.start)
        return findings

    def mask(self, text: str) -> str:
        """`text` with each PII span replaced by `[KIND]`."""
        findings = self.find(text)
        if not findings:
            return text
        parts, last = [], 0
        for f in findings:
            parts.append(text[last : f.start])
            parts.append(f"[{f.kind}]")
            last = f.end
        parts.append(text[last:])
        return "".join(parts)

    def apply(self, texts: Sequence[str], *, stage: Literal["input", "output"]) -> list[str]:
        """Apply this stage's mode to `texts`: the masked texts, or `GuardrailError` when blocking."""
        mode = self.input if stage == "input" else self.output
        if mode == "off":
            return list(texts)
        if mode == "mask":
            return [self.mask(t) for t in texts]
        kinds = sorted({f.kind for t in texts for f in self.find(t)})
        if kinds:
            raise GuardrailError(
                f"PII guard blocked the {stage}: found {', '.join(kinds)}. Remove it, or use mode 'mask'.",
                reason=f"pii:{','.join(kinds)}",
                stage=stage,
            )
        return list(texts)


_GUARDRAIL_WORDS = ("guardrail", "pii", "invalid keyword", "safety filter", "unsafe content")


def is_guardrail_block(err: BadRequestError) -> bool:
    """AI Gateway guardrail blocks are 400s; recognise them by error code, error details or wording."""
    if err.error_code and "GUARDRAIL" in err.error_code.upper():
        return True
    message = err.message.lower()
    return any(word in message for word in _GUARDRAIL_WORDS)


def guardrail_error(err: BadRequestError, endpoint: str) -> GuardrailError:
    stage = None
    reason = err.error_code or "guardrail"
    details = err.body.get("details") if isinstance(err.body, dict) else None
    for detail in details or []:
        meta = detail.get("metadata") if isinstance(detail, dict) else None
        if isinstance(meta, dict):
            stage = meta.get("direction") or stage
            reason = meta.get("guardrail") or reason
    if stage is None:
        stage = "output" if "output" in err.message.lower() or "response" in err.message.lower() else "input"
    return GuardrailError(
        f"AI Gateway guardrail on endpoint {endpoint!r} blocked the {stage}: {err.message}",
        reason=str(reason),
        stage=str(stage),
    )
