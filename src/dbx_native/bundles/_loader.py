"""Finding and reading a bundle's files: the root ``databricks.yml`` and what its ``include`` names.

The rules are the Databricks CLI's (bundle/config/loader):

- the root file is ``databricks.yml`` (or ``databricks.yaml``, ``bundle.yml``, ``bundle.yaml``: exactly one);
- ``include`` entries are globs relative to the bundle root, matched with Go's ``filepath.Glob``, so
  ``**`` is a plain ``*`` (not recursive) and ``../`` may leave the root; absolute paths are refused;
- an entry without glob characters must match a file; matched files must be ``.yml``, ``.yaml`` or ``.json``;
- files are taken in the order of the entries, sorted within each entry, each file once;
- an ``include`` inside an included file is ignored (only the root's counts).
"""

from __future__ import annotations

import glob
import logging
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dbx_native.bundles._merge import deep_merge
from dbx_native.bundles._yaml import YamlDocument, gc_paused, load_yaml, locate
from dbx_native.errors import BundleError

__all__ = ["ROOT_FILE_NAMES", "LoadedBundle", "find_root_file", "load_files"]

logger = logging.getLogger("dbx_native.bundles")

ROOT_FILE_NAMES = ("databricks.yml", "databricks.yaml", "bundle.yml", "bundle.yaml")
_INCLUDE_SUFFIXES = (".yml", ".yaml", ".json")
_GLOB_CHARS = "*?["


@dataclass
class LoadedBundle:
    """The bundle's files, read and merged (before any target is applied).

    Attributes:
        root: The bundle root directory.
        documents: Parsed files, the root file first, paths relative to ``root``.
        config: The merged configuration of every file.
        notes: Things the loader ignored on purpose (reported by ``validate``), as ``(file, path, message)``.
    """

    root: Path
    documents: list[YamlDocument]
    config: dict[str, Any]
    notes: list[tuple[str, tuple[str, ...], str]] = field(default_factory=list)


def find_root_file(path: Path) -> Path:
    """Return the bundle's root configuration file for a directory or a file path.

    Raises:
        BundleError: No root file, or more than one.
    """
    if path.is_file():
        return path
    if not path.is_dir():
        raise BundleError(f"{path}: no such file or directory; pass a bundle directory or its databricks.yml")
    found = [path / name for name in ROOT_FILE_NAMES if (path / name).is_file()]
    if not found:
        raise BundleError(
            f"{path}: no bundle configuration here; expected one of {', '.join(ROOT_FILE_NAMES)}", path=str(path)
        )
    if len(found) > 1:
        names = ", ".join(f.name for f in found)
        raise BundleError(f"{path}: more than one bundle configuration file ({names}); keep only one", path=str(path))
    return found[0]


def _read(path: Path, display: str) -> YamlDocument:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise BundleError(f"{display}: not UTF-8 text ({err.reason})", path=display) from None
    except OSError as err:
        raise BundleError(f"{display}: cannot read the file ({err.strerror})", path=display) from None
    doc = load_yaml(text, display)
    if doc.data is not None and not isinstance(doc.data, dict):
        raise BundleError(f"{display}:1:1: a bundle file must be a mapping of sections", path=display, line=1, column=1)
    return doc


def _glob(pattern: str) -> list[str]:
    # Go's filepath.Glob matches dot-files like any other; Python's glob only does with include_hidden.
    if sys.version_info >= (3, 11):
        return glob.glob(pattern, include_hidden=True)
    return glob.glob(pattern)  # pragma: no cover - Python 3.10


def _expand_includes(root_dir: Path, root_doc: YamlDocument) -> list[str]:
    entries = (root_doc.data or {}).get("include") or []
    if not isinstance(entries, list) or not all(isinstance(e, str) for e in entries):
        where = locate(root_doc.compose(), ["include"])
        line = where[0] if where else None
        raise BundleError(f"{root_doc.path}: `include` must be a list of paths or globs", path=root_doc.path, line=line)
    seen = {name for name in ROOT_FILE_NAMES}
    files: list[str] = []
    for entry in entries:
        if os.path.isabs(entry):
            raise BundleError(f"{entry}: includes must be relative paths", path=root_doc.path)
        matches = _glob(os.path.join(str(root_dir), entry))
        if not matches and not any(c in entry for c in _GLOB_CHARS):
            raise BundleError(f"{entry} defined in 'include' section does not match any files", path=root_doc.path)
        batch: list[str] = []
        for match in matches:
            rel = os.path.normpath(os.path.relpath(match, root_dir)).replace(os.sep, "/")
            if rel in seen or not os.path.isfile(match):
                continue
            seen.add(rel)
            if not rel.endswith(_INCLUDE_SUFFIXES):
                raise BundleError(
                    f"{rel}: files in 'include' must be YAML or JSON; list files to sync under `sync.include`",
                    path=rel,
                )
            batch.append(rel)
        files.extend(sorted(batch))
    return files


def _merge_file(config: dict[str, Any], doc: YamlDocument, owners: dict[tuple[str, str], str]) -> dict[str, Any]:
    data = dict(doc.data or {})
    data.pop("include", None)
    resources = data.get("resources")
    if isinstance(resources, dict):
        for resource_type, items in resources.items():
            for key in items if isinstance(items, dict) else ():
                other = owners.setdefault((resource_type, key), doc.path)
                if other != doc.path:
                    where = locate(doc.compose(), ["resources", resource_type, key])
                    line, column = (where[0], where[1]) if where else (None, None)
                    raise BundleError(
                        f"{doc.path}:{line}: resource {resource_type}.{key} is also defined in {other}; "
                        "rename one of them",
                        path=doc.path,
                        line=line,
                        column=column,
                    )
    return deep_merge(config, data)  # type: ignore[no-any-return]


def load_files(path: Path) -> LoadedBundle:
    """Read the root file and its includes and merge them.

    Raises:
        BundleError: A file is missing, unreadable or invalid, or an include rule is broken.
    """
    # One pause for all files: re-enabling the collector after each file would make it walk the objects of every
    # file read so far again (a young-generation pass per file, then a middle-generation pass over all of them).
    with gc_paused():
        return _load_files(path)


def _load_files(path: Path) -> LoadedBundle:
    root_file = find_root_file(path)
    root_dir = root_file.parent
    root_doc = _read(root_file, root_file.name)
    documents = [root_doc]
    notes: list[tuple[str, tuple[str, ...], str]] = []
    owners: dict[tuple[str, str], str] = {}
    config = _merge_file({}, root_doc, owners)
    for rel in _expand_includes(root_dir, root_doc):
        doc = _read(root_dir / rel, rel)
        documents.append(doc)
        if isinstance(doc.data, dict) and "include" in doc.data:
            # The CLI only reads `include` from the root file; a nested one is ignored, not followed.
            notes.append((rel, ("include",), "`include` in an included file is ignored; move it to the root file"))
            logger.debug("ignoring include section in %s", rel)
        config = _merge_file(config, doc, owners)
    return LoadedBundle(root=root_dir, documents=documents, config=config, notes=notes)
