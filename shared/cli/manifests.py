"""Manifests from files, directories or stdin: every YAML or JSON document, ``List`` kinds unpacked.

Each object can come with its source as kubectl names it in messages (``error when creating "web.yaml": …``):
the file's path, or ``STDIN``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

Object = dict[str, Any]

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
STDIN_SOURCE = "STDIN"


class ManifestError(ValueError):
    pass


def load_manifests(sources: list[str], recursive: bool = False) -> list[Object]:
    """The objects in ``sources`` (paths or ``-``), in order: a directory's files sorted by name."""
    return [obj for _, obj in load_sourced_manifests(sources, recursive)]


def load_sourced_manifests(sources: list[str], recursive: bool = False) -> list[tuple[str, Object]]:
    """:func:`load_manifests`, each object with its source: a file's path, or ``STDIN``."""
    objects: list[tuple[str, Object]] = []
    for source in sources:
        for name, text in _texts(source, recursive):
            shown = STDIN_SOURCE if source == "-" else name
            objects.extend((shown, obj) for obj in parse_documents(text, name))
    return objects


def _texts(source: str, recursive: bool) -> Iterator[tuple[str, str]]:
    if source == "-":
        yield "<stdin>", sys.stdin.read()
        return
    path = Path(source)
    if path.is_dir():
        pattern = "**/*" if recursive else "*"
        files = sorted(p for p in path.glob(pattern) if p.is_file() and p.suffix in MANIFEST_SUFFIXES)
        for file in files:
            yield str(file), file.read_text()
        return
    if not path.exists():
        raise ManifestError(f'the path "{source}" does not exist')
    yield str(path), path.read_text()


def parse_documents(text: str, source: str = "<input>") -> list[Object]:
    try:
        documents = list(yaml.safe_load_all(text))
    except yaml.YAMLError as error:
        raise ManifestError(f"error parsing {source}: {error}") from None
    objects: list[Object] = []
    for document in documents:
        if document is None:
            continue
        if not isinstance(document, dict) or "kind" not in document or "apiVersion" not in document:
            raise ManifestError(f"error validating {source}: every document needs apiVersion and kind")
        if document["kind"].endswith("List") and isinstance(document.get("items"), list):
            objects.extend(document["items"])
        else:
            objects.append(document)
    return objects
