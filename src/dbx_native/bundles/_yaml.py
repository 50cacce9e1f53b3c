"""Fast YAML reading for bundle files, with the source position of every node kept.

PyYAML's ``safe_load`` is too slow for large bundles (seconds for a few MB) and forgets where values
came from, which validation findings need. Here libyaml (PyYAML's C parser) composes the node tree
in C with a resolver that is a few comparisons instead of PyYAML's regex table, the cyclic garbage
collector is paused while the tree is built (it otherwise runs dozens of full passes over millions of
young objects), and a tight loop turns nodes into plain ``dict``/``list``/scalars. The node tree is kept
so that a finding can later be pointed at ``file:line:column`` by walking it.

Scalars follow the YAML 1.2 core schema, as the Databricks CLI's Go YAML library does: only
``true``/``false`` are booleans (``yes``/``no``/``on`` stay strings), ``null``/``~``/empty are null,
decimal/``0x``/``0o`` integers and plain floats are numbers; everything else is a string. Mapping keys are
always strings (their source text). Merge keys (``<<``) are honoured.

With the optional ``rapidyaml`` package installed, most files are read by :mod:`._fastyaml` instead, about four
times faster; it answers only when it gives exactly the value this path gives and leaves the rest here.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from dbx_native.bundles import _fastyaml
from dbx_native.errors import BundleError

__all__ = ["YamlDocument", "gc_paused", "load_yaml", "locate"]

# Without libyaml there is no fast path; the pure-Python parser gives the same nodes, only slower.
try:
    from yaml._yaml import CParser as _BaseParser

    _LIBYAML = True
except ImportError:  # pragma: no cover - libyaml is in every PyYAML wheel we support
    from yaml import SafeLoader as _BaseParser  # type: ignore[assignment]

    _LIBYAML = False

MAX_FILE_BYTES = 64 * 1024 * 1024
"""Files larger than this are refused before parsing (bounded time and memory)."""

_STR = "tag:yaml.org,2002:str"
_PLAIN = "dbx:plain"  # a plain scalar that may be a number, bool or null: decided on conversion
_NULL = "tag:yaml.org,2002:null"
_MERGE = "tag:yaml.org,2002:merge"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_MAYBE_TYPED = frozenset("0123456789+-.~nNtTfF")

_INT = re.compile(r"[-+]?[0-9]+")
_HEX = re.compile(r"0x[0-9a-fA-F]+")
_OCT = re.compile(r"0o[0-7]+")
_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
_SPECIAL: dict[str, Any] = {
    "null": None,
    "Null": None,
    "NULL": None,
    "~": None,
    "true": True,
    "True": True,
    "TRUE": True,
    "false": False,
    "False": False,
    "FALSE": False,
    ".inf": float("inf"),
    "+.inf": float("inf"),
    "-.inf": float("-inf"),
    ".Inf": float("inf"),
    ".INF": float("inf"),
    "-.Inf": float("-inf"),
    ".nan": float("nan"),
    ".NaN": float("nan"),
    ".NAN": float("nan"),
}
# Containers built from an alias beyond this many, plus the document's own size, mean an expansion
# bomb ("billion laughs"): a few lines of anchors that would expand to gigabytes.
_ALIAS_BUDGET = 200_000


@dataclass(frozen=True)
class YamlDocument:
    """One parsed YAML file.

    Attributes:
        path: The file's path as given to the loader.
        data: The plain Python value of the document (``None`` for an empty file).
        text: The file's text, to find line numbers again when a finding needs them.
    """

    path: str
    data: Any
    text: str = field(repr=False, default="")

    def compose(self) -> Node | None:
        """Parse the text again into a node tree (with line and column marks).

        The tree is not kept after loading on purpose: millions of node and mark objects would make every
        later garbage collection in the process walk them. Only findings and locations need it.
        """
        with gc_paused():
            return _compose(self.text, self.path)


class _Parser(_BaseParser):
    """libyaml's composer with a resolver cheap enough to call once per scalar."""

    def resolve(self, kind: type, value: Any, implicit: tuple[bool, bool]) -> str:
        if kind is not ScalarNode:
            return _MAP if kind is MappingNode else _SEQ
        if not implicit[0]:  # quoted, or a block scalar: always a string
            return _STR
        if not value:
            return _NULL
        first = value[0]
        if first == "<" and value == "<<":
            return _MERGE
        return _PLAIN if first in _MAYBE_TYPED else _STR

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        return None

    def ascend_resolver(self) -> None:
        return None


