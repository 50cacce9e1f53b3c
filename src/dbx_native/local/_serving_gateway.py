"""AI Gateway behaviour of local serving endpoints: rate limits, guardrails (PII, safety, keywords), requesters.

The detectors are deliberately simple regular expressions (the real service uses models): enough to test
that a client handles a block, a mask or a 429, not a data-protection tool. This is the server's own code;
it shares nothing with the client-side guard in `dbx_native.gateway`, so a bug in one cannot hide in the other.
"""

from __future__ import annotations

import hashlib
import math
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dbx_native.local._wire import LocalApiError, LocalResponse

__all__ = ["GuardrailBlocked", "RateLimiter", "find_pii", "mask_pii", "requester_of"]

GUARDRAIL_ERROR_CODE = "GUARDRAIL_BLOCKED"
"""`error_code` of the 400 a guardrail block answers (a local choice: the real code is not documented)."""

_WINDOW_SECONDS = 60.0  # the only renewal period the service accepts is "minute"

_EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b")
_CARD = re.compile(r"\b(?:\d[ -]?){12,18}\d\b")
_SSN = re.compile(r"\b\d{3}-\d{2}-\d{4}\b")
# Not part of a longer run of digit groups (a card number that failed the Luhn check is not a phone number).
_PHONE = re.compile(
    r"(?<![\w+])(?<!\d[ .-])(?:\+\d{1,3}[ .-]?)?(?:\(\d{2,4}\)[ .-]?|\d{2,4}[ .-])\d{3,4}[ .-]?\d{3,4}\b(?![ .-]?\d)"
)

# Safety stands in for Llama Guard with a short list of unmistakable requests; enough to exercise the path.
_UNSAFE = re.compile(
    r"\b(?:how to (?:make|build) (?:a )?(?:bomb|explosive)s?|kill (?:myself|yourself)|"
    r"synthesi[sz]e (?:nerve agents?|sarin|ricin))\b",
    re.IGNORECASE,
)


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def find_pii(text: str) -> list[tuple[str, int, int]]:
    """The PII found in `text`: `(kind, start, end)` for e-mail addresses, card numbers, US SSNs and phone numbers.

    Card numbers must pass the Luhn check; spans never overlap (the first kind found wins).

    Example:
        >>> from dbx_native.local._serving_gateway import find_pii
        >>> [kind for kind, _, _ in find_pii("mail a@b.io or call +1 415-555-0100")]
        ['EMAIL_ADDRESS', 'PHONE_NUMBER']
    """
    found: list[tuple[str, int, int]] = []
    detectors = (("EMAIL_ADDRESS", _EMAIL), ("CREDIT_CARD", _CARD), ("US_SSN", _SSN), ("PHONE_NUMBER", _PHONE))
    for kind, pattern in detectors:
        for m in pattern.finditer(text):
            if kind == "CREDIT_CARD" and not _luhn(re.sub(r"\D", "", m.group())):
                continue
            if any(s < m.end() and m.start() < e for _, s, e in found):
                continue
            found.append((kind, m.start(), m.end()))
    return sorted(found, key=lambda f: f[1])


def mask_pii(text: str) -> str:
    """`text` with each piece of PII replaced by its kind in brackets (`[EMAIL_ADDRESS]`)."""
    out, last = [], 0
    for kind, start, end in find_pii(text):
        out.append(text[last:start])
        out.append(f"[{kind}]")
        last = end
    out.append(text[last:])
    return "".join(out)


class GuardrailBlocked(LocalApiError):
    """A guardrail refused the request (input) or the model's answer (output): HTTP 400."""

    def __init__(self, direction: str, guardrail: str, message: str) -> None:
        super().__init__(400, message, error_code=GUARDRAIL_ERROR_CODE)
        self.direction = direction
        self.guardrail = guardrail

    def to_response(self) -> LocalResponse:
        # Databricks error bodies may carry google.rpc ErrorInfo details; they say which guardrail fired.
        info = {
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": GUARDRAIL_ERROR_CODE,
            "domain": "ai-gateway.databricks.com",
            "metadata": {"direction": self.direction, "guardrail": self.guardrail},
        }
        body = {"error_code": self.error_code, "message": self.message, "details": [info]}
        return LocalResponse.json(body, status=self.status)


