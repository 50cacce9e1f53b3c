"""Unity Catalog names: parsing and validating `catalog.schema.table`."""

from __future__ import annotations

import re

from dbx_native.errors import InvalidRequestError

__all__ = ["parse_name"]

_PART = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,254}")
_KINDS = {1: "catalog", 2: "schema", 3: "table"}
_EXAMPLES = {1: "'main'", 2: "'main.fraud'", 3: "'main.fraud.transactions'"}


def parse_name(full_name: str, parts: int) -> tuple[str, ...]:
    """Split and validate a UC name of `parts` parts (1 catalog, 2 schema, 3 table); parts come back lower case.

    Backticks may quote a part (`` `my-catalog`.fraud.tx ``). Unity Catalog names are case-insensitive and
    stored in lower case, so are ours.

    Raises:
        InvalidRequestError: Wrong number of parts, an empty part or a character UC does not allow.
    """
    if not isinstance(full_name, str):
        raise InvalidRequestError(
            f"A {_KINDS[parts]} name must be a string like {_EXAMPLES[parts]}, got {full_name!r}."
        )
    pieces: list[str] = []
    current = ""
    quoted = False
    for ch in full_name:
        if ch == "`":
            quoted = not quoted
        elif ch == "." and not quoted:
            pieces.append(current)
            current = ""
        else:
            current += ch
    pieces.append(current)
    if quoted or len(pieces) != parts:
        raise InvalidRequestError(
            f"{full_name!r} is not a {parts}-part {_KINDS[parts]} name: use {_EXAMPLES[parts]} "
            f"({'.'.join(['catalog', 'schema', 'table'][:parts])})."
        )
    for piece in pieces:
        if not _PART.fullmatch(piece):
            raise InvalidRequestError(
                f"Bad name part {piece!r} in {full_name!r}: use letters, digits, '_' or '-' (at most 255 characters)."
            )
    return tuple(p.lower() for p in pieces)
