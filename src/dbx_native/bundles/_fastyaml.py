"""An optional fast path for reading bundle YAML with rapidyaml (``pip install rapidyaml``, module ``ryml``).

rapidyaml parses in C++ and writes the tree as JSON, which ``json.loads`` reads back in C: about four times
faster than composing libyaml nodes in Python. It is used only where it provably gives the value the libyaml path
(:mod:`dbx_native.bundles._yaml`) gives; everywhere else :func:`load` returns ``None`` and the caller falls back:

- libyaml's C parser first checks the text (``raw_parse``: events only, no Python objects). rapidyaml accepts some
  text libyaml refuses (an empty flow key, a lone surrogate escape), and malformed files must keep libyaml's
  messages with line and column; checking first also keeps rapidyaml's error printing (to the C ``stderr``) away.
- A pre-scan of the text sends away what rapidyaml's JSON writer treats differently or what needs the node tree:
  anchors, aliases, tags, merge keys, complex keys, several documents, directives, tabs and unusual line breaks.
- rapidyaml writes plain scalars it does not take for numbers, booleans or null as JSON strings, and rewrites
  ``inf``/``nan`` spellings to ``.inf``/``.nan`` (in keys too). Any ``.inf``/``.nan`` string sends the file away.
  A string that the YAML 1.2 core schema would type (``~``, ``True``, ``0x1F``, ``007``, ...) is ambiguous only
  if rapidyaml also writes it as a string when it is plain; then the file goes away when the text holds it
  unquoted. Numbers rapidyaml writes unquoted are valid JSON numbers, which the core schema reads the same way
  (``.5`` is written ``0.5``: same value); ``+1`` or ``-01`` are not JSON, so ``json.loads`` refuses them.
- Duplicate keys (rapidyaml keeps both) make ``json.loads`` fail through a pairs hook; libyaml then reports them.

Only rapidyaml 0.15 is used: the rules above were checked against it (``tests/bundles/test_fast_yaml.py`` compares
both paths on generated documents, the repository's bundles and the test fixtures). Set
``DBX_NATIVE_FAST_YAML=0`` to never use it.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from typing import Any

__all__ = ["available", "load"]

_SUPPORTED_VERSION = "0.15."
_module: Any = None
_checked = False

# Valid YAML that rapidyaml reads differently, or that needs the node tree (anchors and merges keep the alias budget).
# Plain `str` searches, not one regex: Python's regex engine takes ~0.1 s per MB for a pattern with look-behinds.
_UNSAFE_TEXT = ("\t", "\r", "\x85", "\u2028", "\u2029", "\ufeff", "<<", "\n---", "\n...", "\n%")
_UNSAFE_START = ("---", "...", "%")
_NODE_START = frozenset(" \n[{,:")  # a node, with its anchor or tag, may start after these
_BLANK = ("", " ", "\n")
# rapidyaml writes inf/nan spellings (`inf`, `.Inf`, `-infinity`, `NaN`...) in keys and plain values as `.inf`,
# `-.inf` or `.nan`: their source is unknown.
_REWRITTEN = ('.inf"', '.nan"')
# A superset of the strings the core schema would type if they were plain (none of them needs escaping in JSON);
# keys (followed by `:`) are strings on both paths.
_TYPEABLE = re.compile(r'"([~0-9.+\-nNtTfF][0-9a-fA-FxXoOeE.+\-_lLsSuUrRnNiI]*)"(?!:)')
_probes: dict[str, bool] = {}


def _import() -> Any:
    if os.environ.get("DBX_NATIVE_FAST_YAML", "1") == "0":
        return None
    try:
        import ryml  # type: ignore[import-not-found,import-untyped,unused-ignore]
    except ImportError:
        return None
    # The rules above were checked against this version's JSON writer; another may write differently.
    return ryml if str(getattr(ryml, "__version__", "")).startswith(_SUPPORTED_VERSION) else None


def _ryml() -> Any:
    global _module, _checked
    if not _checked:
        _module, _checked = _import(), True
    return _module


def available() -> bool:
    """Whether the fast path can be used (rapidyaml 0.15 is installed and not turned off)."""
    return _ryml() is not None


class _NotSame(ValueError):
    """The fast path cannot vouch for this document."""


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        raise _NotSame("duplicate key")
    return out


def _constant(name: str) -> Any:
    raise _NotSame(name)  # NaN / Infinity: never written by rapidyaml for YAML we accept


def _to_json(ryml: Any, data: bytes) -> str | None:
    try:
        tree = ryml.parse_in_arena(data)
        root = tree.root_id()
        if not tree.is_map(root):  # bundle files are mappings; anything else takes the reference path
            return None
        text = ryml.emit_json_malloc(tree, root)
    except Exception:  # any rapidyaml failure means "use libyaml"
        return None
    return text if isinstance(text, str) else None


def _string_when_plain(ryml: Any, value: str) -> bool:
    # Does rapidyaml write this scalar as a JSON string when it is plain? Then a JSON string may hide a plain one.
    known = _probes.get(value)
    if known is None:
        emitted = _to_json(ryml, f"k: {value}\n".encode())
        try:
            known = emitted is None or isinstance(json.loads(emitted)["k"], str)
        except ValueError:
            known = True
        if len(_probes) < 4096:
            _probes[value] = known
    return known


def _indicators(text: str, char: str) -> list[int]:
    # Positions of `char` where a node may start (line start, after a space or a flow indicator).
    found, index = [], text.find(char)
    while index != -1:
        if index == 0 or text[index - 1] in _NODE_START:
            found.append(index)
        index = text.find(char, index + 1)
    return found


def _unsafe(text: str) -> bool:
    if text.startswith(_UNSAFE_START) or any(part in text for part in _UNSAFE_TEXT):
        return True
    if ("&" in text and _indicators(text, "&")) or ("!" in text and _indicators(text, "!")):
        return True  # anchors and tags
    # An alias is `*name`; a `*` between spaces is text inside a plain scalar (cron expressions: `0 0 2 * * ?`).
    if "*" in text and any(text[i + 1 : i + 2] not in _BLANK for i in _indicators(text, "*")):
        return True
    # Block scalars with an explicit indentation (`|2`, `>-1`): rapidyaml refuses some that libyaml reads.
    for char in "|>":
        for index in _indicators(text, char) if char in text else ():
            header = text[index + 1 : index + 3]
            if header[:1].isdigit() or (header[:1] in "+-" and header[1:2].isdigit()):
                return True
    # A complex key is `? ` first on a line (after indentation and `- `) or after a flow indicator, where libyaml
    # also takes `?x` for one (`[?x]` is `[{x: null}]` for libyaml, `["?x"]` for rapidyaml). A `?` after other
    # text is inside a plain scalar (`0 0 2 * * ?`).
    for index in _indicators(text, "?") if "?" in text else ():
        before = text[text.rfind("\n", 0, index) + 1 : index].rstrip(" ")
        if not before or before[-1] in "[{,:-?":
            return True
    return False


def _plain_in_text(value: str, text: str) -> bool:
    # A plain scalar is written literally and, having no spaces, on one line between indicators or spaces.
    pattern = r"(?:^|(?<=[\s\[{,:?-]))" + re.escape(value) + r"(?=$|[\s,\]}:#])"
    return re.search(pattern, text, re.MULTILINE) is not None


def _ambiguous(ryml: Any, emitted: str, text: str, plain_scalar: Callable[[str], Any]) -> bool:
    seen: set[str] = set()
    for match in _TYPEABLE.finditer(emitted):
        value = match.group(1)
        if value in seen:
            continue
        seen.add(value)
        if isinstance(plain_scalar(value), str):  # the core schema keeps it a string too
            continue
        if _string_when_plain(ryml, value) and _plain_in_text(value, text):
            return True
    return False


def load(text: str, validate: Callable[[str], object], plain_scalar: Callable[[str], Any]) -> dict[str, Any] | None:
    """Read a YAML mapping through rapidyaml when that provably gives the reference value.

    Args:
        text: The file's content.
        validate: Called with ``text`` before rapidyaml sees it; raises when libyaml refuses the text.
        plain_scalar: The reference typing of a plain scalar (YAML 1.2 core schema).

    Returns:
        The document's value, or ``None`` when the caller must use the libyaml path (also for any invalid text).
    """
    ryml = _ryml()
    # At the very end of a file without a final line break, rapidyaml adds one to a block scalar; libyaml does not.
    if ryml is None or not text.endswith("\n") or _unsafe(text):
        return None
    try:
        validate(text)
        data = text.encode("utf-8")
    except Exception:  # the reference path raises the proper error
        return None
    emitted = _to_json(ryml, data)
    if emitted is None or any(part in emitted for part in _REWRITTEN):
        return None
    try:
        value = json.loads(emitted, object_pairs_hook=_pairs, parse_constant=_constant)
    except (ValueError, RecursionError):  # _NotSame, a token that is not JSON (`+1`, `-01`), a control character
        return None
    if _ambiguous(ryml, emitted, text, plain_scalar):
        return None
    return value if isinstance(value, dict) else None