def check_text(params: Mapping[str, Any] | None, direction: str, texts: Sequence[str]) -> bool:
    """Apply the blocking guardrails of one direction to `texts`; returns whether PII must be masked.

    Raises:
        GuardrailBlocked: Safety, a keyword or PII with behaviour `BLOCK` refused the text.
    """
    if not params:
        return False
    joined = "\n".join(texts)
    what = "request" if direction == "input" else "model response"
    if params.get("safety") and _UNSAFE.search(joined):
        raise GuardrailBlocked(
            direction, "safety", f"The {what} was blocked by the AI Gateway {direction} safety guardrail."
        )
    for keyword in params.get("invalid_keywords") or []:
        if keyword and re.search(rf"(?<!\w){re.escape(str(keyword))}(?!\w)", joined, re.IGNORECASE):
            raise GuardrailBlocked(
                direction,
                "invalid_keywords",
                f"The {what} was blocked by the AI Gateway {direction} guardrail: it contains a blocked keyword. "
                "Remove it and retry, or ask the endpoint owner to change the guardrail.",
            )
    behavior = str(((params.get("pii") or {}).get("behavior")) or "NONE").upper()
    if behavior == "BLOCK":
        kinds = sorted({kind for kind, _, _ in find_pii(joined)})
        if kinds:
            raise GuardrailBlocked(
                direction,
                "pii",
                f"The {what} was blocked by the AI Gateway {direction} PII guardrail (found: {', '.join(kinds)}). "
                "Remove personal data before sending, or ask the endpoint owner for PII behavior MASK.",
            )
    return behavior == "MASK"


def requester_of(headers: Mapping[str, str], names: Mapping[str, str]) -> str:
    """Who sent a request: the user registered for its token, else a stable pseudonym (never the token)."""
    auth = headers.get("authorization", "")
    token = auth.partition(" ")[2] or auth
    if not token:
        return "anonymous"
    name = names.get(token)
    if name is not None:
        return name
    return f"user-{hashlib.sha256(token.encode()).hexdigest()[:10]}@local.invalid"


@dataclass
class _Window:
    start: float
    calls: int = 0
    tokens: int = 0


class RateLimiter:
    """Fixed one-minute windows per (endpoint, limit, subject), timed by the workspace clock. Thread-safe."""

    def __init__(self) -> None:
        self._windows: dict[tuple[str, int, str], _Window] = {}
        self._lock = threading.Lock()

    def admit(self, endpoint: str, limits: Sequence[Mapping[str, Any]], requester: str, now: float) -> list[Any]:
        """Count one call against every limit that applies, or refuse it.

        Returns:
            The windows the call counted in (pass them to `add_tokens` once the answer is known).

        Raises:
            LocalApiError: 429 `REQUEST_LIMIT_EXCEEDED` with `Retry-After` (seconds until the window renews).
        """
        with self._lock:
            windows: list[_Window] = []
            for i, limit in enumerate(limits):
                subject = _subject(limit, requester)
                if subject is None:
                    continue
                window = self._window((endpoint, i, subject), now)
                calls, tokens = limit.get("calls"), limit.get("tokens")
                if (calls is not None and window.calls >= int(calls)) or (
                    tokens is not None and window.tokens >= int(tokens)
                ):
                    raise _limited(endpoint, limit, window, now)
                windows.append(window)
            for window in windows:
                window.calls += 1
            return windows

    def add_tokens(self, windows: Sequence[Any], tokens: int) -> None:
        """Charge `tokens` to the windows a call was admitted in."""
        with self._lock:
            for window in windows:
                window.tokens += tokens

    def forget(self, endpoint: str) -> None:
        """Drop the windows of `endpoint` (its limits changed, or it was deleted)."""
        with self._lock:
            for key in [k for k in self._windows if k[0] == endpoint]:
                del self._windows[key]

    def clear(self) -> None:
        with self._lock:
            self._windows.clear()

    def _window(self, key: tuple[str, int, str], now: float) -> _Window:
        window = self._windows.get(key)
        if window is None or now >= window.start + _WINDOW_SECONDS:
            window = self._windows[key] = _Window(start=now)
        return window


def _subject(limit: Mapping[str, Any], requester: str) -> str | None:
    key = str(limit.get("key") or "endpoint").lower()
    principal = limit.get("principal")
    if key == "endpoint":
        return "*"
    if key in ("user", "service_principal"):
        if principal:
            return requester if principal == requester else None
        return requester
    # user_group: the local workspace knows no groups, so these limits never apply.
    return None


def _limited(endpoint: str, limit: Mapping[str, Any], window: _Window, now: float) -> LocalApiError:
    retry_after = max(1, math.ceil(window.start + _WINDOW_SECONDS - now))
    key = str(limit.get("key") or "endpoint").lower()
    what = f"{limit['calls']} calls" if limit.get("calls") is not None else f"{limit['tokens']} tokens"
    message = (
        f"Exceeded the AI Gateway rate limit of {what} per minute (key '{key}') on serving endpoint '{endpoint}'. "
        f"Retry after {retry_after} seconds, or ask the endpoint owner to raise the limit."
    )
    return LocalApiError(429, message, error_code="REQUEST_LIMIT_EXCEEDED", headers={"Retry-After": str(retry_after)})
