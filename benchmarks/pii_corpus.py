"""A labelled synthetic corpus for the PII guard: positives of every kind and hard negatives.

Each sample is a sentence with the labelled spans it contains. Hard negatives look like PII to a naive
regex: order numbers, timestamps, version strings, dates, prices, card-like numbers that fail Luhn, IBANs
with wrong check digits, UUIDs and git SHAs.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass, field


@dataclass
class Sample:
    text: str
    spans: list[tuple[str, int, int]] = field(default_factory=list)  # (kind, start, end)


def _luhn_complete(prefix: str, length: int, rng: random.Random) -> str:
    digits = prefix + "".join(rng.choice(string.digits) for _ in range(length - len(prefix) - 1))
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return digits + str((10 - total % 10) % 10)


def _iban(country: str, bban: str) -> str:
    rearranged = bban + country + "00"
    check = 98 - int("".join(str(int(c, 36)) for c in rearranged)) % 97
    raw = f"{country}{check:02d}{bban}"
    return " ".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def _positive(kind: str, rng: random.Random) -> str:
    if kind == "EMAIL":
        user = rng.choice(["jane.doe", "j.smith+fraud", "ops_team", "k.nguyen", "billing"])
        return f"{user}{rng.randint(1, 99)}@{rng.choice(['example.com', 'corp.example.co.uk', 'mail.example.org'])}"
    if kind == "PHONE":
        a, b, c = rng.randint(201, 989), rng.randint(200, 999), rng.randint(1000, 9999)
        return rng.choice([f"+1 {a} {b} {c}", f"({a}) {b}-{c}", f"{a}-{b}-{c}", f"+44 20 {b}{c % 10} {c}"])
    if kind == "CREDIT_CARD":
        prefix, length = rng.choice([("4", 16), ("51", 16), ("55", 16), ("34", 15), ("37", 15), ("6011", 16)])
        number = _luhn_complete(prefix, length, rng)
        if rng.random() < 0.5 and length == 16:
            return " ".join(number[i : i + 4] for i in range(0, 16, 4))
        return number
    if kind == "US_SSN":
        return f"{rng.randint(1, 665):03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"
    if kind == "IBAN":
        country, bban_len = rng.choice([("DE", 18), ("FR", 23), ("ES", 20), ("NL", 14)])
        if country == "NL":
            bban = "".join(rng.choice(string.ascii_uppercase) for _ in range(4))
            bban += "".join(rng.choice(string.digits) for _ in range(10))
        else:
            bban = "".join(rng.choice(string.digits) for _ in range(bban_len))
        return _iban(country, bban)
    if kind == "IPV4":
        return ".".join(str(rng.randint(1, 254)) for _ in range(4))
    if kind == "IPV6":
        return f"2001:db8:{rng.randint(1, 0xFFFF):x}::{rng.randint(1, 0xFFFF):x}"
    if kind == "DATABRICKS_TOKEN":
        return "dapi" + "".join(rng.choice("0123456789abcdef") for _ in range(32))
    if kind == "AWS_ACCESS_KEY":
        return "AKIA" + "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(16))
    if kind == "GITHUB_TOKEN":
        return "ghp_" + "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(36))
    raise ValueError(kind)


def _clock(rng: random.Random) -> str:
    return f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}"


def _negative(rng: random.Random) -> str:
    choice = rng.randrange(12)
    if choice == 0:
        return f"order #{rng.randint(10**11, 10**13)}"
    if choice == 1:
        month, day = rng.randint(1, 12), rng.randint(1, 28)
        return f"at 2026-{month:02d}-{day:02d} {_clock(rng)}"
    if choice == 2:
        return f"version {rng.randint(1, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 99)}.{rng.randint(0, 999)}"
    if choice == 3:
        card = _luhn_complete("4", 16, rng)
        bad = card[:-1] + str((int(card[-1]) + 1) % 10)
        return f"ref {bad}"
    if choice == 4:
        return f"total ${rng.randint(1, 9999)}.{rng.randint(0, 99):02d}"
    if choice == 5:
        return "id " + "-".join("".join(rng.choice("0123456789abcdef") for _ in range(n)) for n in (8, 4, 4, 4, 12))
    if choice == 6:
        return "commit " + "".join(rng.choice("0123456789abcdef") for _ in range(40))
    if choice == 7:
        return f"ts {rng.randint(10**13, 10**14)}"
    if choice == 8:
        iban = _iban("DE", "".join(rng.choice(string.digits) for _ in range(18))).replace(" ", "")
        wrong = iban[:2] + f"{(int(iban[2:4]) + 1) % 100:02d}" + iban[4:]
        return f"acct {wrong}"
    if choice == 9:
        batch = f"{rng.randint(100, 999)}-{rng.randint(10, 99)}-{rng.randint(1000, 9999)}0"
        return f"zip {rng.randint(10000, 99999)} batch {batch}"
    if choice == 10:
        return f"build {_clock(rng)} took {rng.randint(1, 999)} ms"
    return f"merchant m_{rng.randint(100, 999)} score 0.{rng.randint(10, 99)}"


KINDS = [
    "EMAIL",
    "PHONE",
    "CREDIT_CARD",
    "US_SSN",
    "IBAN",
    "IPV4",
    "IPV6",
    "DATABRICKS_TOKEN",
    "AWS_ACCESS_KEY",
    "GITHUB_TOKEN",
]


def corpus(n: int = 2000, *, seed: int = 7) -> list[Sample]:
    """`n` samples: about half with one PII value, all with one or two hard negatives around it."""
    rng = random.Random(seed)
    samples = []
    for i in range(n):
        parts: list[tuple[str | None, str]] = [(None, _negative(rng))]
        if i % 2 == 0:
            kind = KINDS[(i // 2) % len(KINDS)]
            parts.append((kind, _positive(kind, rng)))
        parts.append((None, _negative(rng)))
        text, spans = "", []
        for kind, piece in parts:
            if text:
                text += rng.choice([", ", " and ", "; then "])
            if kind:
                spans.append((kind, len(text), len(text) + len(piece)))
            text += piece
        samples.append(Sample(text, spans))
    return samples
