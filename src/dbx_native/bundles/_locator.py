"""Pointing configuration paths at ``file:line:column`` through the kept YAML node trees."""

from __future__ import annotations

from collections.abc import Sequence

from yaml.nodes import MappingNode, Node, SequenceNode

from dbx_native.bundles._models import Location
from dbx_native.bundles._yaml import YamlDocument

__all__ = ["Locator"]

_MERGE = "tag:yaml.org,2002:merge"


class _DocIndex:
    """One document's mapping nodes, indexed by key on first use (a linear scan per lookup is too slow
    when thousands of findings each walk a 5,000-key ``jobs`` mapping)."""

    def __init__(self, doc: YamlDocument) -> None:
        self.doc = doc
        self._maps: dict[int, dict[str, tuple[Node, Node]]] = {}
        self._root: Node | None = None
        self._composed = False

    def _entries(self, node: MappingNode) -> dict[str, tuple[Node, Node]]:
        entries = self._maps.get(id(node))
        if entries is None:
            entries = {}
            merges: list[Node] = []
            for key, value in node.value:
                if key.tag == _MERGE:
                    merges.append(value)
                else:
                    entries[key.value] = (key, value)
            for source in merges:
                for item in source.value if isinstance(source, SequenceNode) else [source]:
                    if isinstance(item, MappingNode):
                        for k, pair in self._entries(item).items():
                            entries.setdefault(k, pair)
            self._maps[id(node)] = entries
        return entries

    def find(self, path: Sequence[str | int]) -> tuple[int, int, int] | None:
        if not self._composed:
            self._root, self._composed = self.doc.compose(), True
        node = self._root
        best: tuple[int, int, int] | None = None
        for depth, key in enumerate(path, start=1):
            if isinstance(node, MappingNode) and isinstance(key, str):
                pair = self._entries(node).get(key)
                if pair is None:
                    break
                mark, node = pair[0].start_mark, pair[1]
            elif isinstance(node, SequenceNode) and isinstance(key, int) and 0 <= key < len(node.value):
                node = node.value[key]
                mark = node.start_mark
            else:
                break
            best = (mark.line + 1, mark.column + 1, depth)
        return best


class Locator:
    """Finds where a configuration path is written, across the bundle's files and a target's overrides."""

    def __init__(self, documents: Sequence[YamlDocument]) -> None:
        self._docs = [_DocIndex(doc) for doc in documents]

    def find(self, path: Sequence[str | int], target: str | None = None) -> Location | None:
        """Return the location of ``path`` (or of its deepest written ancestor).

        Args:
            path: Keys and indexes from the top of the configuration.
            target: When given, the target's override (``targets.<target>.<path>``) is preferred when it
                reaches as deep.
        """
        best: tuple[int, Location] | None = None
        for index in self._docs:
            candidates = []
            if target is not None:
                candidates.append((("targets", target, *path), 2))
            candidates.append((tuple(path), 0))
            for full, offset in candidates:
                found = index.find(full)
                if found is None:
                    continue
                line, column, depth = found
                depth -= offset
                if depth <= 0:
                    continue
                if best is None or depth > best[0]:
                    best = (depth, Location(index.doc.path, line, column))
        return best[1] if best else None

    def find_in(self, file: str, path: Sequence[str | int]) -> Location | None:
        """Return where ``path`` is written in one file (or its deepest written ancestor there)."""
        for index in self._docs:
            if index.doc.path == file:
                found = index.find(path)
                return Location(file, found[0], found[1]) if found else None
        return None
