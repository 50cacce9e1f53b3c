"""Logging under the `dbx_native` logger, with secrets redacted from every record.

Nothing is configured unless asked: the package logger has a `NullHandler`; `DBX_NATIVE_LOG=debug|info`
or the caller's own logging config turns output on. Retries log at INFO, requests at DEBUG.
"""

from __future__ import annotations

import logging
import re
import threading

__all__ = ["RedactingFilter", "get_logger", "redact", "register_secret"]

_PATTERNS = [
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"),
    re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)(?!bearer)[^\s'\",}]+"),
    re.compile(r"()\bdapi[0-9a-f]{16,}(-\d+)?\b"),  # Databricks personal access tokens
    re.compile(r"()\bdose[0-9a-f]{16,}\b"),  # Databricks OAuth secrets
]

_secrets: set[str] = set()
_secrets_lock = threading.Lock()


def register_secret(value: str) -> None:
    """Mask this exact value in every dbx_native log record from now on (tokens, client secrets)."""
    if len(value) >= 6:
        with _secrets_lock:
            _secrets.add(value)


def redact(text: str) -> str:
    """`text` with bearer tokens, Authorization values, PATs and registered secrets masked."""
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + "***", text)
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, "***")
    return text


class RedactingFilter(logging.Filter):
    """Formats the record's message once and masks secrets in it (and in exception text)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not kill logging
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return True


_FILTER = RedactingFilter()
_configured: set[str] = set()


def get_logger(name: str) -> logging.Logger:
    """A `dbx_native.*` logger carrying the redaction filter (filters do not propagate to children)."""
    logger = logging.getLogger(name)
    if name not in _configured:
        logger.addFilter(_FILTER)
        _configured.add(name)
    return logger