@contextmanager
def gc_paused() -> Iterator[None]:
    # Building a few million small objects triggers many full collections that find nothing (the
    # tree has no cycles we did not make on purpose); pausing them is most of the speed-up.
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _plain_scalar(value: str) -> Any:
    special = _SPECIAL.get(value, _STR)
    if special is not _STR:
        return special
    if _INT.fullmatch(value):
        return int(value, 10)
    if _HEX.fullmatch(value):
        return int(value[2:], 16)
    if _OCT.fullmatch(value):
        return int(value[2:], 8)
    if _FLOAT.fullmatch(value) and any(c.isdigit() for c in value):
        return float(value)
    return value


def _tagged_scalar(node: ScalarNode, path: str) -> Any:
    tag, value = node.tag, node.value
    if tag == _PLAIN:
        return _plain_scalar(value)
    if tag == _NULL:
        return None
    if tag == "tag:yaml.org,2002:int":
        try:
            return int(value, 0)
        except ValueError:
            raise _error(f"{value!r} is tagged !!int but is not an integer", path, node) from None
    if tag == "tag:yaml.org,2002:float":
        try:
            return float(value)
        except ValueError:
            raise _error(f"{value!r} is tagged !!float but is not a number", path, node) from None
    if tag == "tag:yaml.org,2002:bool":
        return value.lower() == "true"
    return value  # !!str, !!timestamp, custom tags: the text as written


def _error(message: str, path: str, node: Node | None) -> BundleError:
    if node is None:
        return BundleError(f"{path}: {message}", path=path)
    line, column = node.start_mark.line + 1, node.start_mark.column + 1
    return BundleError(f"{path}:{line}:{column}: {message}", path=path, line=line, column=column)


class _Converter:
    """Turns a node tree into plain values; counts containers only when aliases may repeat them."""

    def __init__(self, path: str, budget: int | None) -> None:
        self.path = path
        self.budget = budget
        self.built = 0

    def convert(self, node: Node) -> Any:
        kind = type(node)
        if kind is ScalarNode:
            tag = node.tag
            if tag is _STR:
                return node.value
            return _tagged_scalar(node, self.path)  # type: ignore[arg-type]
        if self.budget is not None:
            self.built += 1
            if self.built > self.budget:
                raise _error(
                    "aliases expand to far more data than the file holds (an alias-expansion bomb?); "
                    "use fewer nested aliases",
                    self.path,
                    node,
                )
        if kind is MappingNode:
            return self.mapping(node)  # type: ignore[arg-type]
        convert = self.convert
        return [convert(item) for item in node.value]

    def mapping(self, node: MappingNode) -> dict[str, Any]:
        out: dict[str, Any] = {}
        convert = self.convert
        merges: list[Node] | None = None
        for key, value in node.value:
            if key.tag is _MERGE:
                merges = [*(merges or ()), value]
                continue
            if type(key) is not ScalarNode:
                raise _error("mapping keys must be plain strings, not mappings or lists", self.path, key)
            # Inline the commonest case, a string value, to save a call per scalar.
            if value.tag is _STR and type(value) is ScalarNode:
                out[key.value] = value.value
            else:
                out[key.value] = convert(value)
        if len(out) + len(merges or ()) != len(node.value):
            self._raise_duplicate(node)
        if merges:
            out = self._merge(out, merges)
        return out

    def _merge(self, explicit: dict[str, Any], merges: list[Node]) -> dict[str, Any]:
        # YAML merge keys: explicit keys win, then earlier merge sources over later ones.
        merged: dict[str, Any] = {}
        for source in merges:
            items = source.value if type(source) is SequenceNode else [source]
            for item in items:
                if type(item) is not MappingNode:
                    raise _error("a merge key (<<) takes a mapping or a list of mappings", self.path, item)
                for key, value in self.mapping(item).items():
                    merged.setdefault(key, value)
        merged.update(explicit)
        return merged

    def _raise_duplicate(self, node: MappingNode) -> None:
        first: dict[str, Node] = {}
        for key, _ in node.value:
            if key.tag is _MERGE:
                continue
            if key.value in first:
                where = first[key.value].start_mark.line + 1
                raise _error(f"key {key.value!r} is already defined at line {where}", self.path, key)
            first[key.value] = key


def _compose(text: str, path: str) -> Node | None:
    parser = _Parser(text)
    try:
        node: Node | None = parser.get_single_node()
        return node
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        problem = ", ".join(p for p in (err.context, err.problem) if p) or "invalid YAML"
        if mark is None:
            raise BundleError(f"{path}: {problem}", path=path) from None
        line, column = mark.line + 1, mark.column + 1
        hint = " (check the indentation and quoting on that line)"
        raise BundleError(f"{path}:{line}:{column}: {problem}{hint}", path=path, line=line, column=column) from None
    except yaml.YAMLError as err:
        raise BundleError(f"{path}: invalid YAML: {err}", path=path) from None
    finally:
        if hasattr(parser, "dispose"):
            parser.dispose()


def _event_count(text: str) -> int:
    if not _LIBYAML:  # pragma: no cover
        return len(text)
    return int(_BaseParser(text).raw_parse())


def _check_syntax(text: str) -> None:
    # libyaml's C parser alone (events, no Python objects): raises on anything libyaml would refuse.
    if not _LIBYAML:  # pragma: no cover - no reference parser to check against: no fast path
        raise yaml.YAMLError("libyaml is not available")
    _BaseParser(text).raw_parse()


def load_yaml(text: str, path: str) -> YamlDocument:
    """Parse one YAML document.

    Args:
        text: The file's content.
        path: The file's path, used in error messages and locations.

    Returns:
        The document's value and node tree.

    Raises:
        BundleError: The text is not a single valid YAML document, is too large, has duplicate keys,
            or its aliases expand beyond a sane size; the error carries line and column when known.
    """
    if len(text) > MAX_FILE_BYTES:
        raise BundleError(
            f"{path}: the file is {len(text) // (1024 * 1024)} MB, more than the {MAX_FILE_BYTES // (1024 * 1024)} MB "
            "a bundle file may have; split it with `include`",
            path=path,
        )
    with gc_paused():
        # rapidyaml, when installed, reads most bundle files about four times faster; it answers only when it
        # gives the same value as the libyaml path (see _fastyaml), which handles everything else.
        data = _fastyaml.load(text, _check_syntax, _plain_scalar)
        if data is None:
            data = _reference_value(text, path)
    return YamlDocument(path=path, data=data, text=text)


def _reference_value(text: str, path: str) -> Any:
    """The document's value through libyaml's composer and our converter (call with the collector paused)."""
    root = _compose(text, path)
    if root is None:
        return None
    # Anchors need a `&`: without one no alias can repeat a node, so no expansion budget is needed.
    budget = None if "&" not in text else _event_count(text) + _ALIAS_BUDGET
    try:
        data = _Converter(path, budget).convert(root)
    except RecursionError:
        raise _error("the document nests too deeply or an alias refers to itself", path, root) from None
    # Free the node tree while the collector is still paused: re-enabling it with the tree alive costs a
    # full collection over every node and mark (about a second for a few MB of YAML).
    del root
    return data


def _child(node: Node, key: str | int) -> Node | None:
    if isinstance(node, MappingNode) and isinstance(key, str):
        merges: list[Node] = []
        for key_node, value in node.value:
            if key_node.tag == _MERGE:
                merges.append(value)
            elif key_node.value == key:
                found_value: Node = value
                return found_value
        for source in merges:
            for item in source.value if isinstance(source, SequenceNode) else [source]:
                found = _child(item, key)
                if found is not None:
                    return found
        return None
    if isinstance(node, SequenceNode) and isinstance(key, int) and 0 <= key < len(node.value):
        return node.value[key]  # type: ignore[no-any-return]
    return None


def _key_node(node: Node, key: str) -> Node | None:
    if isinstance(node, MappingNode):
        for key_node, _ in node.value:
            if key_node.value == key and key_node.tag != _MERGE:
                return key_node  # type: ignore[no-any-return]
    return None


def locate(root: Node | None, path: Sequence[str | int]) -> tuple[int, int, int] | None:
    """Find where a path is written in a document.

    Args:
        root: The document's node tree.
        path: Keys and list indexes from the top of the document.

    Returns:
        ``(line, column, depth)`` (1-based line and column) of the deepest part of ``path`` found, where
        ``depth`` is how many elements of ``path`` matched; ``None`` if not even the first one did.
        The position is the key's, for a mapping entry, so findings point at the line that names it.
    """
    if root is None:
        return None
    node, best, depth = root, None, 0
    for index, key in enumerate(path):
        child = _child(node, key)
        if child is None:
            break
        where = _key_node(node, key) if isinstance(key, str) else None
        mark = (where or child).start_mark
        best, depth, node = (mark.line + 1, mark.column + 1), index + 1, child
    if best is None:
        return None
    return best[0], best[1], depth
